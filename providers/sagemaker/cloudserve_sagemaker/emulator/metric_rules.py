"""The emulator's table of what CloudWatch publishes for SageMaker endpoints.

Written from the AWS documentation, apart from the adapter's own queries (metrics.py,
native.py, translate.py), so a wrong metric name, dimension set or statistic in the adapter
fails here instead of agreeing with itself. Real CloudWatch does not refuse such a query:
GetMetricData answers with no datapoints and an alarm or scaling policy sits in
INSUFFICIENT_DATA, so a canary gate would judge zero requests. The emulator answers 400
``InvalidParameterValue`` instead, so the mistake fails a test.

Sources:
- "Amazon SageMaker AI metrics in Amazon CloudWatch", endpoint invocation metrics
  (namespace AWS/SageMaker; dimensions EndpointName, VariantName; valid statistics per
  metric) and endpoint instance metrics (namespace /aws/sagemaker/Endpoints).
- "Auto-Rollback Configuration and Monitoring", alarm example "Monitor model latency on the
  new fleet": the invocation metrics also carry EndpointConfigName during a blue/green
  deployment.
- "CloudWatch statistics definitions": percentiles (pNN, pNN.N) apply to metrics published
  as raw values, as the latency metrics are.
"""

from __future__ import annotations

import re
from typing import Any

_VARIANT = frozenset({"EndpointName", "VariantName"})
_NEW_FLEET = frozenset({"EndpointName", "VariantName", "EndpointConfigName"})
_BASIC = frozenset({"Average", "Sum", "Minimum", "Maximum", "SampleCount"})
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?|100)$")

# namespace -> metric -> (dimension sets, statistics; "pNN" allows percentiles)
PUBLISHED: dict[str, dict[str, tuple[frozenset[frozenset[str]], frozenset[str]]]] = {
    "AWS/SageMaker": {
        "Invocations": (frozenset({_VARIANT, _NEW_FLEET}), frozenset({"Sum", "SampleCount"})),
        "InvocationsPerInstance": (frozenset({_VARIANT}), frozenset({"Sum"})),
        "Invocation4XXErrors": (frozenset({_VARIANT, _NEW_FLEET}), frozenset({"Average", "Sum"})),
        "Invocation5XXErrors": (frozenset({_VARIANT, _NEW_FLEET}), frozenset({"Average", "Sum"})),
        "InvocationModelErrors": (frozenset({_VARIANT}), frozenset({"Sum"})),
        "ModelLatency": (frozenset({_VARIANT, _NEW_FLEET}), _BASIC | {"pNN"}),
        "OverheadLatency": (frozenset({_VARIANT, _NEW_FLEET}), _BASIC | {"pNN"}),
        "ModelSetupTime": (frozenset({_VARIANT}), _BASIC),  # serverless cold starts
    },
    "/aws/sagemaker/Endpoints": {
        name: (frozenset({_VARIANT}), _BASIC)
        for name in (
            "CPUUtilization",
            "MemoryUtilization",
            "DiskUtilization",
            "GPUUtilization",
            "GPUMemoryUtilization",
        )
    },
}


def metric_problem(metric: dict[str, Any], statistic: str | None, where: str) -> str | None:
    """Why CloudWatch would hold no data for this metric and statistic, or None."""
    namespace = metric.get("Namespace", "")
    if namespace not in PUBLISHED:
        return None  # not SageMaker's: outside this table
    name = metric.get("MetricName", "")
    published = PUBLISHED[namespace].get(name)
    if published is None:
        return f"{where}: SageMaker publishes no metric {name!r} in namespace {namespace}"
    dimension_sets, statistics = published
    dims = frozenset(d.get("Name", "") for d in metric.get("Dimensions") or [])
    if dims not in dimension_sets:
        shown = " or ".join("{" + ", ".join(sorted(s)) + "}" for s in sorted(dimension_sets, key=len))
        return f"{where}: {namespace} {name} has dimensions {shown}, not {{{', '.join(sorted(dims))}}}"
    if statistic is not None and not _statistic_allowed(statistic, statistics):
        return f"{where}: {name}'s valid statistics are {', '.join(sorted(statistics))}, not {statistic}"
    return None


def _statistic_allowed(statistic: str, allowed: frozenset[str]) -> bool:
    return statistic in allowed or ("pNN" in allowed and bool(_PERCENTILE.match(statistic)))


def query_problems(queries: list[dict[str, Any]], member: str) -> list[str]:
    """Each MetricStat in GetMetricData's MetricDataQueries or PutMetricAlarm's Metrics."""
    problems = []
    for index, query in enumerate(queries, start=1):
        stat = query.get("MetricStat")
        if stat:
            where = f"{member}.member.{index}.MetricStat"
            problem = metric_problem(stat.get("Metric") or {}, stat.get("Stat"), where)
            if problem:
                problems.append(problem)
    return problems


def alarm_problems(params: dict[str, Any]) -> list[str]:
    problems = query_problems(params.get("Metrics") or [], "Metrics")
    if params.get("MetricName"):
        metric = {k: params.get(k) for k in ("Namespace", "MetricName", "Dimensions")}
        problem = metric_problem(metric, params.get("Statistic") or params.get("ExtendedStatistic"), "alarm")
        if problem:
            problems.append(problem)
    return problems


def scaling_policy_problems(params: dict[str, Any]) -> list[str]:
    """A target-tracking policy's CustomizedMetricSpecification names a published metric."""
    config = params.get("TargetTrackingScalingPolicyConfiguration") or {}
    custom = config.get("CustomizedMetricSpecification")
    if not custom:
        return []
    where = "TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification"
    problem = metric_problem(custom, custom.get("Statistic"), where)
    return [problem] if problem else []
