"""EventBridge Scheduler in the emulator: moto's ``scheduler`` plus the rules it leaves out.

moto 5.2.5 stores schedules but checks neither the name, the schedule expression, the
flexible time window nor the target. The real service refuses what the adapter could get
wrong there, so the emulator does too, from the published rules:

- every max length, pattern and enum of the botocore service model (Name: 1-64 of
  ``[0-9a-zA-Z-_.]``; Target.RoleArn an IAM role ARN), as for SageMaker;
- ``ScheduleExpression``: ``at(yyyy-mm-ddThh:mm:ss)``, ``rate(value unit)`` with a positive
  whole value and unit minute(s)/hour(s)/day(s), or a six-field ``cron(...)``;
- ``FlexibleTimeWindow``: ``OFF`` without a window, ``FLEXIBLE`` with 1-1440 minutes;
- a universal target (``arn:aws:scheduler:::aws-sdk:<service>:<action>``) names an action
  that is not read-only, and its ``Input`` is well-formed JSON; for SageMaker targets the
  Input, with the context attributes substituted as the scheduler does per run, must pass
  botocore's validation and the SageMaker service model's constraints, so a request that
  would fail each time the schedule fires fails when the schedule is written.

:func:`fire` invokes a universal target now, as the scheduler would at its next run.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from moto.scheduler.exceptions import ValidationException
from moto.scheduler.responses import EventBridgeSchedulerResponse

from cloudserve_sagemaker.emulator import rules as _rules

UNIVERSAL = re.compile(r"^arn:aws[a-z-]*:scheduler:::aws-sdk:([a-z0-9-]+):([a-zA-Z0-9]+)$")
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$")
READ_ONLY_PREFIXES = (
    "get", "describe", "list", "poll", "receive", "search", "scan", "query", "select", "read",
    "lookup", "discover", "validate", "batchGet", "batchDescribe", "batchRead", "transactGet",
    "adminGet", "adminList", "testMigration", "retrieve", "testConnection", "translateDocument",
    "isAuthorized", "invokeModel",
)  # fmt: skip
CONTEXT = {
    "<aws.scheduler.schedule-arn>": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/x",
    "<aws.scheduler.scheduled-time>": "2024-01-01T00:00:00Z",
    "<aws.scheduler.attempt-number>": "1",
}


def _execution_id() -> str:
    return uuid.uuid4().hex[:16]  # the documented example: d32c5kddcf5bb8c3


def substitute(text: str, execution_id: str | None = None) -> str:
    """The Input as the target receives it: context attributes replaced."""
    out = text.replace("<aws.scheduler.execution-id>", execution_id or _execution_id())
    for key, value in CONTEXT.items():
        out = out.replace(key, value)
    return out


def _params(response: EventBridgeSchedulerResponse) -> dict[str, Any]:
    body = json.loads(response.body or "{}")
    body["Name"] = response.uri.split("?")[0].split("/")[-1]
    return dict(body)


def check_schedule(params: dict[str, Any]) -> None:
    problems = _rules.shape_problems("scheduler", "CreateSchedule", params)
    if problems:
        raise ValidationException("; ".join(problems))
    expression = params.get("ScheduleExpression", "")
    rate = RATE.match(expression)
    if not (rate or AT.match(expression) or CRON.match(expression)) or (rate and int(rate.group(1)) < 1):
        raise ValidationException(f"Invalid Schedule Expression {expression}.")
    window = params.get("FlexibleTimeWindow") or {}
    if window.get("Mode") == "OFF" and "MaximumWindowInMinutes" in window:
        raise ValidationException("MaximumWindowInMinutes must not be set when Mode is OFF.")
    if window.get("Mode") == "FLEXIBLE" and not 1 <= int(window.get("MaximumWindowInMinutes", 0)) <= 1440:
        raise ValidationException("MaximumWindowInMinutes must be between 1 and 1440 when Mode is FLEXIBLE.")
    _check_target(params.get("Target") or {})


def _check_target(target: dict[str, Any]) -> None:
    arn = target.get("Arn", "")
    if not arn.startswith("arn:aws:scheduler:::"):
        return  # a templated target (Lambda, SQS, ...): not used by cloudserve
    match = UNIVERSAL.match(arn)
    if match is None:
        raise ValidationException(f"Invalid target ARN {arn}.")
    service, action = match.groups()
    if action.startswith(READ_ONLY_PREFIXES):
        raise ValidationException(f"Action {action} is read-only and not supported as a target.")
    try:
        payload = json.loads(substitute(target.get("Input") or "{}"))
    except ValueError as exc:
        raise ValidationException(f"Target Input is not well-formed JSON: {exc}") from None
    if service == "sagemaker":
        problems = request_problems(service, action[0].upper() + action[1:], payload)
        if problems:
            raise ValidationException(f"Target Input for {service}:{action}: " + "; ".join(problems))


def request_problems(service: str, operation: str, payload: dict[str, Any]) -> list[str]:
    """botocore's client-side validation and the service model's server-side constraints."""
    from botocore.validate import ParamValidator

    model = _rules._service_model(service).operation_model(operation)
    report = ParamValidator().validate(payload, model.input_shape)
    problems = [report.generate_report()] if report.has_errors() else []
    return problems + _rules.shape_problems(service, operation, payload)


def _validated(original: Callable[..., Any]) -> Callable[..., Any]:
    def handler(self: EventBridgeSchedulerResponse) -> Any:
        check_schedule(_params(self))
        return original(self)

    return handler


PATCHES = {
    "create_schedule": _validated(EventBridgeSchedulerResponse.create_schedule),
    "update_schedule": _validated(EventBridgeSchedulerResponse.update_schedule),
}


def fire(schedule: dict[str, Any], sdk_client: Callable[[str], Any]) -> dict[str, Any]:
    """Invoke a schedule's universal target once, as EventBridge Scheduler would."""
    target = schedule["Target"]
    match = UNIVERSAL.match(target["Arn"])
    if match is None:
        raise ValueError(f"not a universal target: {target['Arn']}")
    service, action = match.groups()
    payload = json.loads(substitute(target.get("Input") or "{}"))
    method = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
    result: dict[str, Any] = getattr(sdk_client(service), method)(**payload)
    return {"request": payload, "response": result}
