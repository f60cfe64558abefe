"""The emulator's table of what Cloud Monitoring holds for Vertex AI endpoints, and the
checks ``projects.timeSeries.list`` applies to a query.

Written from Google's documentation, apart from the adapter's queries (metrics.py), so a
wrong metric type, label or aligner in the adapter fails here instead of agreeing with
itself. Sources:

- "Google Cloud metrics: A to B", section aiplatform (metric types under
  ``aiplatform.googleapis.com/prediction/online/``, their kind, value type and labels);
- the monitored resource ``aiplatform.googleapis.com/Endpoint`` (labels resource_container,
  location, endpoint_id), as the service's own descriptor lists it;
- Cloud Monitoring REST ``Aggregation``: a crossSeriesReducer needs a perSeriesAligner
  other than ALIGN_NONE and an alignmentPeriod; ALIGN_DELTA and ALIGN_RATE apply to DELTA
  and CUMULATIVE metrics only; ``aggregation.groupByFields`` is a repeated parameter (one
  field per occurrence).

Real Cloud Monitoring answers an unknown metric type, or one not on the resource type the
filter names, with 400 "The supplied filter does not specify a valid combination of metric
and monitored resource descriptors. The query will not return any time series." The
answer to a label the metric does not have is not documented; the emulator refuses it with
400 INVALID_ARGUMENT rather than return nothing, so the mistake fails a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cloudserve_vertex.emulator.rules import invalid

RESOURCE_TYPE = "aiplatform.googleapis.com/Endpoint"
RESOURCE_LABELS = frozenset({"resource_container", "location", "endpoint_id"})
NO_SUCH_COMBINATION = (
    "The supplied filter does not specify a valid combination of metric and monitored resource "
    "descriptors. The query will not return any time series."
)


@dataclass(frozen=True)
class MetricDescriptor:
    kind: str  # DELTA, GAUGE or CUMULATIVE
    value_type: str  # INT64, DOUBLE, DISTRIBUTION
    labels: frozenset[str]


_ONLINE = "aiplatform.googleapis.com/prediction/online/"
_PER_MODEL = frozenset({"deployed_model_id"})
_PER_REPLICA = frozenset({"deployed_model_id", "replica_id"})
METRICS: dict[str, MetricDescriptor] = {
    _ONLINE + "prediction_count": MetricDescriptor("DELTA", "INT64", _PER_MODEL),
    _ONLINE + "error_count": MetricDescriptor("DELTA", "INT64", _PER_MODEL),
    _ONLINE + "response_count": MetricDescriptor("DELTA", "INT64", _PER_MODEL | {"response_code"}),
    _ONLINE + "prediction_latencies": MetricDescriptor(
        "DELTA", "DISTRIBUTION", _PER_MODEL | {"latency_type"}
    ),
    _ONLINE + "replicas": MetricDescriptor("GAUGE", "INT64", _PER_MODEL),
    _ONLINE + "target_replicas": MetricDescriptor("GAUGE", "INT64", _PER_MODEL),
    _ONLINE + "cpu/utilization": MetricDescriptor("GAUGE", "DOUBLE", _PER_REPLICA),
    _ONLINE + "memory/bytes_used": MetricDescriptor("GAUGE", "INT64", _PER_REPLICA),
    _ONLINE + "accelerator/duty_cycle": MetricDescriptor("GAUGE", "DOUBLE", _PER_REPLICA),
}

_DELTA_ALIGNERS = frozenset({"ALIGN_DELTA", "ALIGN_RATE"})
_TERM = re.compile(r'(?P<key>[a-z_.]+)\s*=\s*"(?P<value>[^"]*)"')
_FIELD = re.compile(r"^(?P<side>metric|resource)\.labels?\.(?P<label>[a-z_][a-z0-9_]*)$")


def check_query(query: dict[str, list[str]]) -> MetricDescriptor:
    """The descriptor of the metric a timeSeries.list query reads, or RuleError (400)."""
    terms = {m["key"]: m["value"] for m in _TERM.finditer(" ".join(query.get("filter", [])))}
    metric_type = terms.get("metric.type")
    if not metric_type:
        raise invalid('filter must specify a metric type (metric.type = "...").')
    descriptor = METRICS.get(metric_type)
    if descriptor is None or terms.get("resource.type", RESOURCE_TYPE) != RESOURCE_TYPE:
        raise invalid(NO_SUCH_COMBINATION)
    named = [k for k in terms if k not in ("metric.type", "resource.type")]
    for field in named + query.get("aggregation.groupByFields", []):
        _check_label(field.strip(), metric_type, descriptor)
    _check_aggregation(query, descriptor)
    return descriptor


def _check_label(field: str, metric_type: str, descriptor: MetricDescriptor) -> None:
    match = _FIELD.match(field)
    if match is None:
        raise invalid(f"Field {field} is not a metric or resource label (use metric.label.<name>).")
    known = descriptor.labels if match["side"] == "metric" else RESOURCE_LABELS
    if match["label"] not in known:
        owner = metric_type if match["side"] == "metric" else RESOURCE_TYPE
        raise invalid(
            f"Label {match['label']} is not defined for {owner}; it has {', '.join(sorted(known))}."
        )


def _check_aggregation(query: dict[str, list[str]], descriptor: MetricDescriptor) -> None:
    aligner = (query.get("aggregation.perSeriesAligner") or ["ALIGN_NONE"])[-1]
    reducer = (query.get("aggregation.crossSeriesReducer") or ["REDUCE_NONE"])[-1]
    if reducer != "REDUCE_NONE" and (aligner == "ALIGN_NONE" or "aggregation.alignmentPeriod" not in query):
        raise invalid(
            "A crossSeriesReducer requires a perSeriesAligner other than ALIGN_NONE and an alignmentPeriod."
        )
    if aligner in _DELTA_ALIGNERS and descriptor.kind == "GAUGE":
        raise invalid(f"The aligner {aligner} cannot be applied to metrics with kind GAUGE.")
