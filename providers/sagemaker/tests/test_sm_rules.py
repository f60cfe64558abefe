"""Issue 13: cloud rules both plan and the emulator enforce, each written on its own side.

Every case shows plan refusing the spec before any API call and the emulator rejecting the
raw SDK request SageMaker would refuse, with SageMaker's ValidationException shape."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve.desired import build_desired
from cloudserve.spec.models import SageMakerSettings

ROLE = "arn:aws:iam::123456789012:role/serving"
SERVERLESS = {"serverless": {"memory": "2Gi"}}


def _plan(
    make_spec: Any, versions: dict[str, str], settings: dict[str, Any] | None = None, **spec: Any
) -> list[str]:
    provider = SageMakerProvider(
        SageMakerSettings(region="us-east-1", role_arn=ROLE, bucket="b", **(settings or {})), offline=True
    )
    traffic = spec.pop("traffic", None)
    return provider.validate(
        build_desired(make_spec("churn", versions=versions, traffic=traffic, **spec), provider)
    )


def _variant(name: str = "a", **extra: Any) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": "m",
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
        **extra,
    }


CASES = {
    "gpu": (
        dict(versions={"a": "a"}, compute={**SERVERLESS, "accelerator": {"type": "t4", "count": 1}}),
        "no GPUs",
        dict(ProductionVariants=[_variant(AcceleratorType="ml.eia2.medium")]),
        "AcceleratorType is not supported",
    ),
    "capture": (
        dict(versions={"a": "a"}, compute=SERVERLESS, capture={"sample_percent": 100}),
        "capture: SageMaker serverless",
        dict(
            ProductionVariants=[_variant()],
            DataCaptureConfig={
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": "s3://b/c",
                "CaptureOptions": [{"CaptureMode": "Input"}],
            },
        ),
        "DataCaptureConfig is not supported",
    ),
    "multiple_variants": (
        dict(versions={"a": "a", "b": "b"}, traffic={"a": 50, "b": 50}, compute=SERVERLESS),
        "one production variant",
        dict(ProductionVariants=[_variant("a"), _variant("b")]),
        "single ProductionVariant",
    ),
    "canary": (
        dict(versions={"a": "a"}, compute=SERVERLESS, rollout={"strategy": "canary"}),
        "rollout.strategy canary",
        dict(ProductionVariants=[_variant("a"), _variant("canary")]),
        "single ProductionVariant",
    ),
    "kms": (
        dict(versions={"a": "a"}, compute=SERVERLESS, settings={"kms_key_id": "k"}),
        "kms_key_id",
        dict(ProductionVariants=[_variant()], KmsKeyId="k"),
        "KmsKeyId is not supported",
    ),
    "memory_step": (
        dict(versions={"a": "a"}, compute={"serverless": {"memory": "1536Mi"}}),
        "1024 MB steps",
        dict(ProductionVariants=[_variant(ServerlessConfig={"MemorySizeInMB": 1536, "MaxConcurrency": 5})]),
        "Member must be one of 1024",
    ),
    "memory_cap": (
        dict(versions={"a": "a"}, compute={"serverless": {"memory": "8Gi"}}),
        "1024-6144 MB",
        dict(ProductionVariants=[_variant(ServerlessConfig={"MemorySizeInMB": 8192, "MaxConcurrency": 5})]),
        "6144",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_serverless_feature_exclusions(case: str, make_spec: Any, emulator: SageMakerEmulator) -> None:
    spec, plan_match, request, emulator_match = CASES[case]
    spec = dict(spec)
    problems = _plan(make_spec, spec.pop("versions"), spec.pop("settings", None), **spec)
    assert any(plan_match in p for p in problems), problems
    assert any("Feature exclusions" in p or "MemorySizeInMB" in p for p in problems)
    sm = emulator.client("sagemaker")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    with pytest.raises(ClientError, match=emulator_match) as caught:
        sm.create_endpoint_config(EndpointConfigName="c", **request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_serverless_excludes_vpc(make_spec: Any, emulator: SageMakerEmulator) -> None:
    vpc = {"subnets": ["subnet-1"], "security_group_ids": ["sg-1"]}
    problems = _plan(make_spec, {"a": "a"}, {"vpc": vpc}, compute=SERVERLESS)
    assert any("targets.sagemaker.vpc" in p and "Feature exclusions" in p for p in problems), problems
    sm = emulator.client("sagemaker")
    sm.create_model(
        ModelName="m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "img"},
        VpcConfig={"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
    )
    with pytest.raises(ClientError, match="VPC is not supported") as caught:
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[_variant()])
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_serverless_at_a_whole_size_passes_both(make_spec: Any, emulator: SageMakerEmulator) -> None:
    assert _plan(make_spec, {"a": "a"}, compute={"serverless": {"memory": "3Gi"}}) == []
    sm = emulator.client("sagemaker")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[_variant()])


def test_cpu_utilization_target_is_summed_over_cores(make_spec: Any) -> None:
    auto = {"metric": "cpu_utilization", "target": 70}
    compute = {
        "replicas": {"min": 1, "max": 3},
        "autoscale": auto,
        "instance_type": {"sagemaker": "ml.c5.xlarge"},
    }
    problems = _plan(make_spec, {"a": "a"}, compute=compute)
    assert any("summed over cores" in p and "ml.c5.xlarge" in p for p in problems), problems


def test_tag_budget_is_50(make_spec: Any, emulator: SageMakerEmulator) -> None:
    labels = {f"k{i}": "v" for i in range(45)}
    spec = make_spec("churn", versions={"a": "a"})
    spec = spec.model_copy(update={"metadata": spec.metadata.model_copy(update={"labels": labels})})
    provider = SageMakerProvider(
        SageMakerSettings(region="us-east-1", role_arn=ROLE, bucket="b"), offline=True
    )
    problems = provider.validate(build_desired(spec, provider))
    assert any("metadata.labels" in p and "50" in p and "botocore" in p for p in problems), problems
    sm = emulator.client("sagemaker")
    arn = sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})["ModelArn"]
    with pytest.raises(ClientError) as caught:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
