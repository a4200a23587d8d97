"""Prometheus metrics in a registry of the app's own (so apps in one process, as in tests, never clash).

Request latency is recorded by a plain ASGI middleware (no BaseHTTPMiddleware: it would cost every request).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BANDS = ((0.9, "0.9-1.0"), (0.8, "0.8-0.9"), (0.5, "0.5-0.8"), (0.0, "0.0-0.5"))
_BUCKETS = (0.002, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


def band(confidence: float) -> str:
    """The confidence band a top suggestion falls in."""
    return next(name for low, name in BANDS if confidence >= low)


class Metrics:
    """The service's metrics, registered in their own CollectorRegistry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "contactlens_request_seconds",
            "Request latency by route",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.suggestions = Counter(
            "contactlens_suggestions",
            "Suggestions served, by the confidence band of the top suggestion",
            ["band", "needs_review"],
            registry=self.registry,
        )
        self.review_queue = Gauge(
            "contactlens_review_queue_depth", "Review items waiting for a decision", registry=self.registry
        )
        self.reloads = Counter(
            "contactlens_model_reloads", "Model reload attempts", ["outcome"], registry=self.registry
        )
        self.db_errors = Counter(
            "contactlens_database_errors",
            "Requests refused because the database failed",
            registry=self.registry,
        )

        self.suggestion_log_dropped = Counter(
            "contactlens_suggestion_log_dropped",
            "Suggestion logs not stored: the write-behind queue was full or the database failed",
            registry=self.registry,
        )
        self.suggest_batch = Histogram(
            "contactlens_suggest_batch_size",
            "/v1/suggest calls answered by one model call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )

    def observe_suggestion(self, top_confidence: float, needs_review: bool) -> None:
        self.suggestions.labels(band(top_confidence), str(needs_review).lower()).inc()


class LatencyMiddleware:
    """Times every HTTP request and labels it with the route template (not the raw path: bounded labels)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(scope["method"], path, str(status[0])).observe(
                time.perf_counter() - started
            )
