"""Monitor schedules in the Azure ML emulator (``workspaces/schedules``, REST 2024-04-01).

A schedule is a proxy resource whose action is ``CreateMonitor``: a MonitorDefinition with a
serverless Spark compute, a monitoring target (an online deployment), signals and alert
settings, run on a recurrence or cron trigger. The rules enforced here are the REST API's:
the schedule name pattern, trigger frequencies and intervals, the data-drift metrics allowed
per feature type, thresholds that are numbers >= 0, production and reference data that name
existing data assets, a target deployment that exists, serverless Spark instance types and
runtime versions, e-mail addresses, and ARM's tag limits (tags live in
``properties.tags`` on a schedule). Nothing is ever run: a schedule only exists.
"""

from __future__ import annotations

import re
from typing import Any

from cloudserve_azureml.emulator.arm import ArmRouter, EmulatedError, Reply, _json, _not_found, check_tags
from cloudserve_azureml.emulator.state import spelled, system_data

_WS = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
)
_TYPE = "Microsoft.MachineLearningServices/workspaces/schedules"
# Schedule.name: "^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$" (REST API, Schedules - Create Or Update).
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$")
FREQUENCIES = {"minute", "hour", "day", "week", "month"}  # RecurrenceFrequency
# NumericalDataDriftMetric / CategoricalDataDriftMetric (REST API, monitoring signals).
DRIFT_METRICS = {
    "numerical": {
        "jensenshannondistance",
        "normalizedwassersteindistance",
        "populationstabilityindex",
        "twosamplekolmogorovsmirnovtest",
    },
    "categorical": {"jensenshannondistance", "populationstabilityindex", "pearsonschisquaredtest"},
}
# Serverless Spark compute for monitoring (Microsoft Learn, model monitoring: compute).
SPARK_INSTANCES = {
    "standard_e4s_v3",
    "standard_e8s_v3",
    "standard_e16s_v3",
    "standard_e32s_v3",
    "standard_e64s_v3",
}
SPARK_RUNTIMES = {"3.3", "3.4"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# NotificationSetting.emails: "a limitation of 499 characters in total concat with comma
# separator" (REST API 2023-06-01-preview).
EMAILS_MAX_CHARS = 499
# The service answers enum values as the REST API spells them (RecurrenceFrequency,
# ModelTaskType, Numerical/CategoricalDataDriftMetric, 2023-06-01-preview); azure-ai-ml
# sends "day", "classification", "normalizedWassersteinDistance".
_SPELLINGS = {
    "frequency": ("Minute", "Hour", "Day", "Week", "Month"),
    "taskType": ("Classification", "Regression", "QuestionAnswering"),
    "metric": (
        "JensenShannonDistance",
        "PopulationStabilityIndex",
        "NormalizedWassersteinDistance",
        "TwoSampleKolmogorovSmirnovTest",
        "PearsonsChiSquaredTest",
    ),
}


def register(router: ArmRouter) -> None:
    router.add("GET", _WS + r"/schedules", list_schedules)
    router.add("GET", _WS + r"/schedules/(?P<name>[^/]+)", get_schedule)
    router.add("PUT", _WS + r"/schedules/(?P<name>[^/]+)", put_schedule)
    router.add("DELETE", _WS + r"/schedules/(?P<name>[^/]+)", delete_schedule)


def list_schedules(r: ArmRouter, path: str, q: Any, b: Any, m: re.Match[str]) -> Reply:
    return _json(200, {"value": r.state.children(path)})


def get_schedule(r: ArmRouter, path: str, q: Any, b: Any, m: re.Match[str]) -> Reply:
    found = r.state.get(path)
    if found is None:
        raise _not_found("Schedule", m["name"])
    return _json(200, found)


def put_schedule(r: ArmRouter, path: str, q: Any, b: dict[str, Any], m: re.Match[str]) -> Reply:
    name = m["name"]
    if not NAME_RE.match(name):
        raise EmulatedError(
            400, "BadArgument", f"Schedule name {name!r} must match ^[a-zA-Z0-9][a-zA-Z0-9\\-_]{{0,254}}$."
        )
    props = dict(b.get("properties") or {})
    check_tags(props.get("tags"))
    _check_trigger(props.get("trigger") or {})
    action = props.get("action") or {}
    if action.get("actionType") != "CreateMonitor":
        raise EmulatedError(400, "BadArgument", "The emulator keeps only monitor schedules (CreateMonitor).")
    _check_monitor(r, action.get("monitorDefinition") or {})
    _spell(props)
    old = r.state.get(path)
    props.setdefault("isEnabled", True)
    props["provisioningState"] = "Succeeded"
    resource = {
        "id": path,
        "name": name,
        "type": _TYPE,
        "properties": props,
        "systemData": system_data(old.get("systemData") if old else None),
    }
    r.state.put(path, resource)
    op = r.state.start_operation(lambda: None)
    return _json(201 if old is None else 200, resource, r.operation_headers(op.id))


def _spell(props: dict[str, Any]) -> None:
    definition = (props.get("action") or {}).get("monitorDefinition") or {}
    thresholds = [
        t for s in (definition.get("signals") or {}).values() for t in s.get("metricThresholds") or []
    ]
    for holder in (props.get("trigger") or {}, definition.get("monitoringTarget") or {}, *thresholds):
        for key, spellings in _SPELLINGS.items():
            if key in holder:
                holder[key] = spelled(holder[key], spellings)


def delete_schedule(r: ArmRouter, path: str, q: Any, b: Any, m: re.Match[str]) -> Reply:
    if r.state.get(path) is None:
        return _json(204, None)
    op = r.state.start_operation(lambda: r.state.delete_tree(path))
    return _json(202, None, r.operation_headers(op.id, location=True))


def _bad(message: str) -> EmulatedError:
    return EmulatedError(400, "BadArgument", message)


def _check_trigger(trigger: dict[str, Any]) -> None:
    kind = trigger.get("triggerType")
    if kind == "Recurrence":
        if str(trigger.get("frequency", "")).lower() not in FREQUENCIES:
            raise _bad(f"trigger.frequency must be one of {sorted(FREQUENCIES)}.")
        interval = trigger.get("interval")
        if not isinstance(interval, int) or interval < 1:
            raise _bad("trigger.interval must be an integer of at least 1.")
    elif kind == "Cron":
        if len(str(trigger.get("expression", "")).split()) != 5:
            raise _bad("trigger.expression must be a 5-field cron expression.")
    else:
        raise _bad("trigger.triggerType must be Recurrence or Cron.")


def _check_monitor(r: ArmRouter, definition: dict[str, Any]) -> None:
    compute = definition.get("computeConfiguration") or {}
    if compute.get("computeType") != "ServerlessSpark":
        raise _bad("monitorDefinition.computeConfiguration.computeType must be ServerlessSpark.")
    if str(compute.get("instanceType", "")).lower() not in SPARK_INSTANCES:
        raise _bad(f"Serverless Spark instanceType {compute.get('instanceType')!r} is not supported.")
    if str(compute.get("runtimeVersion")) not in SPARK_RUNTIMES:
        raise _bad(f"Serverless Spark runtimeVersion {compute.get('runtimeVersion')!r} is not supported.")
    target = (definition.get("monitoringTarget") or {}).get("deploymentId")
    if target and r.state.get(_arm_path(r, target, "onlineEndpoints")) is None:
        raise _bad(f"monitoringTarget.deploymentId {target!r} does not exist.")
    signals = definition.get("signals") or {}
    if not signals:
        raise _bad("monitorDefinition.signals must name at least one signal.")
    for key, signal in signals.items():
        if signal.get("signalType") == "DataDrift":
            _check_drift_signal(r, key, signal)
    emails = ((definition.get("alertNotificationSetting") or {}).get("emailNotificationSetting") or {}).get(
        "emails"
    ) or []
    bad = [e for e in emails if not _EMAIL.match(str(e))]
    if bad:
        raise _bad(f"alert e-mail {bad[0]!r} is not an e-mail address.")
    joined = ",".join(str(e) for e in emails)
    if len(joined) > EMAILS_MAX_CHARS:
        raise _bad(
            f"emailNotificationSetting.emails: {len(joined)} characters joined with commas; "
            f"the limit is {EMAILS_MAX_CHARS}."
        )


def _check_drift_signal(r: ArmRouter, key: str, signal: dict[str, Any]) -> None:
    for side in ("productionData", "referenceData"):
        data = signal.get(side) or {}
        uri = data.get("uri")
        if not uri:
            raise _bad(f"signals.{key}.{side}.uri is required.")
        if r.state.get(_arm_path(r, uri, "data")) is None:
            raise _bad(f"signals.{key}.{side}: data asset {uri!r} does not exist.")
    thresholds = signal.get("metricThresholds") or []
    if not thresholds:
        raise _bad(f"signals.{key}.metricThresholds must hold at least one threshold.")
    for t in thresholds:
        kind = str(t.get("dataType", "")).lower()
        metric = str(t.get("metric", "")).lower()
        if kind not in DRIFT_METRICS:
            raise _bad(f"signals.{key}: dataType {t.get('dataType')!r} must be Numerical or Categorical.")
        if metric not in DRIFT_METRICS[kind]:
            raise _bad(f"signals.{key}: {t.get('metric')!r} is not a {t.get('dataType')} data drift metric.")
        value = (t.get("threshold") or {}).get("value")
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise _bad(f"signals.{key}: threshold {value!r} must be a number >= 0.")


def _arm_path(r: ArmRouter, ref: str, kind: str) -> str:
    """An asset or deployment reference as an ARM path: ``azureml:/subscriptions/...``,
    ``/subscriptions/...``, or for data ``azureml:name:version``."""
    ref = ref[len("azureml:") :] if ref.startswith("azureml:") else ref
    if ref.startswith("/subscriptions/"):
        return ref
    if kind == "data" and ":" in ref:
        name, version = ref.rsplit(":", 1)
        return f"{r.state.workspace_path}/data/{name}/versions/{version}"
    if kind == "onlineEndpoints" and ":" in ref:
        endpoint, deployment = ref.split(":", 1)
        return f"{r.state.endpoint_path(endpoint)}/deployments/{deployment}"
    return ref
