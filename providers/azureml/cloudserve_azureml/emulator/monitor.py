"""Azure Monitor routes of the emulator: autoscale settings and the metrics API.

Metrics are computed from the requests the emulator actually scored (plus any injected
ones), with the names and dimensions Azure Monitor uses for managed online endpoints:
``RequestsPerMinute`` (dimensions deployment, statusCode, statusCodeClass,
modelStatusCode) and ``RequestLatency_P50/P90/P95/P99`` (dimension deployment), sampled
per minute (PT1M). Source: "Supported metrics for
Microsoft.MachineLearningServices/workspaces/onlineEndpoints".
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudserve_azureml.emulator.arm import ArmRouter, EmulatedError, Reply, _json, _not_found, check_tags
from cloudserve_azureml.emulator.state import MetricPoint, system_data

_AUTOSCALE = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.Insights/autoscalesettings/(?P<name>[^/]+)"
)
_LATENCY = {
    "RequestLatency_P50": 50,
    "RequestLatency_P90": 90,
    "RequestLatency_P95": 95,
    "RequestLatency_P99": 99,
}
METRIC_NAMES = ("RequestsPerMinute", *_LATENCY)
# Each metric's dimensions, from the same supported-metrics table. Metrics List validates a
# $filter's dimensions against every requested metric unless validatedimensions=false ("When
# set to true, an error is returned for invalid filter parameters. Defaults to true.",
# Metrics - List, REST API, Microsoft.Insights 2023-10-01). The error's wording follows what
# Azure Monitor is reported to answer; its exact text is not documented, its 400 is.
_DIMENSIONS = {
    "RequestsPerMinute": {"deployment", "statusCode", "statusCodeClass", "modelStatusCode"},
    **{name: {"deployment"} for name in _LATENCY},
}
_FILTER_DIMENSION = re.compile(r"(\w+)\s+eq\s+'", re.IGNORECASE)


# Azure Monitor autoscale ScaleAction.cooldown: "the amount of time to wait since the last
# scaling action before this action occurs. It must be between 1 week and 1 minute in ISO
# 8601 format." (REST Autoscale Settings, ScaleAction).
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_COOLDOWN_MIN, _COOLDOWN_MAX = timedelta(minutes=1), timedelta(weeks=1)


def _check_cooldown(value: Any) -> None:
    match = _ISO_DURATION.match(value) if isinstance(value, str) else None
    if match is None or value in ("P", "PT"):
        raise EmulatedError(400, "InvalidRequest", f"The cooldown {value!r} is not an ISO 8601 duration.")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    span = timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )
    if not _COOLDOWN_MIN <= span <= _COOLDOWN_MAX:
        raise EmulatedError(
            400,
            "InvalidRequest",
            f"The cooldown {value!r} must be between 1 week and 1 minute in ISO 8601 format.",
        )


def register(router: ArmRouter) -> None:
    router.add("GET", _AUTOSCALE, get_autoscale)
    router.add("PUT", _AUTOSCALE, put_autoscale)
    router.add("DELETE", _AUTOSCALE, delete_autoscale)
    router.add("GET", r"(?P<resource>/subscriptions/.+)/providers/Microsoft\.Insights/metrics", metrics)


def get_autoscale(r: ArmRouter, path: str, q: Any, b: dict[str, Any], m: re.Match[str]) -> Reply:
    found = r.state.get(path)
    if found is None:
        raise _not_found("Autoscale setting", m["name"])
    return _json(200, found)


def put_autoscale(r: ArmRouter, path: str, q: Any, b: dict[str, Any], m: re.Match[str]) -> Reply:
    check_tags(b.get("tags"))
    props = dict(b.get("properties") or {})
    target = props.get("targetResourceUri") or ""
    if r.state.get(target) is None:
        raise EmulatedError(400, "TargetResourceNotFound", f"The target resource {target!r} was not found.")
    profiles = props.get("profiles") or []
    if not profiles:
        raise EmulatedError(400, "InvalidRequest", "An autoscale setting needs at least one profile.")
    for profile in profiles:
        cap = profile.get("capacity") or {}
        lo, default, hi = (int(cap.get(k, -1)) for k in ("minimum", "default", "maximum"))
        if not (0 <= lo <= default <= hi):
            raise EmulatedError(
                400,
                "InvalidRequest",
                f"Profile {profile.get('name')!r}: capacity must satisfy minimum <= default <= maximum "
                f"(got {lo}, {default}, {hi}).",
            )
        for rule in profile.get("rules") or []:
            _check_cooldown((rule.get("scaleAction") or {}).get("cooldown"))
    props.setdefault("enabled", True)
    props.setdefault("name", m["name"])
    old = r.state.get(path)
    resource = {
        "id": path,
        "name": m["name"],
        "type": "Microsoft.Insights/autoscaleSettings",
        "location": b.get("location") or r.state.location,
        "tags": b.get("tags") or {},
        "properties": props,
        "systemData": system_data(old.get("systemData") if old else None),
    }
    r.state.put(path, resource)
    return _json(201 if old is None else 200, resource)


def delete_autoscale(r: ArmRouter, path: str, q: Any, b: dict[str, Any], m: re.Match[str]) -> Reply:
    if r.state.get(path) is None:
        return _json(204, None)
    r.state.delete_tree(path)
    return _json(200, None)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _interval_seconds(text: str) -> float:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text or "PT1M")
    if not match:
        raise EmulatedError(400, "BadRequest", f"interval {text!r} is not an ISO 8601 duration.")
    h, mi, s = match.groups()
    return int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0) or 60.0


def _check_filter_dimensions(names: list[str], q: dict[str, list[str]]) -> None:
    if (q.get("validatedimensions") or ["true"])[0].lower() == "false":
        return
    asked = set(_FILTER_DIMENSION.findall((q.get("$filter") or [""])[0]))
    for name in names:
        missing = sorted(d for d in asked if d.lower() not in {x.lower() for x in _DIMENSIONS[name]})
        if missing:
            raise EmulatedError(
                400,
                "BadRequest",
                f"Metric: {name} does not support requested dimension combination: "
                f"{', '.join(sorted(asked))}, supported ones are: {', '.join(sorted(_DIMENSIONS[name]))}, "
                "please check metadata api for more information.",
            )


def metrics(r: ArmRouter, path: str, q: dict[str, list[str]], b: Any, m: re.Match[str]) -> Reply:
    resource = m["resource"]
    ep_match = re.search(r"/onlineEndpoints/([^/]+)$", resource, re.IGNORECASE)
    if not ep_match or r.state.get(resource) is None:
        raise _not_found("Resource", resource)
    endpoint = ep_match.group(1)
    names = (q.get("metricnames") or ["RequestsPerMinute"])[0].split(",")
    unknown = [n for n in names if n not in METRIC_NAMES]
    if unknown:
        raise EmulatedError(400, "BadRequest", f"Failed to find metric configuration for {unknown[0]!r}.")
    _check_filter_dimensions(names, q)
    span = (q.get("timespan") or [""])[0]
    end = datetime.now(UTC)
    start = end - timedelta(hours=1)
    if "/" in span:
        start, end = (_parse_time(p) for p in span.split("/", 1))
    step = _interval_seconds((q.get("interval") or ["PT1M"])[0])
    points = [
        p
        for p in r.state.metric_points
        if p.endpoint.lower() == endpoint.lower() and start.timestamp() <= p.at <= end.timestamp()
    ]
    split_status = "statusCodeClass" in (q.get("$filter") or [""])[0]
    value = [_metric(resource, n, points, start, step, split_status) for n in names]
    return _json(
        200,
        {
            "cost": 0,
            "timespan": f"{start.isoformat()}/{end.isoformat()}",
            "interval": (q.get("interval") or ["PT1M"])[0],
            "value": value,
            "namespace": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "resourceregion": r.state.location,
        },
    )


def _metric(
    resource: str, name: str, points: list[MetricPoint], start: datetime, step: float, split_status: bool
) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[MetricPoint]] = {}
    for p in points:
        cls = f"{p.status_code // 100}xx" if name == "RequestsPerMinute" and split_status else ""
        groups.setdefault((p.deployment, cls), []).append(p)
    series = []
    for (deployment, cls), pts in sorted(groups.items()):
        meta = [{"name": {"value": "deployment", "localizedValue": "deployment"}, "value": deployment}]
        if cls:
            meta.append(
                {"name": {"value": "statusCodeClass", "localizedValue": "statusCodeClass"}, "value": cls}
            )
        buckets: dict[int, list[MetricPoint]] = {}
        for p in pts:
            buckets.setdefault(int((p.at - start.timestamp()) // step), []).append(p)
        data = []
        for idx, bucket in sorted(buckets.items()):
            stamp = (start + timedelta(seconds=idx * step)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if name == "RequestsPerMinute":
                val = len(bucket) * 60.0 / step  # the per-minute rate, averaged over the grain
            else:
                val = _percentile([p.latency_ms for p in bucket], _LATENCY[name])
            data.append({"timeStamp": stamp, "average": val})
        series.append({"metadatavalues": meta, "data": data})
    unit = "Count" if name == "RequestsPerMinute" else "MilliSeconds"
    return {
        "id": f"{resource}/providers/Microsoft.Insights/metrics/{name}",
        "type": "Microsoft.Insights/metrics",
        "name": {"value": name, "localizedValue": name},
        "unit": unit,
        "timeseries": series,
        "errorCode": "Success",
    }


def _percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]
