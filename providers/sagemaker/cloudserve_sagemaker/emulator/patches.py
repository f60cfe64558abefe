"""Installing the emulator's additions on moto's classes, and taking them off again.

Installation is reference-counted and reversible, so moto behaves as shipped outside an
emulator and nested emulators share one installation.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.cloudwatch.models import Statistics
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.scheduler.responses import EventBridgeSchedulerResponse

from cloudserve_sagemaker.emulator import monitoring_patches as _monitoring_patches
from cloudserve_sagemaker.emulator import operations as ops
from cloudserve_sagemaker.emulator import rules as _rules
from cloudserve_sagemaker.emulator import runtime as _runtime
from cloudserve_sagemaker.emulator import scheduler as _scheduler

_lock = threading.Lock()
_installed = 0
_originals: list[tuple[type, str, Any]] = []


def _set(cls: type, name: str, value: Any) -> None:
    _originals.append((cls, name, cls.__dict__.get(name, _MISSING)))
    setattr(cls, name, value)


_MISSING = object()


def install() -> None:
    global _installed
    with _lock:
        _installed += 1
        if _installed > 1:
            return
        for name in ops.ADDED_OPERATIONS:
            _set(SageMakerResponse, name, getattr(ops, name))
        _set(SageMakerResponse, "call_action", _call_action(SageMakerResponse.call_action))
        for name, wrapper in _WRAPPERS.items():
            _set(SageMakerResponse, name, wrapper(getattr(SageMakerResponse, name)))
        _set(SageMakerResponse, "update_endpoint_weights_and_capacities", _update_weights)
        _set(SageMakerResponse, "add_tags", _add_tags)
        for name, handler in _scheduler.PATCHES.items():
            _set(EventBridgeSchedulerResponse, name, handler)
        _set(SageMakerRuntimeResponse, "invoke_endpoint", _runtime.invoke_endpoint)
        _set(Statistics, "get_statistics_for_type", _with_percentiles(Statistics.get_statistics_for_type))
        for cls, name, handler in _monitoring_patches.handlers():
            _set(cls, name, handler)


def uninstall() -> None:
    global _installed
    with _lock:
        _installed = max(_installed - 1, 0)
        if _installed:
            return
        while _originals:
            cls, name, original = _originals.pop()
            if original is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


# --- dispatch: calls, faults and the service model's constraints ---------------------------
def _call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    def call_action(self: SageMakerResponse) -> Any:
        action = self._get_action()
        backend = self.sagemaker_backend
        ops.state_of(backend).calls[action] += 1
        fault = _runtime.take_fault(backend, action)
        if fault is not None:
            return ops.fault_response(fault.code, fault.status, fault.message)
        try:
            params = json.loads(self.body or "{}")
        except ValueError:
            params = {}
        problems = _rules.shape_problems("sagemaker", action, params)
        if problems:
            message = (
                f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
                + "; ".join(problems)
            )
            return ops.fault_response("ValidationException", 400, message)
        try:
            return original(self)
        except ops._Fault as exc:
            return ops.fault_response(exc.code, 400, exc.message)

    return call_action


# --- existing operations, made to follow the real rules and states ---------------------------
def _create_model(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_model(self: SageMakerResponse) -> Any:
        name = self._get_param("ModelName")
        if name in self.sagemaker_backend._models:
            raise ValidationError(
                f'Cannot create already existing model "{self.sagemaker_backend._models[name].arn}".'
            )
        reply = original(self)
        # moto 5.2.5 drops EnableNetworkIsolation; keep it, so the serverless rule can see it.
        if self._get_param("EnableNetworkIsolation"):
            self.sagemaker_backend._models[name].enable_network_isolation = True
        return reply

    return create_model


def _create_endpoint_config(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_endpoint_config(self: SageMakerResponse) -> Any:
        backend = self.sagemaker_backend
        params = {
            k: self._get_param(k)
            for k in (
                "EndpointConfigName",
                "ProductionVariants",
                "ShadowProductionVariants",
                "DataCaptureConfig",
                "KmsKeyId",
            )
        }
        params = {k: v for k, v in params.items() if v is not None}
        _rules.check_endpoint_config(backend, params)
        result = original(self)
        if params.get("ShadowProductionVariants"):
            ops.state_of(backend).shadow_variants[params["EndpointConfigName"]] = params[
                "ShadowProductionVariants"
            ]
        return result

    return create_endpoint_config


def _describe_endpoint_config(original: Callable[..., Any]) -> Callable[..., Any]:
    def describe_endpoint_config(self: SageMakerResponse) -> Any:
        result = original(self)
        shadow = ops.state_of(self.sagemaker_backend).shadow_variants.get(
            self._get_param("EndpointConfigName")
        )
        if shadow and isinstance(result, ActionResult):
            result.result["ShadowProductionVariants"] = shadow  # type: ignore[index]
        return result

    return describe_endpoint_config


def _delete_endpoint_config(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_endpoint_config(self: SageMakerResponse) -> Any:
        result = original(self)
        ops.state_of(self.sagemaker_backend).shadow_variants.pop(self._get_param("EndpointConfigName"), None)
        return result

    return delete_endpoint_config


def _create_endpoint(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_endpoint(self: SageMakerResponse) -> Any:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        if name in backend.endpoints:
            raise ValidationError(f'Cannot create already existing endpoint "{backend.endpoints[name].arn}".')
        ops._config(backend, self._get_param("EndpointConfigName"))
        result = original(self)
        ops.begin(backend, name, "Creating", None, [])
        return result

    return create_endpoint


def _describe_endpoint(original: Callable[..., Any]) -> Callable[..., Any]:
    def describe_endpoint(self: SageMakerResponse) -> Any:
        ops.advance(self.sagemaker_backend, self._get_param("EndpointName"))
        return original(self)

    return describe_endpoint


def _delete_endpoint(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_endpoint(self: SageMakerResponse) -> Any:
        result = original(self)
        ops.state_of(self.sagemaker_backend).transitions.pop(self._get_param("EndpointName"), None)
        return result

    return delete_endpoint


def _create_data_quality_job_definition(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto overwrites a job definition of the same name; SageMaker refuses it."""

    def create_data_quality_job_definition(self: SageMakerResponse) -> Any:
        name = self._get_param("JobDefinitionName")
        if name in self.sagemaker_backend.data_quality_job_definitions:
            raise ops._Fault("ResourceInUse", f"Job definition {name} already exists.")
        return original(self)

    return create_data_quality_job_definition


_WRAPPERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "create_data_quality_job_definition": _create_data_quality_job_definition,
    "create_model": _create_model,
    "create_endpoint_config": _create_endpoint_config,
    "describe_endpoint_config": _describe_endpoint_config,
    "delete_endpoint_config": _delete_endpoint_config,
    "create_endpoint": _create_endpoint,
    "describe_endpoint": _describe_endpoint,
    "delete_endpoint": _delete_endpoint,
}


def _update_weights(self: SageMakerResponse) -> Any:
    """moto's version overwrites unspecified weights and counts with None; set only what is asked."""
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    endpoint = ops._endpoint(backend, name)
    updates = self._get_param("DesiredWeightsAndCapacities") or []
    known = {v["VariantName"] for v in endpoint.production_variants}
    for update in updates:
        if update["VariantName"] not in known:
            raise ValidationError(
                f'The variant name(s) "{update["VariantName"]}" is/are not present within '
                f'endpoint configuration "{endpoint.endpoint_config_name}".'
            )
    _rules.check_weights_update(endpoint, updates)
    for update in updates:
        variant = next(v for v in endpoint.production_variants if v["VariantName"] == update["VariantName"])
        if "DesiredWeight" in update:
            variant["DesiredWeight"] = variant["CurrentWeight"] = float(update["DesiredWeight"])
        if "DesiredInstanceCount" in update:
            variant["DesiredInstanceCount"] = variant["CurrentInstanceCount"] = int(
                update["DesiredInstanceCount"]
            )
    ops.begin(backend, name, "Updating", None, [])
    return ActionResult({"EndpointArn": endpoint.arn})


def _add_tags(self: SageMakerResponse) -> Any:
    """AddTags overwrites a key's value in place (moto appends a duplicate), and a resource
    holds at most 50 user tags (keys starting with ``aws:`` do not count)."""
    resource = self.sagemaker_backend._get_resource_from_arn(self._get_param("ResourceArn"))
    merged = {t["Key"]: t.get("Value", "") for t in resource.tags}
    merged.update({t["Key"]: t.get("Value", "") for t in self._get_param("Tags") or []})
    _rules.check_tag_count(merged)
    resource.tags = [{"Key": k, "Value": v} for k, v in merged.items()]
    return ActionResult({"Tags": resource.tags})


def _with_percentiles(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_statistics_for_type(self: Statistics, stat: str) -> Any:
        if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
            values = sorted(self.metric_single_values_list)
            if not values:
                return None
            rank = float(stat[1:]) / 100.0 * (len(values) - 1)
            low = int(rank)
            high = min(low + 1, len(values) - 1)
            return values[low] + (values[high] - values[low]) * (rank - low)
        return original(self, stat)

    return get_statistics_for_type
