"""Reading a SageMaker endpoint back: the live facts every write starts from.

Writes never trust what the spec says is deployed; they start from the endpoint as it
is (config, live weights, scaling), because another process may have moved traffic or a
rollout may be half-way. :class:`LiveEndpoint` is that snapshot; :func:`to_state` turns
it into the neutral :class:`EndpointState` the core diffs against.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudserve.errors import NotFound
from cloudserve.provider import EndpointState, Scaling, Status, VersionState
from cloudserve.tags import CONFIG_HASH, is_rollout_bookkeeping
from cloudserve_sagemaker import translate as tr
from cloudserve_sagemaker.client import AwsClients


@dataclass
class LiveEndpoint:
    name: str
    arn: str
    status: str
    failure_reason: str | None
    config_name: str
    production: list[dict[str, Any]]  # request-shaped variants, live weights applied
    shadow: list[dict[str, Any]]
    capture: dict[str, Any] | None
    kms_key_id: str | None
    tags: dict[str, str]
    model_tags: dict[str, dict[str, str]] = field(default_factory=dict)  # by variant
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)  # by variant
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # by variant
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def variants(self) -> list[dict[str, Any]]:
        return [*self.production, *self.shadow]

    @property
    def models(self) -> dict[str, str]:
        return {v["VariantName"]: v["ModelName"] for v in self.variants}

    def scaling(self, variant: dict[str, Any]) -> Scaling:
        name = variant["VariantName"]
        if "ServerlessConfig" in variant:
            return Scaling(min=1, max=1)
        return tr.scaling_from_aws(
            self.targets.get(name), self.policies.get(name), int(variant.get("InitialInstanceCount", 1))
        )


def _live_weights(described: dict[str, Any]) -> dict[str, float]:
    # A variant at weight 0 may come back without weight keys (moto does this): 0.
    return {
        v["VariantName"]: float(v.get("CurrentWeight", v.get("DesiredWeight", 0.0)))
        for v in described.get("ProductionVariants", [])
    }


def _live_counts(described: dict[str, Any]) -> dict[str, int]:
    return {
        v["VariantName"]: int(v["CurrentInstanceCount"])
        for v in described.get("ProductionVariants", [])
        if "CurrentInstanceCount" in v
    }


def read_live(aws: AwsClients, name: str, *, with_details: bool = True) -> LiveEndpoint | None:
    try:
        ep = aws.call("sagemaker", "describe_endpoint", EndpointName=name)
    except NotFound:
        return None
    config = aws.call_immutable(
        "sagemaker", "describe_endpoint_config", EndpointConfigName=ep["EndpointConfigName"]
    )
    weights = _live_weights(ep)
    counts = _live_counts(ep)
    production = []
    for variant in config.get("ProductionVariants", []):
        clean = tr.clean_variant(variant)
        clean["InitialVariantWeight"] = weights.get(
            clean["VariantName"], clean.get("InitialVariantWeight", 0.0)
        )
        if "InitialInstanceCount" in clean and clean["VariantName"] in counts:
            clean["InitialInstanceCount"] = max(counts[clean["VariantName"]], 1)
        production.append(clean)
    live = LiveEndpoint(
        name=name,
        arn=ep["EndpointArn"],
        status=ep["EndpointStatus"],
        failure_reason=ep.get("FailureReason"),
        config_name=ep["EndpointConfigName"],
        production=production,
        shadow=[tr.clean_variant(v) for v in config.get("ShadowProductionVariants", [])],
        capture=config.get("DataCaptureConfig"),
        kms_key_id=config.get("KmsKeyId"),
        tags=tr.tags_dict(aws.call("sagemaker", "list_tags", ResourceArn=ep["EndpointArn"]).get("Tags")),
        raw=ep,
    )
    if with_details:
        _read_details(aws, live)
    return live


def _read_details(aws: AwsClients, live: LiveEndpoint) -> None:
    for variant in live.variants:
        try:
            model = aws.call_immutable("sagemaker", "describe_model", ModelName=variant["ModelName"])
            tags = aws.call_immutable("sagemaker", "list_tags", ResourceArn=model["ModelArn"]).get("Tags")
            live.model_tags[variant["VariantName"]] = tr.tags_dict(tags)
        except NotFound:
            live.model_tags[variant["VariantName"]] = {}
    ids = {tr.resource_id(live.name, v["VariantName"]): v["VariantName"] for v in live.production}
    if not ids:
        return
    targets = aws.call(
        "application-autoscaling",
        "describe_scalable_targets",
        ServiceNamespace="sagemaker",
        ResourceIds=list(ids),
        ScalableDimension=tr.SCALABLE_DIMENSION,
    )
    for target in targets.get("ScalableTargets", []):
        live.targets[ids[target["ResourceId"]]] = target
    if live.targets:
        policies = aws.call(
            "application-autoscaling",
            "describe_scaling_policies",
            ServiceNamespace="sagemaker",
            PolicyNames=[tr.policy_name(live.name, v) for v in live.targets],
        )
        for policy in policies.get("ScalingPolicies", []):
            if policy["ResourceId"] in ids:
                live.policies[ids[policy["ResourceId"]]] = policy


def to_state(live: LiveEndpoint, region: str) -> EndpointState:
    status = tr.STATUS.get(live.status, Status.UPDATING)
    versions = {}
    for variant in live.variants:
        name = variant["VariantName"]
        versions[name] = VersionState(
            name=name,
            config_hash=live.model_tags.get(name, {}).get(CONFIG_HASH),
            status=status,
            scaling=live.scaling(variant),
            instance_type=variant.get("InstanceType"),
            failure_reason=live.failure_reason if status is Status.FAILED else None,
            details={"model": variant["ModelName"], "serverless": variant.get("ServerlessConfig")},
        )
    traffic = tr.traffic_from_weights(
        {v["VariantName"]: v.get("InitialVariantWeight", 0.0) for v in live.production}
    )
    for variant in live.shadow:
        traffic[variant["VariantName"]] = 0
    base = sum(v.get("InitialVariantWeight", 0.0) for v in live.production) or 100.0
    mirror = {
        v["VariantName"]: round(float(v.get("InitialVariantWeight", 0.0)) * 100.0 / base) for v in live.shadow
    }
    capture = live.capture or {}
    return EndpointState(
        name=live.name,
        status=status,
        versions=versions,
        traffic=traffic,
        mirror=mirror,
        tags={k: v for k, v in live.tags.items() if k != tr.MONITORING_TAG},
        capture_percent=int(capture["InitialSamplingPercentage"]) if capture.get("EnableCapture") else None,
        monitoring_hash=live.tags.get(tr.MONITORING_TAG),
        url=tr.invocation_url(region, live.name),
        failure_reason=live.failure_reason,
        details={"endpoint_config": live.config_name, "arn": live.arn},
    )


def config_tags_of(live: LiveEndpoint) -> dict[str, str]:
    """The endpoint's tags as its configs and models carry them (no rollout, lease or drift)."""
    return {k: v for k, v in live.tags.items() if not is_rollout_bookkeeping(k) and k != tr.MONITORING_TAG}


def cooldowns_of(live: LiveEndpoint) -> dict[str, tuple[float, float]]:
    out = {}
    for variant, policy in live.policies.items():
        conf = policy.get("TargetTrackingScalingPolicyConfiguration", {})
        out[variant] = (float(conf.get("ScaleInCooldown", 300)), float(conf.get("ScaleOutCooldown", 60)))
    return out


def capture_key(capture: Mapping[str, Any] | None) -> Any:
    """What decides whether two DataCaptureConfigs capture the same way."""
    if not capture or not capture.get("EnableCapture", True):
        return None
    return (
        capture.get("InitialSamplingPercentage"),
        capture.get("DestinationS3Uri"),
        json.dumps(capture.get("CaptureOptions"), sort_keys=True),
    )
