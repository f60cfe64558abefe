"""Neutral per-version metrics from CloudWatch's per-variant SageMaker endpoint metrics.

One GetMetricData call answers every version: Invocations, Invocation4XXErrors and
Invocation5XXErrors (Sum) and ModelLatency p50/p99. SageMaker reports ModelLatency in
microseconds; neutral latency is milliseconds. Neutral errors are Invocation5XXErrors
(the model or container failed); Invocation4XXErrors are client_errors, counted apart so
that malformed traffic cannot fail a healthy canary (a gate on client_error_rate catches
a canary that rejects what its predecessor accepted).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudserve.provider import VersionMetrics
from cloudserve_sagemaker.client import AwsClients
from cloudserve_sagemaker.translate import INVOCATION_NAMESPACE

_QUERIES = (
    ("inv", "Invocations", "Sum"),
    ("e4", "Invocation4XXErrors", "Sum"),
    ("e5", "Invocation5XXErrors", "Sum"),
    ("p50", "ModelLatency", "p50"),
    ("p99", "ModelLatency", "p99"),
)


def _query_id(kind: str, index: int) -> str:
    # Ids must start with a lowercase letter and hold only letters, digits and '_'.
    return f"{kind}_{index}"


def metric_queries(endpoint: str, versions: list[str], period: int) -> list[dict[str, Any]]:
    queries = []
    for index, version in enumerate(versions):
        for kind, metric, stat in _QUERIES:
            queries.append(
                {
                    "Id": _query_id(kind, index),
                    "MetricStat": {
                        "Metric": {
                            "Namespace": INVOCATION_NAMESPACE,
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": version},
                            ],
                        },
                        "Period": period,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
            )
    return queries


def read_metrics(
    aws: AwsClients, endpoint: str, versions: list[str], window_seconds: float
) -> dict[str, VersionMetrics]:
    if not versions:
        return {}
    period = max(60, math.ceil(window_seconds / 60.0) * 60)
    # End on the next whole minute: CloudWatch aligns periods to minutes, and the
    # datapoints of the current minute would otherwise fall outside the window.
    end = (datetime.now(UTC) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    start = end - timedelta(seconds=max(window_seconds, 60.0))
    values: dict[str, list[float]] = {}
    queries = metric_queries(endpoint, versions, period)
    for chunk in range(0, len(queries), 500):  # GetMetricData takes up to 500 queries
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "MetricDataQueries": queries[chunk : chunk + 500],
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampDescending",
            }
            if token:
                params["NextToken"] = token
            result = aws.call("cloudwatch", "get_metric_data", **params)
            for series in result.get("MetricDataResults", []):
                values.setdefault(series["Id"], []).extend(float(v) for v in series.get("Values", []))
            token = result.get("NextToken")
            if not token:
                break
    return {version: _version_metrics(values, index) for index, version in enumerate(versions)}


def _version_metrics(values: dict[str, list[float]], index: int) -> VersionMetrics:
    def total(kind: str) -> float:
        return sum(values.get(_query_id(kind, index), []))

    def worst_ms(kind: str) -> float | None:
        seen = values.get(_query_id(kind, index), [])
        return max(seen) / 1000.0 if seen else None  # microseconds -> ms; worst period

    return VersionMetrics(
        requests=total("inv"),
        errors=total("e5"),
        client_errors=total("e4"),
        latency_p50_ms=worst_ms("p50"),
        latency_p99_ms=worst_ms("p99"),
    )
