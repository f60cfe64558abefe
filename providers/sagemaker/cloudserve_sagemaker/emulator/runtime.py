"""The emulator's data plane: invoke_endpoint answered by the real serving runtime.

The model is read from the staged model.tar.gz in moto's S3, unpacked once into a
temporary directory and loaded with ``cloudserve.serving.loaders.load_model``, so a test
gets the model's real predictions. Each call records SageMaker's per-variant CloudWatch
metrics (Invocations, Invocation4XX/5XXErrors, ModelLatency in microseconds) in moto's
CloudWatch, where ``metrics()`` and rollout gates read them back.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import sagemaker_backends

from cloudserve_sagemaker.emulator import operations as ops
from cloudserve_sagemaker.staging import unpack_model

_MODELS: dict[str, Any] = {}  # ModelDataUrl -> LoadedModel (content-addressed, safe to share)
_TMP = tempfile.TemporaryDirectory(prefix="cloudserve-sm-emulator-")
_ROUND_ROBIN: dict[str, float] = {}


def _load(account: str, url: str) -> Any:
    if url in _MODELS:
        return _MODELS[url]
    from moto.s3.models import s3_backends

    from cloudserve.serving.loaders import load_model

    bucket, _, key = url.removeprefix("s3://").partition("/")
    stored = s3_backends[account]["global"].get_object(bucket, key)
    assert stored is not None, url
    data = stored.value
    target = Path(_TMP.name) / str(len(_MODELS))
    target.mkdir(parents=True)
    manifest = unpack_model(data, target)
    _MODELS[url] = load_model(manifest, target)
    return _MODELS[url]


def _pick(endpoint: Any, target: str | None) -> str:
    variants = {v["VariantName"]: float(v.get("CurrentWeight") or 0.0) for v in endpoint.production_variants}
    if target:
        if target not in variants:
            raise ValidationError(f"Endpoint {endpoint.endpoint_name} has no variant {target}.")
        return target
    # Smooth weighted round-robin: deterministic, and exact over a full cycle.
    total = sum(variants.values())
    best, best_score = "", float("-inf")
    for name, weight in variants.items():
        key = f"{endpoint.endpoint_name}/{name}"
        _ROUND_ROBIN[key] = _ROUND_ROBIN.get(key, 0.0) + weight
        if _ROUND_ROBIN[key] > best_score:
            best, best_score = name, _ROUND_ROBIN[key]
    _ROUND_ROBIN[f"{endpoint.endpoint_name}/{best}"] -= total
    return best


def record(
    account: str,
    region: str,
    endpoint: str,
    variant: str,
    *,
    invocations: float = 0,
    errors_4xx: float = 0,
    errors_5xx: float = 0,
    latencies_us: list[float] | None = None,
) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
    data: list[dict[str, Any]] = [
        {"MetricName": "Invocations", "Dimensions": dims, "Value": float(invocations), "Unit": "None"},
        {"MetricName": "Invocation4XXErrors", "Dimensions": dims, "Value": float(errors_4xx), "Unit": "None"},
        {"MetricName": "Invocation5XXErrors", "Dimensions": dims, "Value": float(errors_5xx), "Unit": "None"},
    ]
    for value in latencies_us or []:
        data.append(
            {"MetricName": "ModelLatency", "Dimensions": dims, "Value": float(value), "Unit": "Microseconds"}
        )
    cloudwatch_backends[account][region].put_metric_data("AWS/SageMaker", data)


def _run(account: str, region: str, endpoint: Any, variant: str, body: bytes) -> tuple[int, Any]:
    from cloudserve.serving.loaders import InputError

    config = next(v for v in _variants_of(account, region, endpoint) if v["VariantName"] == variant)
    model = sagemaker_backends[account][region]._models[config["ModelName"]]
    url = str(model.primary_container.get("ModelDataUrl"))
    start = time.perf_counter()
    try:
        data = json.loads(body or b"null")
        instances = data["instances"] if isinstance(data, dict) else data
        predictions = _load(account, url).predict(instances)
        status, answer = 200, {"predictions": predictions}
    except (InputError, ValueError, KeyError, TypeError) as exc:
        status, answer = 400, {"error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:
        status, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
    micros = (time.perf_counter() - start) * 1e6
    record(
        account,
        region,
        endpoint.endpoint_name,
        variant,
        invocations=1,
        errors_4xx=status == 400,
        errors_5xx=status == 500,
        latencies_us=[micros],
    )
    return status, answer


def _variants_of(account: str, region: str, endpoint: Any) -> list[dict[str, Any]]:
    backend = sagemaker_backends[account][region]
    config = backend.endpoint_configs[endpoint.endpoint_config_name]
    shadow = ops.state_of(backend).shadow_variants.get(endpoint.endpoint_config_name, [])
    return [*config.production_variants, *shadow]


def invoke_endpoint(self: Any) -> tuple[int, dict[str, str], str]:
    """Replaces moto's canned answer with a real prediction."""
    account, region = self.current_account, self.region
    name = self.path.split("/")[2]
    backend = sagemaker_backends[account][region]
    ops.state_of(backend).calls["InvokeEndpoint"] += 1
    fault = take_fault(backend, "InvokeEndpoint")
    if fault is not None:
        return ops.fault_response(fault.code, fault.status, fault.message)
    endpoint = backend.endpoints.get(name)
    if endpoint is None or endpoint.endpoint_status not in ("InService", "Updating", "RollingBack"):
        why = "not found" if endpoint is None else f"in status {endpoint.endpoint_status}"
        return ops.fault_response("ValidationError", 400, f"Endpoint {name} of account {account} {why}.")
    target = self.headers.get("X-Amzn-SageMaker-Target-Variant")
    try:
        variant = _pick(endpoint, target)
    except ValidationError as exc:
        return ops.fault_response("ValidationError", 400, exc.message)
    status, answer = _run(account, region, endpoint, variant, self.body)
    for shadow in ops.state_of(backend).shadow_variants.get(endpoint.endpoint_config_name, []):
        _run(account, region, endpoint, shadow["VariantName"], self.body)  # copy; answer dropped
    if status != 200:
        message = json.dumps(answer)
        code, http = "ModelError", 424
        _status, headers, body = ops.fault_response(
            code, http, f'Received client error ({status}) from primary with message "{message}".'
        )
        payload = json.loads(body) | {"OriginalStatusCode": status, "OriginalMessage": message}
        return http, headers, json.dumps(payload)
    headers = {
        "Content-Type": "application/json",
        "x-Amzn-Invoked-Production-Variant": variant,
        "x-amzn-RequestId": ops.request_id(),
    }
    return 200, headers, json.dumps(answer)


def take_fault(backend: Any, operation: str) -> ops.Fault | None:
    state = ops.state_of(backend)
    for fault in state.faults:
        if fault.operation in (operation, "*") and fault.times > 0:
            fault.times -= 1
            if fault.times == 0:
                state.faults.remove(fault)
            return fault
    return None
