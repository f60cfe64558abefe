"""Issue 13: cloud rules both plan and the emulator enforce, each written on its own side.

Every case shows plan refusing the spec before any API call and the emulator rejecting the
raw SDK request SageMaker would refuse, with SageMaker's ValidationException shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.settings import SageMakerSettings
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve.desired import build_desired

ROLE = "arn:aws:iam::123456789012:role/serving"
SERVERLESS = {"serverless": {"memory": "2Gi"}}


def _plan(
    make_spec: Any, versions: dict[str, str], settings: dict[str, Any] | None = None, **spec: Any
) -> list[str]:
    base: dict[str, Any] = {"region": "us-east-1", "role_arn": ROLE, "bucket": "b"}
    provider = SageMakerProvider(SageMakerSettings(**{**base, **(settings or {})}), offline=True)
    traffic = spec.pop("traffic", None)
    labels = spec.pop("labels", None)
    # a version named after a model key ("a") serves that model; any other value is its URI
    deployment = make_spec(
        "churn", versions={v: k if len(k) == 1 else "a" for v, k in versions.items()}, traffic=traffic, **spec
    )
    for v, uri in versions.items():
        if len(uri) > 1:
            model = deployment.spec.versions[v].model
            assert model is not None
            model.uri = uri
    if labels is not None:
        deployment.metadata.labels = labels
    return provider.validate(build_desired(deployment, provider))


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


# --- the rest of the README table: one case per row not covered above ---------------------
def _sm(emulator: SageMakerEmulator) -> Any:
    sm = emulator.client("sagemaker")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    return sm


def _instances(name: str = "a", **extra: Any) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": "m",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        **extra,
    }


def _served(emulator: SageMakerEmulator) -> Any:
    sm = _sm(emulator)
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[_instances()])
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
    emulator.settle()  # InService: weights and capacities update only then
    return sm


# rule -> (spec: versions, settings, spec fields | None, plan text, request | None, emulator text).
# A None side is the README's "(plan only)" / "(emulator only)".
RULES: dict[str, tuple[dict[str, Any] | None, str, Callable[[SageMakerEmulator], object] | None, str]] = {
    "role-arn": (
        dict(versions={"a": "a"}, settings={"role_arn": "arn:aws:iam::12:role/serving"}),
        "targets.sagemaker.role_arn",
        lambda e: e.client("sagemaker").create_model(
            ModelName="m", ExecutionRoleArn="arn:aws:iam::12:role/serving", PrimaryContainer={"Image": "i"}
        ),
        "executionRoleArn' failed to satisfy constraint",
    ),
    "model-uri": (
        dict(versions={"a": "gs://bucket/model.tar.gz"}),
        "versions.a.model.uri",
        lambda e: e.client("sagemaker").create_model(
            ModelName="m",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": "i", "ModelDataUrl": "gs://bucket/model.tar.gz"},
        ),
        "modelDataUrl' failed to satisfy constraint",
    ),
    "staging-bucket": (
        dict(versions={"a": "a"}, settings={"bucket": None}),
        "targets.sagemaker.bucket is required",
        None,
        "",
    ),
    "capture-destination": (
        dict(versions={"a": "a"}, capture={"sample_percent": 10, "destination": "gs://bucket/capture"}),
        "capture.destination must be an s3:// URI",
        lambda e: _sm(e).create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[_instances()],
            DataCaptureConfig={
                "InitialSamplingPercentage": 10,
                "DestinationS3Uri": "gs://bucket/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}],
            },
        ),
        "destinationS3Uri' failed to satisfy constraint",
    ),
    "shadow-pairing": (
        dict(versions={"a": "a", "b": "b", "c": "b"}, traffic={"a": 100}, mirror={"b": 10, "c": 10}),
        "pairs exactly one live version",
        lambda e: _sm(e).create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[_instances("a")],
            ShadowProductionVariants=[_instances("b"), _instances("c")],
        ),
        "exactly one ProductionVariant and one ShadowProductionVariant",
    ),
    "production-variants-max": (
        dict(versions={f"v{i}": "a" for i in range(11)}, traffic={"v0": 100}),
        "at most 10 production variants",
        lambda e: _sm(e).create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[_instances(f"v{i}") for i in range(11)]
        ),
        "less than or equal to 10",
    ),
    "instance-type": (
        dict(versions={"a": "a"}, compute={"instance_type": {"sagemaker": "c5.xlarge"}}),
        "compute.instance_type.sagemaker 'c5.xlarge'",
        lambda e: _sm(e).create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[_instances(InstanceType="c5.xlarge")]
        ),
        "Member must satisfy enum value set",
    ),
    "min-instances": (
        dict(versions={"a": "a"}, compute={"replicas": {"min": 0, "max": 2}}),
        "replicas.min >= 1",
        lambda e: _served(e).update_endpoint_weights_and_capacities(
            EndpointName="e", DesiredWeightsAndCapacities=[{"VariantName": "a", "DesiredInstanceCount": 0}]
        ),
        "DesiredInstanceCount must be at least 1",
    ),
    "serverless-scaling": (
        dict(versions={"a": "a"}, compute={**SERVERLESS, "replicas": {"min": 1, "max": 3}}),
        "scale by max_concurrency",
        lambda e: _sm(e).create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[_variant(InitialInstanceCount=2)]
        ),
        "cannot be combined with InstanceType or InitialInstanceCount",
    ),
    "gpu-autoscale": (
        dict(
            versions={"a": "a"},
            compute={
                "replicas": {"min": 1, "max": 2},
                "autoscale": {"metric": "gpu_utilization", "target": 50},
            },
        ),
        "gpu_utilization needs compute.accelerator",
        None,
        "",
    ),
    "tag-value": (
        dict(versions={"a": "a"}, labels={"team": "a#b"}),
        "AWS tag values allow",
        lambda e: e.client("sagemaker").add_tags(
            ResourceArn=_sm(e).describe_model(ModelName="m")["ModelArn"],
            Tags=[{"Key": "team", "Value": "a#b"}],
        ),
        "value' failed to satisfy constraint",
    ),
    "offline-archive": (
        dict(versions={"a": "s3://bucket/model.tar.gz"}, settings={"offline": True}),
        "targets.sagemaker.offline",
        None,
        "",
    ),
    "native-monitoring-serverless": (
        dict(
            versions={"a": "a"},
            settings={"native_monitoring": True},
            compute=SERVERLESS,
            monitoring={"drift": {"baseline": "s3://bucket/train.csv"}},
        ),
        "native_monitoring: SageMaker Model Monitor does not cover serverless",
        None,
        "",
    ),
    "network-isolation-serverless": (
        None,
        "",
        lambda e: _isolated(e).create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[_variant()]
        ),
        "enables network isolation",
    ),
    "endpoint-name": (
        None,
        "",
        lambda e: e.client("sagemaker").create_endpoint(EndpointName="churn_v1", EndpointConfigName="c"),
        "endpointName' failed to satisfy constraint",
    ),
    "variant-weights": (
        None,
        "",
        lambda e: _sm(e).create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[_instances(InitialVariantWeight=0)]
        ),
        "must be greater than 0",
    ),
    "variant-names-unique": (
        None,
        "",
        lambda e: _sm(e).create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[_instances("a"), _instances("a")]
        ),
        "Variant names must be unique",
    ),
}


def _isolated(emulator: SageMakerEmulator) -> Any:
    sm = emulator.client("sagemaker")
    sm.create_model(
        ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"}, EnableNetworkIsolation=True
    )
    return sm


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_refused_by_plan_and_by_the_emulator(
    rule: str, make_spec: Any, emulator: SageMakerEmulator
) -> None:
    spec, plan_match, request, emulator_match = RULES[rule]
    if spec is not None:
        spec = dict(spec)
        problems = _plan(make_spec, spec.pop("versions"), spec.pop("settings", None), **spec)
        assert any(plan_match in p for p in problems), problems
    if request is not None:
        with pytest.raises(ClientError, match=emulator_match) as caught:
            request(emulator)
        assert caught.value.response["Error"]["Code"] == "ValidationException"


# README rows tested by the tests above this section, by rule name.
TESTED_ABOVE = {
    "serverless-gpu": "gpu",
    "serverless-capture": "capture",
    "serverless-one-variant": "multiple_variants",
    "serverless-canary": "canary",
    "serverless-kms": "kms",
    "serverless-memory": "memory_step, memory_cap",
    "serverless-vpc": "test_serverless_excludes_vpc",
    "cpu-utilization": "test_cpu_utilization_target_is_summed_over_cores",
    "tag-budget": "test_tag_budget_is_50",
}


def test_the_readme_table_and_the_cases_name_the_same_rules() -> None:
    from pathlib import Path

    from cloudserve.testing.rule_table import readme_rule_names

    rows = readme_rule_names(Path(__file__).parents[1] / "README.md")
    assert sorted(rows) == sorted({*RULES, *TESTED_ABOVE})
