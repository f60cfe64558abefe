"""Per-version request metrics: Prometheus series for scrapers and a windowed view for gates.

Prometheus counters are cumulative, which is what scrapers want but not what a rollout
gate asks ("error rate over the last 5 minutes"). So each version also keeps per-second
buckets for up to an hour: request, server-error (5xx) and client-error (4xx) counts plus
a log-spaced latency histogram (10% wide buckets, percentiles reported at the bucket's
geometric middle, so within ~5%).
Recording is a few list operations on the event loop thread; nothing is locked because
only that thread writes.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from typing import Any

HORIZON_S = 3600
_RATIO = 1.1
_MIN_MS = 0.01
# Upper bounds from 0.01 ms to ~100 s.
BOUNDS_MS: list[float] = [_MIN_MS * _RATIO**i for i in range(170)]
_N = len(BOUNDS_MS) + 1


class _Second:
    __slots__ = ("client_errors", "counts", "errors", "requests", "second")

    def __init__(self, second: int) -> None:
        self.second = second
        self.requests = 0
        self.errors = 0
        self.client_errors = 0
        self.counts = [0] * _N


class WindowedStats:
    """Requests, errors and latency percentiles over the last N seconds (N <= 1 h)."""

    def __init__(self, horizon_s: int = HORIZON_S) -> None:
        self._horizon = horizon_s
        self._seconds: deque[_Second] = deque()

    def record(
        self, latency_ms: float, error: bool, now: float | None = None, client_error: bool = False
    ) -> None:
        second = int(time.time() if now is None else now)
        seconds = self._seconds
        if not seconds or seconds[-1].second != second:
            seconds.append(_Second(second))
            while seconds[0].second <= second - self._horizon:
                seconds.popleft()
        bucket = seconds[-1]
        bucket.requests += 1
        if error:
            bucket.errors += 1
        elif client_error:
            bucket.client_errors += 1
        bucket.counts[bisect.bisect_left(BOUNDS_MS, latency_ms)] += 1

    def summary(self, window_s: float, now: float | None = None) -> dict[str, Any]:
        current = int(time.time() if now is None else now)
        first = current - min(math.ceil(window_s), self._horizon) + 1
        requests = errors = client_errors = 0
        counts = [0] * _N
        for bucket in reversed(self._seconds):
            if bucket.second < first:
                break
            if bucket.second > current:
                continue
            requests += bucket.requests
            errors += bucket.errors
            client_errors += bucket.client_errors
            counts = [a + b for a, b in zip(counts, bucket.counts, strict=True)]
        return {
            "requests": requests,
            "errors": errors,
            "client_errors": client_errors,
            "latency_p50_ms": _percentile(counts, requests, 0.50),
            "latency_p99_ms": _percentile(counts, requests, 0.99),
        }


def _percentile(counts: list[int], total: int, q: float) -> float | None:
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank and count:
            return round(_middle(index), 3)
    return round(_middle(_N - 1), 3)


def _middle(index: int) -> float:
    if index == 0:
        return BOUNDS_MS[0]
    if index >= len(BOUNDS_MS):
        return BOUNDS_MS[-1]
    return math.sqrt(BOUNDS_MS[index - 1] * BOUNDS_MS[index])


class PrometheusMetrics:
    """One registry per server, so several servers can live in one test process."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cloudserve_requests",
            "Prediction requests per version.",
            ["version"],
            registry=self.registry,
        )
        self.errors = Counter(
            "cloudserve_errors",
            "Prediction requests per version the server failed (5xx answers).",
            ["version"],
            registry=self.registry,
        )
        self.client_errors = Counter(
            "cloudserve_client_errors",
            "Prediction requests per version refused as malformed (4xx answers).",
            ["version"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cloudserve_request_latency_seconds",
            "Model latency per version (seconds).",
            ["version"],
            registry=self.registry,
            buckets=(
                0.0005,
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
            ),
        )

    def render(self) -> bytes:
        import os

        from prometheus_client import CollectorRegistry, generate_latest

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Forked workers each write their own files; a scrape sums them all.
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))


class VersionStats:
    """Everything recorded for one version, with the label children bound once."""

    __slots__ = ("_client_errors", "_errors", "_latency", "_requests", "window")

    def __init__(self, prom: PrometheusMetrics, version: str) -> None:
        self.window = WindowedStats()
        self._requests = prom.requests.labels(version=version)
        self._errors = prom.errors.labels(version=version)
        self._client_errors = prom.client_errors.labels(version=version)
        self._latency = prom.latency.labels(version=version)

    def record(self, seconds: float, error: bool, client_error: bool = False) -> None:
        """``error``: the server failed (5xx); ``client_error``: the request was refused (4xx)."""
        self._requests.inc()
        if error:
            self._errors.inc()
        elif client_error:
            self._client_errors.inc()
        self._latency.observe(seconds)
        self.window.record(seconds * 1000.0, error, client_error=client_error)
