"""Neutral metrics from Cloud Monitoring's Vertex AI prediction metrics.

Three ``projects.timeSeries.list`` calls per read: prediction_count, error_count and the
prediction_latencies distribution, each summed per deployed model. Percentiles come from
the distribution's buckets (linear within a bucket), so one call gives both p50 and p99.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from cloudserve.provider import VersionMetrics

PREFIX = "aiplatform.googleapis.com/prediction/online/"
RESOURCE_TYPE = "aiplatform.googleapis.com/Endpoint"
COUNT, ERRORS, LATENCY = "prediction_count", "error_count", "prediction_latencies"


def query(
    endpoint_id: str, metric: str, window_seconds: float, now: float | None = None
) -> dict[str, str | list[str]]:
    end = float(math.ceil(now if now is not None else time.time()))  # whole seconds: include this one
    start = end - window_seconds
    group = ["metric.label.deployed_model_id"] + (["metric.label.latency_type"] if metric == LATENCY else [])
    return {
        "filter": (
            f'metric.type="{PREFIX}{metric}" AND resource.type="{RESOURCE_TYPE}"'
            f' AND resource.labels.endpoint_id="{endpoint_id}"'
        ),
        "interval.startTime": _iso(start),
        "interval.endTime": _iso(end),
        "aggregation.alignmentPeriod": f"{max(60, math.ceil(window_seconds))}s",
        "aggregation.perSeriesAligner": "ALIGN_DELTA",
        "aggregation.crossSeriesReducer": "REDUCE_SUM",
        # A repeated parameter: one field per occurrence (a comma-joined value would be read
        # as one field name).
        "aggregation.groupByFields": group,
    }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def counts(series: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in series:
        dm = s.get("metric", {}).get("labels", {}).get("deployed_model_id", "")
        for point in s.get("points", []):
            value = point.get("value", {})
            out[dm] = out.get(dm, 0.0) + float(value.get("int64Value", value.get("doubleValue", 0)))
    return out


def latencies(series: list[dict[str, Any]]) -> dict[str, tuple[float | None, float | None]]:
    """(p50, p99) in ms per deployed model. When the series carry a latency_type label,
    the "total" one is used, so model and overhead time are not counted twice."""
    types = {s.get("metric", {}).get("labels", {}).get("latency_type") for s in series}
    if "total" in types:
        series = [s for s in series if s.get("metric", {}).get("labels", {}).get("latency_type") == "total"]
    merged: dict[str, tuple[dict[str, Any], list[float]]] = {}
    for s in series:
        dm = s.get("metric", {}).get("labels", {}).get("deployed_model_id", "")
        for point in s.get("points", []):
            dist = point.get("value", {}).get("distributionValue")
            if not dist:
                continue
            counts_ = [float(c) for c in dist.get("bucketCounts", [])]
            options, acc = merged.get(dm, (dist.get("bucketOptions", {}), []))
            acc = [a + b for a, b in zip(_pad(acc, len(counts_)), _pad(counts_, len(acc)), strict=True)]
            merged[dm] = (options, acc)
    return {
        dm: (percentile(opts, acc, 0.5), percentile(opts, acc, 0.99)) for dm, (opts, acc) in merged.items()
    }


def _pad(values: list[float], n: int) -> list[float]:
    return values + [0.0] * (n - len(values)) if len(values) < n else values


def bounds(options: dict[str, Any], n: int) -> list[float]:
    """Upper bound of each bucket (the overflow bucket's is infinite)."""
    if "exponentialBuckets" in options:
        b = options["exponentialBuckets"]
        g, scale = float(b["growthFactor"]), float(b["scale"])
        return [scale * g**i for i in range(n - 1)] + [math.inf]
    if "linearBuckets" in options:
        b = options["linearBuckets"]
        width, offset = float(b["width"]), float(b.get("offset", 0))
        return [offset + width * i for i in range(n - 1)] + [math.inf]
    explicit = [float(x) for x in options.get("explicitBuckets", {}).get("bounds", [])]
    return [*explicit, math.inf][:n] if explicit else [math.inf] * n


def percentile(options: dict[str, Any], bucket_counts: list[float], q: float) -> float | None:
    total = sum(bucket_counts)
    if not total:
        return None
    upper = bounds(options, len(bucket_counts))
    rank, seen = q * total, 0.0
    for i, c in enumerate(bucket_counts):
        if c and seen + c >= rank:
            lo = upper[i - 1] if i > 0 else 0.0
            hi = upper[i] if math.isfinite(upper[i]) else lo
            return lo + (hi - lo) * (rank - seen) / c
        seen += c
    return upper[-2] if len(upper) > 1 else None


def combine(
    requests: dict[str, float],
    errors: dict[str, float],
    latency: dict[str, tuple[float | None, float | None]],
    ids: dict[str, str],
    versions: list[str],
) -> dict[str, VersionMetrics]:
    """Per version name (``ids`` maps version -> deployed model id)."""
    out = {}
    for version in versions:
        dm = ids.get(version)
        p50, p99 = latency.get(dm, (None, None)) if dm else (None, None)
        out[version] = VersionMetrics(
            requests=requests.get(dm, 0.0) if dm else 0.0,
            errors=errors.get(dm, 0.0) if dm else 0.0,
            latency_p50_ms=p50,
            latency_p99_ms=p99,
        )
    return out
