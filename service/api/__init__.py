"""The HTTP API, one router per area; `service.app` includes them all."""
