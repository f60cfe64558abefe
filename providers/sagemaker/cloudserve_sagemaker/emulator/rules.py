"""The server-side rules the emulator enforces, from the botocore service model and the
SageMaker API reference.

botocore validates required members, types and minimums on the client; AWS checks the
rest on the server. The generic half here reads those constraints (``max``, ``pattern``,
``enum``) straight from the same service model botocore ships, so they are the published
ones (e.g. EndpointName: at most 63 characters matching ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``).
The semantic half covers what the model cannot express: unique names, variant weights,
shadow pairing, instance counts and in-progress updates.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import regex  # type: ignore[import-untyped]  # supports the \\p{L} classes AWS patterns use
from moto.sagemaker.exceptions import ValidationError


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


# AWS writes its patterns for Java, where characters beyond the BMP are UTF-16 surrogate
# pairs: "\\uD800\\uDC00-\\uDBFF\\uDFFF" is U+10000..U+10FFFF (e.g. Application Auto Scaling's
# Expression shape), a bad range for Python's regex.
_JAVA_SUPPLEMENTARY = "\\uD800\\uDC00-\\uDBFF\\uDFFF"


@cache
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern.replace(_JAVA_SUPPLEMENTARY, "\\U00010000-\\U0010FFFF"))


def shape_problems(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every max/pattern/enum violation in ``params``, worded as AWS words them."""
    try:
        shape = _service_model(service).operation_model(operation).input_shape
    except Exception:
        return []
    problems: list[str] = []
    if shape is not None:
        _walk(shape, params, operation[0].lower() + operation[1:], problems)
    return problems


def _constraint(value: Any, where: str, message: str) -> str:
    return f"Value '{value}' at '{where}' failed to satisfy constraint: {message}"


def _walk(shape: Any, value: Any, where: str, problems: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _walk(member, value[name], f"{where}.{name[0].lower() + name[1:]}", problems)
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                _constraint(value, where, f"Member must have length less than or equal to {meta['max']}")
            )
        for index, item in enumerate(value, 1):
            _walk(shape.member, item, f"{where}.{index}.member", problems)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _walk(shape.value, item, f"{where}.{key}", problems)
    elif kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                _constraint(value, where, f"Member must have length less than or equal to {meta['max']}")
            )
        if "pattern" in meta and not _compiled(meta["pattern"]).fullmatch(value):
            problems.append(
                _constraint(
                    value, where, f"Member must satisfy regular expression pattern: {meta['pattern']}"
                )
            )
        if shape.enum and value not in shape.enum:
            problems.append(
                _constraint(value, where, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            )
    elif (
        kind in ("integer", "long", "float", "double")
        and isinstance(value, int | float)
        and "max" in meta
        and value > meta["max"]
    ):
        problems.append(
            _constraint(value, where, f"Member must have value less than or equal to {meta['max']}")
        )


# --- semantic rules ----------------------------------------------------------------------
def check_endpoint_config(backend: Any, params: dict[str, Any]) -> None:
    name = params["EndpointConfigName"]
    if name in backend.endpoint_configs:
        arn = backend.endpoint_configs[name].endpoint_config_arn
        raise ValidationError(f'Cannot create already existing endpoint configuration "{arn}".')
    production = params.get("ProductionVariants", [])
    shadow = params.get("ShadowProductionVariants", []) or []
    names = [v["VariantName"] for v in production + shadow]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"Variant names must be unique; duplicated: {', '.join(duplicates)}.")
    if shadow and (len(shadow) > 1 or len(production) != 1):
        raise ValidationError(
            "When ShadowProductionVariants are specified, exactly one ProductionVariant and one "
            "ShadowProductionVariant are allowed."
        )
    if production and sum(float(v.get("InitialVariantWeight", 1.0)) for v in production) <= 0:
        raise ValidationError(
            "The sum of InitialVariantWeight across ProductionVariants must be greater than 0."
        )
    for variant in production + shadow:
        _check_variant(backend, variant)
    if any("ServerlessConfig" in v for v in production + shadow):
        _check_serverless_config(backend, params, production, shadow)


def _check_serverless_config(
    backend: Any, params: dict[str, Any], production: list[Any], shadow: list[Any]
) -> None:
    """What SageMaker's server says to a serverless endpoint config that uses a feature the
    "Serverless Inference" > "Feature exclusions" page lists, and to MemorySizeInMB off the
    1 GB steps of ProductionVariantServerlessConfig (the service model only bounds 1024-6144)."""
    if len(production) > 1 or shadow:
        raise ValidationError(
            "Serverless endpoint configurations support a single ProductionVariant and no "
            "ShadowProductionVariants."
        )
    if params.get("DataCaptureConfig"):
        raise ValidationError("DataCaptureConfig is not supported for serverless endpoints.")
    if params.get("KmsKeyId"):
        raise ValidationError("KmsKeyId is not supported for serverless endpoints.")
    for variant in production:
        memory = variant["ServerlessConfig"].get("MemorySizeInMB")
        if memory is not None and (int(memory) % 1024 or not 1024 <= int(memory) <= 6144):
            raise ValidationError(
                f"Value '{memory}' at 'memorySizeInMB' failed to satisfy constraint: Member must be "
                "one of 1024, 2048, 3072, 4096, 5120, 6144."
            )
        if "AcceleratorType" in variant:
            raise ValidationError("AcceleratorType is not supported for serverless endpoints.")
        model = backend._models.get(variant["ModelName"])
        if model is not None and model.vpc_config:
            raise ValidationError(
                f'Model "{variant["ModelName"]}" has a VpcConfig; VPC is not supported for serverless '
                "endpoints."
            )
        if model is not None and model.enable_network_isolation:
            raise ValidationError(
                f'Model "{variant["ModelName"]}" enables network isolation, which serverless endpoints '
                "do not support."
            )


def _check_variant(backend: Any, variant: dict[str, Any]) -> None:
    name = variant["VariantName"]
    serverless = "ServerlessConfig" in variant
    if serverless and ("InstanceType" in variant or "InitialInstanceCount" in variant):
        raise ValidationError(
            f"Variant {name}: ServerlessConfig cannot be combined with InstanceType or InitialInstanceCount."
        )
    if not serverless and ("InstanceType" not in variant or "InitialInstanceCount" not in variant):
        raise ValidationError(
            f"Variant {name}: InstanceType and InitialInstanceCount are required for instance-based variants."
        )
    if variant["ModelName"] not in backend._models:
        raise ValidationError(f'Could not find model "{variant["ModelName"]}".')


def check_weights_update(endpoint: Any, updates: list[dict[str, Any]]) -> None:
    if endpoint.endpoint_status != "InService":
        raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
    weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in endpoint.production_variants}
    for update in updates:
        if "DesiredWeight" in update:
            weights[update["VariantName"]] = float(update["DesiredWeight"])
        if update.get("DesiredInstanceCount") == 0:
            raise ValidationError("DesiredInstanceCount must be at least 1 for an instance-based variant.")
    if sum(weights.values()) <= 0:
        raise ValidationError("The sum of weights across production variants must be greater than 0.")


MAX_USER_TAGS = 50


def check_tag_count(tags: dict[str, str]) -> None:
    """AWS tagging rule: at most 50 user tags per resource; ``aws:`` keys do not count."""
    user = [k for k in tags if not k.lower().startswith("aws:")]
    if len(user) > MAX_USER_TAGS:
        raise ValidationError(
            f"The resource would have {len(user)} tags; a resource can have at most {MAX_USER_TAGS}."
        )


def check_deployment_config(variants: list[dict[str, Any]], deployment: dict[str, Any]) -> None:
    """Traffic routing sizes against each instance-based variant of the new config, as the
    TrafficRoutingConfig reference states them: CanarySize at most 50% of the variant's
    instance count, LinearStepSize 10-50% of it."""
    routing = deployment.get("BlueGreenUpdatePolicy", {}).get("TrafficRoutingConfiguration", {})
    for key, low, high in (("CanarySize", 0, 50), ("LinearStepSize", 10, 50)):
        size = routing.get(key)
        if size is None:
            continue
        for variant in variants:
            count = variant.get("InitialInstanceCount")
            if count is None:
                continue
            percent = size["Value"] if size["Type"] == "CAPACITY_PERCENT" else 100.0 * size["Value"] / count
            if not low <= percent <= high:
                bound = "at most 50%" if key == "CanarySize" else "10-50%"
                raise ValidationError(
                    f"{key} {size['Value']} ({size['Type']}) must be {bound} of variant "
                    f"{variant['VariantName']}'s {count} instance(s)."
                )


_MONITOR_CRON = (
    regex.compile(r"cron\(0 \* \? \* \* \*\)"),  # hourly
    regex.compile(r"cron\(0 ([01]?[0-9]|2[0-3]) \? \* \* \*\)"),  # daily at an hour
    regex.compile(r"cron\(0 ([01]?[0-9]|2[0-3])/([1-9]|1[0-9]|2[0-4]) \? \* \* \*\)"),  # every N hours
)


def check_monitoring_config(backend: Any, config: dict[str, Any]) -> None:
    """Model Monitor accepts only the cron forms its ScheduleConfig reference lists (hourly,
    daily, every N hours, or NOW), and a job definition it can find."""
    expression = config.get("ScheduleConfig", {}).get("ScheduleExpression")
    if (
        expression is not None
        and expression != "NOW"
        and not any(p.fullmatch(expression) for p in _MONITOR_CRON)
    ):
        raise ValidationError(f"Invalid ScheduleExpression {expression!r} for a monitoring schedule.")
    definition = config.get("MonitoringJobDefinitionName")
    if definition is not None:
        kind = config.get("MonitoringType") or "DataQuality"
        found = {
            "DataQuality": backend.data_quality_job_definitions,
            "ModelQuality": backend.model_quality_job_definitions,
            "ModelBias": backend.model_bias_job_definitions,
            "ModelExplainability": backend.model_explainability_job_definitions,
        }.get(kind, {})
        if definition not in found:
            raise ValidationError(f"Could not find job definition {definition!r} of type {kind}.")
