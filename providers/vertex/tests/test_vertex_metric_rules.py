"""Issue 13 item 4: the Vertex adapter's metric reads use only what Cloud Monitoring holds.

The emulator's table (``emulator.metrics``) is written from Google's metric list apart
from the adapter's queries (metrics.py); each case sends a raw timeSeries.list the adapter
could get wrong and shows the emulator refusing it, and the adapter's own queries pass."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from cloudserve_vertex import metrics
from cloudserve_vertex.testing import VertexEmulator

from .conftest import PROJECT

COUNT = 'metric.type="aiplatform.googleapis.com/prediction/online/prediction_count"'


def _list(emulator: VertexEmulator, **params: Any) -> requests.Response:
    params.setdefault("interval.endTime", "2026-12-04T00:00:00Z")
    return requests.get(f"{emulator.url}/v3/projects/{PROJECT}/timeSeries", params=params, timeout=10)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        (
            {"filter": 'metric.type="aiplatform.googleapis.com/prediction/online/predictions"'},
            "valid combination",
        ),
        ({"filter": COUNT + ' AND resource.type="aiplatform.googleapis.com/Model"'}, "valid combination"),
        ({"filter": COUNT + ' AND resource.labels.endpoint="e"'}, "Label endpoint is not defined"),
        (
            {"filter": COUNT, "aggregation.groupByFields": "metric.label.deployed_model_id,metric.label.x"},
            "Field metric.label.deployed_model_id,metric.label.x is not a metric or resource label",
        ),
        ({"filter": COUNT, "aggregation.crossSeriesReducer": "REDUCE_SUM"}, "requires a perSeriesAligner"),
        (
            {
                "filter": 'metric.type="aiplatform.googleapis.com/prediction/online/replicas"',
                "aggregation.alignmentPeriod": "60s",
                "aggregation.perSeriesAligner": "ALIGN_DELTA",
            },
            "cannot be applied to metrics with kind GAUGE",
        ),
    ],
)
def test_time_series_list_refuses_what_cloud_monitoring_does_not_hold(
    emulator: VertexEmulator, params: dict[str, str], says: str, wire_check: Any
) -> None:
    reply = _list(emulator, **params)
    wire_check.take()  # the discovery check may also object to a deliberately odd query
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and says in error["message"], error


@pytest.mark.parametrize("metric", [metrics.COUNT, metrics.ERRORS, metrics.LATENCY])
def test_the_adapters_queries_pass(emulator: VertexEmulator, metric: str) -> None:
    params = metrics.query("1234", metric, 600, now=1_800_000_000)
    reply = _list(emulator, **params)
    assert reply.status_code == 200, reply.text
    assert isinstance(params["aggregation.groupByFields"], list)  # repeated, one field each
