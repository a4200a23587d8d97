"""Prometheus metrics in a registry of the app's own (so apps in one process, as in tests, never clash).

With several workers, set `PROMETHEUS_MULTIPROC_DIR` to an empty folder before they start (`contactlens serve
--workers N` does): every worker then writes its values there and `/metrics`, whichever worker answers, sums
the counters and histograms of all of them; `contactlens_model_info` and the process gauges are listed per
worker (label `pid`), so a worker still serving an old model shows.

Request latency is recorded by a plain ASGI middleware (no BaseHTTPMiddleware: it would cost every request).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

BANDS = ((0.9, "0.9-1.0"), (0.8, "0.8-0.9"), (0.5, "0.5-0.8"), (0.0, "0.0-0.5"))
_BUCKETS = (0.002, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# The standard process metrics, mirrored per worker in multiprocess mode (ProcessCollector sees one process).
_PROCESS = (
    "resident_memory_bytes",
    "virtual_memory_bytes",
    "cpu_seconds_total",
    "open_fds",
    "start_time_seconds",
)


def band(confidence: float) -> str:
    """The confidence band a top suggestion falls in."""
    return next(name for low, name in BANDS if confidence >= low)


def multiprocess_dir() -> str | None:
    """The folder shared by the workers' metric files, or None in single-process mode."""
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The service's metrics, registered in their own CollectorRegistry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = multiprocess_dir() is not None
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
            "contactlens_review_queue_depth",
            "Review items waiting for a decision",
            registry=self.registry,
            multiprocess_mode="livemostrecent",  # one database, counted by whichever worker was scraped
        )
        self.reloads = Counter(
            "contactlens_model_reloads", "Model reload attempts", ["outcome"], registry=self.registry
        )
        self.db_errors = Counter(
            "contactlens_database_errors",
            "Requests refused because the database failed",
            registry=self.registry,
        )
        self.model_info = Gauge(
            "contactlens_model_info",
            "The model served (1) and the ones served before in this process (0)",
            ["version", "taxonomy_version"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self._served: tuple[str, str] | None = None
        self._process: dict[str, Gauge] = {}
        if self.multiprocess:
            for name in _PROCESS:
                self._process[name] = Gauge(
                    f"contactlens_worker_{name}",
                    f"process_{name} of each worker",
                    registry=self.registry,
                    multiprocess_mode="liveall",
                )
        else:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)

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

    def serving(self, version: str, taxonomy_version: str) -> None:
        """Record the model now served (at start-up and after each reload)."""
        if self._served is not None:
            # Set to 0 rather than removed: in multiprocess mode a removed label would linger in the files.
            self.model_info.labels(*self._served).set(0)
        self._served = (version, taxonomy_version)
        self.model_info.labels(version, taxonomy_version).set(1)

    def refresh_process(self) -> None:
        """Copy this worker's process metrics into its gauges (multiprocess mode only)."""
        for family in ProcessCollector(registry=None).collect():
            for sample in family.samples:
                gauge = self._process.get(sample.name.removeprefix("process_"))
                if gauge is not None:
                    gauge.set(sample.value)

    def render(self) -> bytes:
        """The exposition text: this process's registry, or every worker's values summed."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        self.refresh_process()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    async def refresh_every(self, seconds: float) -> None:
        """Keep this worker's process gauges current, so a scrape answered by another worker sees them."""
        while True:
            self.refresh_process()
            await asyncio.sleep(seconds)

    def close(self) -> None:
        """At a worker's exit: drop its live gauges from the shared folder."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())


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
