"""The SageMaker adapter's own behaviour on the emulator: which calls, which resources, which errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve.desired import build_desired
from cloudserve.errors import DeploymentFailed, Throttled, Unavailable
from cloudserve.provider import Feature, Status, Support
from cloudserve.tags import CONFIG_HASH, DEPLOYMENT, MANAGED_BY
from cloudserve.testing.conformance import apply_spec, wait


def test_importing_the_provider_imports_no_sdk() -> None:
    code = (
        "import sys, cloudserve_sagemaker.provider;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('boto3','botocore','sagemaker','moto')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_every_feature_is_declared(provider: SageMakerProvider) -> None:
    caps = provider.capabilities()
    assert set(caps) == set(Feature)
    assert (
        caps[Feature.DRIFT_MONITORING].support is Support.EMULATED and caps[Feature.DRIFT_MONITORING].reason
    )


def test_client_keeps_botocore_validation(provider: SageMakerProvider, emulator: SageMakerEmulator) -> None:
    for service in ("sagemaker", "sagemaker-runtime", "s3", "application-autoscaling", "cloudwatch"):
        assert provider.aws.client(service).meta.config.parameter_validation is True


def test_create_translates_the_spec(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(
        "churn",
        versions={"stable": "a", "candidate": "b"},
        traffic={"stable": 90, "candidate": 10},
        compute={"cpu": 2, "memory": "4Gi", "replicas": {"min": 1, "max": 4}, "autoscale": {"target": 50}},
        capture={"sample_percent": 20},
    )
    apply_spec(provider, spec)
    sm = emulator.client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName="churn")
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert set(variants) == {"stable", "candidate"}
    assert variants["stable"]["InstanceType"] == "ml.c5.large"
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == "s3://artifacts/cloudserve/capture/churn"
    model = sm.describe_model(ModelName=variants["stable"]["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"].startswith("s3://artifacts/cloudserve/models/")
    assert "sagemaker-scikit-learn:1.4-2-py312-cpu-py3" in model["PrimaryContainer"]["Image"]  # Python 3.12
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=model["ModelArn"])["Tags"]}
    desired = build_desired(spec, provider)
    assert tags[CONFIG_HASH] == desired.versions["stable"].config_hash and tags[DEPLOYMENT] == "churn"
    scaling = emulator.client("application-autoscaling")
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert {(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets} == {
        ("endpoint/churn/variant/stable", 1, 4),
        ("endpoint/churn/variant/candidate", 1, 4),
    }
    policy = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    conf = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (
        conf["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    observed = provider.observe("churn")
    assert observed is not None and observed.capture_percent == 20
    assert observed.versions["stable"].scaling == desired.versions["stable"].scaling


def test_traffic_only_change_moves_weights_in_place(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    apply_spec(
        provider,
        make_spec(
            "churn", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 90, "candidate": 10}
        ),
    )
    before = dict(emulator.calls)
    apply_spec(
        provider,
        make_spec(
            "churn", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 50, "candidate": 50}
        ),
    )
    delta = {k: v - before.get(k, 0) for k, v in emulator.calls.items() if v != before.get(k, 0)}
    assert delta.get("UpdateEndpointWeightsAndCapacities") == 1
    assert (
        "UpdateEndpoint" not in delta and "CreateEndpointConfig" not in delta and "CreateModel" not in delta
    )
    observed = provider.observe("churn")
    assert observed is not None and observed.traffic == {"stable": 50, "candidate": 50}


def test_model_change_rolls_a_new_config_and_cleans_up(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    apply_spec(provider, make_spec("churn", versions={"stable": "a"}))
    old = emulator.client("sagemaker").describe_endpoint(EndpointName="churn")["EndpointConfigName"]
    before = dict(emulator.calls)
    apply_spec(provider, make_spec("churn", versions={"stable": "b"}))
    assert emulator.calls["UpdateEndpoint"] - before.get("UpdateEndpoint", 0) == 1
    assert emulator.calls.get("UpdateEndpointWeightsAndCapacities", 0) == before.get(
        "UpdateEndpointWeightsAndCapacities", 0
    )
    assert old not in emulator.backend.endpoint_configs  # the superseded config is gone
    assert len(emulator.backend._models) == 1  # and so is the superseded model


def test_destroy_removes_only_what_cloudserve_created(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    sm = emulator.client("sagemaker")
    sm.create_model(
        ModelName="churn-someone-else",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/x",
        PrimaryContainer={"Image": "img"},
    )
    apply_spec(
        provider,
        make_spec(
            "churn",
            versions={"stable": "a"},
            compute={"replicas": {"min": 1, "max": 3}, "autoscale": {"target": 10}},
        ),
    )
    wait(provider.delete_endpoint("churn"))
    assert provider.observe("churn") is None
    assert list(emulator.backend._models) == ["churn-someone-else"]
    assert not emulator.backend.endpoint_configs
    targets = emulator.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )
    assert targets["ScalableTargets"] == []


def test_destroy_refuses_an_endpoint_it_does_not_own(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    apply_spec(provider, make_spec("churn", versions={"stable": "a"}))
    arn = emulator.client("sagemaker").describe_endpoint(EndpointName="churn")["EndpointArn"]
    emulator.client("sagemaker").delete_tags(ResourceArn=arn, TagKeys=[MANAGED_BY])
    with pytest.raises(Exception, match="not created by cloudserve"):
        provider.delete_endpoint("churn")


def test_failed_endpoint_reason_reaches_the_user(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    emulator.fail_endpoint("churn", "CannotStartContainerError: the primary container exited")
    desired = build_desired(make_spec("churn", versions={"stable": "a"}), provider)
    op = provider.create_endpoint(desired)
    assert op.poll() is False  # still Creating
    with pytest.raises(DeploymentFailed, match="CannotStartContainerError"):
        wait(op)
    observed = provider.observe("churn")
    assert observed is not None and observed.status is Status.FAILED
    assert "CannotStartContainerError" in (observed.failure_reason or "")


def test_failed_update_rolls_back_and_says_why(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    apply_spec(provider, make_spec("churn", versions={"stable": "a"}))
    config = emulator.client("sagemaker").describe_endpoint(EndpointName="churn")["EndpointConfigName"]
    emulator.fail_endpoint("churn", "ping health check failed")
    spec = make_spec("churn", versions={"stable": "b"})
    desired = build_desired(spec, provider)
    with pytest.raises(DeploymentFailed, match="ping health check failed"):
        wait(provider.replace_version(desired, desired.versions["stable"]))
    assert (
        emulator.client("sagemaker").describe_endpoint(EndpointName="churn")["EndpointConfigName"] == config
    )


def test_throttling_and_5xx_become_retryable_errors_with_request_ids(
    provider: SageMakerProvider, emulator: SageMakerEmulator
) -> None:
    emulator.fail_next("DescribeEndpoint", code="ThrottlingException")
    with pytest.raises(Throttled) as throttled:
        provider.observe("churn")
    assert throttled.value.request_id and throttled.value.retry_after is not None
    assert throttled.value.__cause__ is not None
    emulator.fail_next("DescribeEndpoint", code="InternalFailure", status=500)
    with pytest.raises(Unavailable) as failed:
        provider.observe("churn")
    assert failed.value.request_id


def test_botocore_retries_absorb_a_single_throttle(settings, make_spec) -> None:  # type: ignore[no-untyped-def]
    with SageMakerEmulator(botocore_retries=True) as aws:
        aws.fail_next("DescribeEndpoint", code="ThrottlingException", times=1)
        provider = SageMakerProvider(settings)
        assert provider.observe("missing") is None  # retried once inside botocore, then NotFound


def test_metrics_read_per_variant_cloudwatch(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    apply_spec(
        provider,
        make_spec(
            "churn", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 90, "candidate": 10}
        ),
    )
    emulator.put_variant_metrics(
        "churn",
        "candidate",
        invocations=200,
        errors_5xx=10,
        errors_4xx=2,
        latencies_ms=[float(i) for i in range(1, 101)],
    )
    emulator.put_variant_metrics("churn", "stable", invocations=1000, latencies_ms=[5.0] * 10)
    metrics = provider.metrics("churn", ["stable", "candidate"], 300)
    assert metrics["candidate"].requests == 200 and metrics["candidate"].errors == 10
    assert metrics["candidate"].client_errors == 2 and metrics["candidate"].client_error_rate == 0.01
    assert metrics["candidate"].error_rate == pytest.approx(0.05)
    assert metrics["candidate"].latency_p50_ms == pytest.approx(50.5)
    assert metrics["candidate"].latency_p99_ms == pytest.approx(99.01)
    assert metrics["stable"].errors == 0 and metrics["stable"].latency_p99_ms == pytest.approx(5.0)


def test_invoke_records_metrics_and_honours_weights(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    apply_spec(
        provider,
        make_spec(
            "churn", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 80, "candidate": 20}
        ),
    )
    seen = [provider.invoke("churn", {"instances": [[5.1, 3.5, 1.4, 0.2]]}).version for _ in range(10)]
    assert seen.count("stable") == 8 and seen.count("candidate") == 2
    metrics = provider.metrics("churn", ["stable", "candidate"], 60)
    assert metrics["stable"].requests == 8 and metrics["candidate"].requests == 2
    assert metrics["stable"].latency_p50_ms is not None


def test_mirror_uses_a_shadow_variant(
    provider: SageMakerProvider, emulator: SageMakerEmulator, make_spec
) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(
        "churn", versions={"stable": "a", "shadow": "b"}, traffic={"stable": 100}, mirror={"shadow": 25}
    )
    assert provider.validate(build_desired(spec, provider)) == []
    apply_spec(provider, spec)
    config = emulator.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=emulator.client("sagemaker").describe_endpoint(EndpointName="churn")[
            "EndpointConfigName"
        ]
    )
    assert [v["VariantName"] for v in config["ShadowProductionVariants"]] == ["shadow"]
    observed = provider.observe("churn")
    assert observed is not None and observed.mirror == {"shadow": 25}
    provider.invoke("churn", {"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert provider.metrics("churn", ["shadow"], 60)["shadow"].requests == 1  # the copy was served


def test_write_tags_sets_and_removes(provider: SageMakerProvider, make_spec) -> None:  # type: ignore[no-untyped-def]
    apply_spec(provider, make_spec("churn", versions={"stable": "a"}))
    provider.write_tags("churn", {"cloudserve-lease": "me:123"})
    provider.write_tags("churn", {"cloudserve-lease": "you:456"})
    observed = provider.observe("churn")
    assert observed is not None and observed.tags["cloudserve-lease"] == "you:456"
    provider.write_tags("churn", {"cloudserve-lease": None})
    observed = provider.observe("churn")
    assert observed is not None and "cloudserve-lease" not in observed.tags


def test_a_settings_update_keeps_every_key_of_the_rollout_record(  # type: ignore[no-untyped-def]
    provider: SageMakerProvider, make_spec
) -> None:
    """Issue 15: _sync_tags kept only cloudserve-rollout and the lease, so a labels change
    deleted the record's other keys (-steps, -why, ...) and the record could not be read back."""
    from cloudserve.planner import make_plan

    apply_spec(provider, make_spec("churn", versions={"stable": "a"}))
    record = {
        "cloudserve-rollout": "paused",
        "cloudserve-rollout-steps": "10-50-100",
        "cloudserve-rollout-why": "x",
    }
    provider.write_tags("churn", record)
    spec = make_spec("churn", versions={"stable": "a"})
    assert [a.describe() for a in make_plan(spec, provider).actions] == []  # the record is not a diff
    relabelled = spec.model_copy(
        update={"metadata": spec.metadata.model_copy(update={"labels": {"team": "platform"}})}
    )
    apply_spec(provider, relabelled)
    observed = provider.observe("churn")
    assert observed is not None and observed.tags["team"] == "platform"
    assert {k: observed.tags.get(k) for k in record} == record
