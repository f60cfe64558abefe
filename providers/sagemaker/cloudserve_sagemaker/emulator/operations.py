"""What the SageMaker emulator adds to moto: missing operations, real rules, real states.

Everything here hangs off moto's own request handling: an added operation is a
snake_case method on moto's ``SageMakerResponse`` (moto dispatches by name and builds the
reply from the botocore model), and its state lives on moto's SageMaker backend under
``_cloudserve``, so ``moto``'s reset clears it with everything else. Requests still go
through boto3 with parameter validation on, so a request the real service would refuse
for shape reasons fails here too; this module adds the rules botocore leaves to the
server (maximum lengths, name patterns, enums, weights, states).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter

from cloudserve_sagemaker.emulator import rules as _rules

# Operations the adapter (and the rollout/drift work built on it) uses that moto 5.2.5
# lacks. test_emulator fails when moto grows its own version, so ours can be dropped.
ADDED_OPERATIONS = (
    "update_endpoint",
    "create_monitoring_schedule",
    "describe_monitoring_schedule",
    "update_monitoring_schedule",
    "delete_monitoring_schedule",
    "list_monitoring_schedules",
    "start_monitoring_schedule",
    "stop_monitoring_schedule",
)


class _Fault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Transition:
    countdown: int
    then: str  # InService | Failed
    reason: str | None = None
    rollback_to: dict[str, Any] | None = None  # previous config, for a failed update
    alarms: list[str] = field(default_factory=list)


@dataclass
class Fault:
    operation: str  # PascalCase, or "*" for any
    code: str
    status: int
    message: str
    times: int


@dataclass
class EmulatorState:
    """Per-backend state (account x region); moto's reset drops it with the backend."""

    describes_per_transition: int = 1
    transitions: dict[str, Transition] = field(default_factory=dict)
    doomed: dict[str, str] = field(default_factory=dict)  # endpoint -> FailureReason
    shadow_variants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by config
    config_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    deployment_configs: dict[str, dict[str, Any]] = field(default_factory=dict)


def state_of(backend: SageMakerModelBackend) -> EmulatorState:
    state = backend.__dict__.get("_cloudserve")
    if state is None:
        state = EmulatorState()
        backend.__dict__["_cloudserve"] = state
    return state


def _endpoint_arn(backend: SageMakerModelBackend, name: str) -> str:
    return arn_formatter("endpoint", name, backend.account_id, backend.region_name)


def _endpoint(backend: SageMakerModelBackend, name: str) -> Any:
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(f'Could not find endpoint "{_endpoint_arn(backend, name)}".')
    return endpoint


def _config(backend: SageMakerModelBackend, name: str) -> Any:
    config = backend.endpoint_configs.get(name)
    if config is None:
        arn = arn_formatter("endpoint-config", name, backend.account_id, backend.region_name)
        raise ValidationError(f'Could not find endpoint configuration "{arn}".')
    return config


def begin(
    backend: SageMakerModelBackend,
    name: str,
    status: str,
    rollback_to: dict[str, Any] | None,
    alarms: list[str],
) -> None:
    """Put an endpoint into Creating/Updating; describes move it on (see :func:`advance`)."""
    state = state_of(backend)
    endpoint = backend.endpoints[name]
    endpoint.endpoint_status = status
    endpoint.failure_reason = None
    reason = state.doomed.pop(name, None)
    state.transitions[name] = Transition(
        countdown=state.describes_per_transition,
        then="Failed" if reason and status == "Creating" else "InService",
        reason=reason,
        rollback_to=rollback_to,
        alarms=alarms,
    )


def _alarm_firing(backend: SageMakerModelBackend, names: list[str]) -> str | None:
    if not names:
        return None
    from moto.cloudwatch.models import cloudwatch_backends

    alarms = cloudwatch_backends[backend.account_id][backend.region_name].alarms
    return next((n for n in names if n in alarms and alarms[n].state_value == "ALARM"), None)


def advance(backend: SageMakerModelBackend, name: str, *, force: bool = False) -> None:
    """One step of an endpoint's pending transition (all of it with ``force``)."""
    state = state_of(backend)
    transition = state.transitions.get(name)
    endpoint: Any = backend.endpoints.get(name)
    if transition is None or endpoint is None:
        return
    firing = _alarm_firing(backend, transition.alarms) if endpoint.endpoint_status == "Updating" else None
    if firing and transition.rollback_to is not None:
        endpoint.endpoint_status = "RollingBack"
        transition.reason = f"Rolled back: CloudWatch alarm {firing} is in ALARM"
        transition.then = "RolledBack"
        transition.alarms = []
        transition.countdown = state.describes_per_transition
    if transition.countdown > 0 and not force:
        transition.countdown -= 1
        return
    del state.transitions[name]
    if transition.then == "Failed":
        endpoint.endpoint_status = "Failed"
        endpoint.failure_reason = transition.reason
        return
    if transition.reason and transition.rollback_to is not None:
        _apply_config(endpoint, transition.rollback_to)
        endpoint.failure_reason = transition.reason
    endpoint.endpoint_status = "InService"


def _snapshot(endpoint: Any) -> dict[str, Any]:
    return {
        "config": endpoint.endpoint_config_name,
        "variants": json.loads(json.dumps(endpoint.production_variants, default=str)),
        "capture": endpoint.data_capture_config,
    }


def _apply_config(endpoint: Any, snapshot: dict[str, Any]) -> None:
    endpoint.endpoint_config_name = snapshot["config"]
    endpoint.production_variants = snapshot["variants"]
    endpoint.data_capture_config = snapshot["capture"]


# --- operations moto lacks ------------------------------------------------------------------
def update_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    endpoint = _endpoint(backend, name)
    if endpoint.endpoint_status != "InService":
        raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
    config = _config(backend, self._get_param("EndpointConfigName"))
    previous = _snapshot(endpoint)
    deployment = self._get_param("DeploymentConfig") or {}
    _rules.check_deployment_config(config.production_variants, deployment)
    state_of(backend).deployment_configs[name] = deployment
    endpoint.endpoint_config_name = config.endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    alarms = [a["AlarmName"] for a in deployment.get("AutoRollbackConfiguration", {}).get("Alarms", [])]
    begin(backend, name, "Updating", previous, alarms)
    return ActionResult({"EndpointArn": endpoint.arn})


def _schedule_arn(backend: SageMakerModelBackend, name: str) -> str:
    return arn_formatter("monitoring-schedule", name, backend.account_id, backend.region_name)


def _schedule(backend: SageMakerModelBackend, name: str) -> dict[str, Any]:
    schedule = state_of(backend).schedules.get(name)
    if schedule is None:
        raise _Fault(
            "ResourceNotFound", f"Monitoring schedule {_schedule_arn(backend, name)} does not exist."
        )
    return schedule


def create_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    schedules = state_of(backend).schedules
    if name in schedules:
        raise _Fault("ResourceInUse", f"Monitoring schedule {_schedule_arn(backend, name)} already exists.")
    config = self._get_param("MonitoringScheduleConfig")
    _rules.check_monitoring_config(backend, config)
    from moto.core.utils import utcnow

    now = utcnow()
    schedules[name] = {
        "MonitoringScheduleArn": _schedule_arn(backend, name),
        "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Scheduled",
        "MonitoringType": config.get("MonitoringType", "DataQuality"),
        "CreationTime": now,
        "LastModifiedTime": now,
        "MonitoringScheduleConfig": config,
        "EndpointName": _schedule_endpoint(config),
        "Tags": self._get_param("Tags") or [],
    }
    return ActionResult({"MonitoringScheduleArn": schedules[name]["MonitoringScheduleArn"]})


def _schedule_endpoint(config: dict[str, Any]) -> str | None:
    job = config.get("MonitoringJobDefinition", {})
    for item in job.get("MonitoringInputs", []):
        if "EndpointInput" in item:
            return str(item["EndpointInput"]["EndpointName"])
    return None


def describe_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    schedule = dict(_schedule(self.sagemaker_backend, self._get_param("MonitoringScheduleName")))
    schedule.pop("Tags", None)
    return ActionResult({k: v for k, v in schedule.items() if v is not None})


def update_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    schedule = _schedule(self.sagemaker_backend, self._get_param("MonitoringScheduleName"))
    from moto.core.utils import utcnow

    _rules.check_monitoring_config(self.sagemaker_backend, self._get_param("MonitoringScheduleConfig"))
    schedule["MonitoringScheduleConfig"] = self._get_param("MonitoringScheduleConfig")
    schedule["EndpointName"] = _schedule_endpoint(schedule["MonitoringScheduleConfig"])
    schedule["LastModifiedTime"] = utcnow()
    return ActionResult({"MonitoringScheduleArn": schedule["MonitoringScheduleArn"]})


def delete_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    _schedule(backend, name)
    del state_of(backend).schedules[name]
    return EmptyResult()


def list_monitoring_schedules(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    endpoint = self._get_param("EndpointName")
    contains = (self._get_param("NameContains") or "").lower()
    summaries = [
        {
            k: s[k]
            for k in (
                "MonitoringScheduleName",
                "MonitoringScheduleArn",
                "CreationTime",
                "LastModifiedTime",
                "MonitoringScheduleStatus",
                "MonitoringType",
            )
        }
        | ({"EndpointName": s["EndpointName"]} if s.get("EndpointName") else {})
        for s in state_of(backend).schedules.values()
        if (endpoint is None or s.get("EndpointName") == endpoint)
        and contains in s["MonitoringScheduleName"].lower()
    ]
    return ActionResult({"MonitoringScheduleSummaries": summaries})


def start_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    _schedule(self.sagemaker_backend, self._get_param("MonitoringScheduleName"))[
        "MonitoringScheduleStatus"
    ] = "Scheduled"
    return EmptyResult()


def stop_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    _schedule(self.sagemaker_backend, self._get_param("MonitoringScheduleName"))[
        "MonitoringScheduleStatus"
    ] = "Stopped"
    return EmptyResult()


def request_id() -> str:
    return str(uuid.uuid4())


def fault_response(code: str, status: int, message: str) -> tuple[int, dict[str, str], str]:
    rid = request_id()
    headers = {
        "x-amzn-RequestId": rid,
        "x-amzn-ErrorType": code,
        "Content-Type": "application/x-amz-json-1.1",
        "status": str(status),
    }
    return status, headers, json.dumps({"__type": code, "message": message})
