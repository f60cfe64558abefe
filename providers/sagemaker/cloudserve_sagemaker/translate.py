"""Spec -> SageMaker API request dicts, and SageMaker descriptions -> neutral values. Pure.

No I/O and no SDK here, so every request the adapter sends can be checked in a unit test
and shown by ``plan``. Names are derived, never stored: the endpoint is the deployment
name, a production variant is the version name, a Model carries the version's config
hash (a new model means a new name, as SageMaker Models are immutable), and an endpoint
config is named by the hash of its own content (re-applying the same config reuses it).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from cloudserve.provider import DesiredEndpoint, DesiredVersion, Scaling, Status
from cloudserve.serving.cloud import VERSION_ENV
from cloudserve.spec.models import Capture
from cloudserve.tags import CONFIG_HASH, DEPLOYMENT, MANAGED_BY, MANAGED_BY_VALUE, VERSION

NAME_MAX = 63
MONITORING_TAG = "cloudserve-monitoring"  # drift-schedule config hash, on the endpoint
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
ENDPOINT_NAMESPACE = "/aws/sagemaker/Endpoints"  # instance metrics: CPU, memory, GPU utilisation
INVOCATION_NAMESPACE = "AWS/SageMaker"  # Invocations, Invocation4XX/5XXErrors, ModelLatency
CONTAINER_SUBMIT_DIR = "/opt/ml/model/code"

STATUS = {
    "Creating": Status.CREATING,
    "Updating": Status.UPDATING,
    "SystemUpdating": Status.UPDATING,
    "RollingBack": Status.UPDATING,
    "InService": Status.READY,
    "Failed": Status.FAILED,
    "UpdateRollbackFailed": Status.FAILED,
    "Deleting": Status.DELETING,
    "OutOfService": Status.STOPPED,
}
PRODUCTION_VARIANT_KEYS = (
    "VariantName",
    "ModelName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "AcceleratorType",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
)


def short_hash(obj: Any, length: int = 10) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _bounded(prefix: str, suffix: str) -> str:
    """``prefix-suffix`` within 63 characters; a long prefix is cut and disambiguated."""
    name = f"{prefix}-{suffix}"
    if len(name) <= NAME_MAX:
        return name
    keep = NAME_MAX - len(suffix) - 8
    return f"{prefix[:keep].rstrip('-')}-{short_hash(prefix, 6)}-{suffix}"


def model_name(endpoint: str, version: str, config_hash: str) -> str:
    return _bounded(f"{endpoint}-{version}", config_hash[:8])


def aws_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tags_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def is_owned(tags: Mapping[str, str], endpoint: str) -> bool:
    return tags.get(MANAGED_BY) == MANAGED_BY_VALUE and tags.get(DEPLOYMENT) == endpoint


def endpoint_tags(desired: DesiredEndpoint) -> dict[str, str]:
    tags = dict(desired.tags)
    if desired.monitoring_hash:
        tags[MONITORING_TAG] = desired.monitoring_hash
    return tags


def version_tags(desired: DesiredEndpoint, version: DesiredVersion) -> dict[str, str]:
    tags = {k: v for k, v in desired.tags.items() if k != MONITORING_TAG}
    tags[VERSION] = version.name
    tags[CONFIG_HASH] = version.config_hash
    return tags


def config_tags(desired: DesiredEndpoint) -> dict[str, str]:
    return {k: v for k, v in desired.tags.items() if k != MONITORING_TAG}


def model_request(
    *,
    name: str,
    role_arn: str,
    image: str,
    model_data_url: str | None,
    environment: Mapping[str, str],
    tags: Mapping[str, str],
    vpc: Any = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": image, "Environment": dict(environment)}
    if model_data_url:
        container["ModelDataUrl"] = model_data_url
    request: dict[str, Any] = {
        "ModelName": name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": container,
        "Tags": aws_tags(tags),
    }
    if vpc is not None:
        request["VpcConfig"] = {
            "Subnets": list(vpc.subnets),
            "SecurityGroupIds": list(vpc.security_group_ids),
        }
    return request


def container_environment(version: DesiredVersion, region: str, framework_image: bool) -> dict[str, str]:
    """The serving container's environment: the framework toolkit runs cloudserve's shim."""
    env: dict[str, str] = {}
    if framework_image:
        env.update(
            SAGEMAKER_PROGRAM="inference.py",
            SAGEMAKER_SUBMIT_DIRECTORY=CONTAINER_SUBMIT_DIR,
            SAGEMAKER_CONTAINER_LOG_LEVEL="20",
            SAGEMAKER_REGION=region,
        )
    env[VERSION_ENV] = version.name
    env.update(version.spec.env)
    return env


def serverless_config(desired: DesiredEndpoint) -> dict[str, int] | None:
    serverless = desired.deployment.spec.compute.serverless
    if serverless is None:
        return None
    # Passed through as given: plan refuses sizes off SageMaker's 1 GB steps (validation.py)
    # rather than rounding up or capping at 6144 behind the user's back.
    return {"MemorySizeInMB": int(serverless.memory), "MaxConcurrency": serverless.max_concurrency}


def production_variant(
    desired: DesiredEndpoint, version: DesiredVersion, model: str, weight: float
) -> dict[str, Any]:
    variant: dict[str, Any] = {
        "VariantName": version.name,
        "ModelName": model,
        "InitialVariantWeight": float(weight),
    }
    serverless = serverless_config(desired)
    if serverless is not None:
        variant["ServerlessConfig"] = serverless
    else:
        variant["InstanceType"] = version.instance_type
        variant["InitialInstanceCount"] = max(version.scaling.min, 1)
    return variant


def data_capture_config(capture: Capture | None, default_destination: str) -> dict[str, Any] | None:
    if capture is None:
        return None
    modes = [{"CaptureMode": m} for m, on in (("Input", capture.request), ("Output", capture.response)) if on]
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": capture.sample_percent,
        "DestinationS3Uri": capture.destination or default_destination,
        "CaptureOptions": modes,
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }


def endpoint_config_request(
    endpoint: str,
    variants: list[dict[str, Any]],
    shadow: list[dict[str, Any]],
    capture: dict[str, Any] | None,
    tags: Mapping[str, str],
    kms_key_id: str | None = None,
) -> dict[str, Any]:
    """The whole config, named by the hash of its content (configs are immutable)."""
    body: dict[str, Any] = {"ProductionVariants": variants}
    if shadow:
        body["ShadowProductionVariants"] = shadow
    if capture:
        body["DataCaptureConfig"] = capture
    if kms_key_id:
        body["KmsKeyId"] = kms_key_id
    name = _bounded(endpoint[: NAME_MAX - 11], short_hash(body))
    return {"EndpointConfigName": name, **body, "Tags": aws_tags(tags)}


def variant_sets(
    desired: DesiredEndpoint,
    models: Mapping[str, str],
    traffic: Mapping[str, int],
    mirror: Mapping[str, int],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Production variants weighted by traffic, and shadow variants for mirrored versions.

    A shadow variant's weight relative to the production variant's is the share of
    requests SageMaker copies to it, so a production weight of 100 makes the shadow
    weight the mirror percentage.
    """
    production, shadow = [], []
    for name, version in desired.versions.items():
        if mirror.get(name, 0) > 0:
            shadow.append(production_variant(desired, version, models[name], mirror[name]))
        else:
            production.append(production_variant(desired, version, models[name], traffic.get(name, 0)))
    return production, shadow


def clean_variant(variant: Mapping[str, Any]) -> dict[str, Any]:
    """A described variant reduced to the keys CreateEndpointConfig accepts."""
    return {k: variant[k] for k in PRODUCTION_VARIANT_KEYS if k in variant}


def weights_from_traffic(traffic: Mapping[str, int]) -> dict[str, float]:
    return {name: float(pct) for name, pct in traffic.items()}


def traffic_from_weights(weights: Mapping[str, float]) -> dict[str, int]:
    """Weights -> integer percents summing to 100 (largest remainder), 0 when all are 0."""
    total = sum(weights.values())
    if total <= 0:
        return {name: 0 for name in weights}
    exact = {n: w * 100.0 / total for n, w in weights.items()}
    floors = {n: math.floor(v) for n, v in exact.items()}
    left = 100 - sum(floors.values())
    for name in sorted(exact, key=lambda n: exact[n] - floors[n], reverse=True)[:left]:
        floors[name] += 1
    return floors


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def scalable_target_request(
    endpoint: str, variant: str, scaling: Scaling, tags: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": SCALABLE_DIMENSION,
        "MinCapacity": max(scaling.min, 1),
        "MaxCapacity": scaling.max,
        "Tags": dict(tags),
    }


def policy_name(endpoint: str, variant: str) -> str:
    return f"cloudserve-{endpoint}-{variant}"


def scaling_policy_request(
    endpoint: str, variant: str, scaling: Scaling, scale_in: float, scale_out: float
) -> dict[str, Any]:
    """Target tracking on invocations per instance (requests/min), or CPU/GPU utilisation."""
    spec: dict[str, Any] = {"TargetValue": float(scaling.autoscale_target or 0)}
    if scaling.autoscale_metric == "requests_per_replica":
        spec["PredefinedMetricSpecification"] = {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        }
    else:
        metric = "CPUUtilization" if scaling.autoscale_metric == "cpu_utilization" else "GPUUtilization"
        spec["CustomizedMetricSpecification"] = {
            "MetricName": metric,
            "Namespace": ENDPOINT_NAMESPACE,
            "Dimensions": [
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": variant},
            ],
            "Statistic": "Average",
        }
    spec["ScaleInCooldown"] = int(scale_in)
    spec["ScaleOutCooldown"] = int(scale_out)
    return {
        "PolicyName": policy_name(endpoint, variant),
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource_id(endpoint, variant),
        "ScalableDimension": SCALABLE_DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": spec,
    }


def scaling_from_aws(
    target: Mapping[str, Any] | None, policy: Mapping[str, Any] | None, count: int
) -> Scaling:
    """Read a variant's scaling back: bounds from its scalable target, metric from its policy."""
    if target is None:
        return Scaling(min=count, max=count)
    metric: str | None = None
    value: float | None = None
    if policy is not None:
        conf = policy.get("TargetTrackingScalingPolicyConfiguration", {})
        value = float(conf.get("TargetValue", 0.0))
        if "PredefinedMetricSpecification" in conf:
            metric = "requests_per_replica"
        else:
            name = conf.get("CustomizedMetricSpecification", {}).get("MetricName")
            metric = "cpu_utilization" if name == "CPUUtilization" else "gpu_utilization"
    return Scaling(
        min=int(target["MinCapacity"]),
        max=int(target["MaxCapacity"]),
        autoscale_metric=metric,
        autoscale_target=value,
    )


def needs_scalable_target(scaling: Scaling) -> bool:
    """A target records the replica range; registered only when there is a range."""
    return scaling.autoscale_metric is not None or scaling.max > max(scaling.min, 1)


def invocation_url(region: str, endpoint: str) -> str:
    return f"https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{endpoint}/invocations"
