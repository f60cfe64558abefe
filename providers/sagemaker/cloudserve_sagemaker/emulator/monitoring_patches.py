"""The server-side half of CloudWatch and Application Auto Scaling, added to moto.

botocore validates required members and types on the client; the services check each
member's ``max``/``pattern``/``enum`` from the same service model on the server, which
moto does not. Every operation of both services gets that check (``_rules.shape_problems``),
and the calls that name a metric are checked against what SageMaker publishes
(``_metric_rules``). Errors keep each service's shape: CloudWatch ``ValidationError`` /
``InvalidParameterValue``, Application Auto Scaling ``ValidationException``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from moto.applicationautoscaling.exceptions import AWSValidationException
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.cloudwatch.exceptions import InvalidParameterValue
from moto.cloudwatch.exceptions import ValidationError as CloudWatchValidationError
from moto.cloudwatch.responses import CloudWatchResponse

from cloudserve_sagemaker.emulator import metric_rules as _metric_rules
from cloudserve_sagemaker.emulator import rules as _rules

Problems = Callable[[str, dict[str, Any]], list[str]]


def _cloudwatch_metric_problems(operation: str, params: dict[str, Any]) -> list[str]:
    if operation == "GetMetricData":
        return _metric_rules.query_problems(params.get("MetricDataQueries") or [], "MetricDataQueries")
    if operation == "PutMetricAlarm":
        return _metric_rules.alarm_problems(params)
    return []


def _scaling_metric_problems(operation: str, params: dict[str, Any]) -> list[str]:
    return _metric_rules.scaling_policy_problems(params) if operation == "PutScalingPolicy" else []


def _summary(problems: list[str]) -> str:
    return f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: " + "; ".join(
        problems
    )


def _cloudwatch_check(original: Callable[..., Any], operation: str) -> Callable[..., Any]:
    def handler(self: CloudWatchResponse) -> Any:
        params = self._get_params()
        problems = _rules.shape_problems("cloudwatch", operation, params)
        if problems:
            raise CloudWatchValidationError(_summary(problems))
        metric = _cloudwatch_metric_problems(operation, params)
        if metric:
            raise InvalidParameterValue("; ".join(metric))
        return original(self)

    return handler


def _scaling_check(original: Callable[..., Any], operation: str) -> Callable[..., Any]:
    def handler(self: ApplicationAutoScalingResponse) -> Any:
        try:
            params = json.loads(self.body or "{}")
        except ValueError:
            params = {}
        problems = _rules.shape_problems("application-autoscaling", operation, params)
        problems += _scaling_metric_problems(operation, params)
        if problems:
            raise AWSValidationException(_summary(problems))
        return original(self)

    return handler


def handlers() -> list[tuple[type, str, Callable[..., Any]]]:
    """(class, method name, checked method) for every operation moto implements."""
    out: list[tuple[type, str, Callable[..., Any]]] = []
    for cls, service, wrap in (
        (CloudWatchResponse, "cloudwatch", _cloudwatch_check),
        (ApplicationAutoScalingResponse, "application-autoscaling", _scaling_check),
    ):
        for operation in _rules._service_model(service).operation_names:
            name = xform_name(operation)
            original = cls.__dict__.get(name)
            if callable(original):
                out.append((cls, name, wrap(original, operation)))
    return out
