"""Issue 13 item 4: metric reads name only what CloudWatch publishes for SageMaker.

The emulator's table (``_metric_rules``) is written from the AWS documentation apart from
the adapter's queries; each case sends a raw SDK request the adapter could get wrong and
shows the emulator refusing it, and the adapter's own queries pass it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudserve_sagemaker import metrics, native
from cloudserve_sagemaker.testing import SageMakerEmulator
from cloudserve_sagemaker.translate import resource_id, scaling_policy_request

from cloudserve.provider import Scaling

VARIANT = [{"Name": "EndpointName", "Value": "churn"}, {"Name": "VariantName", "Value": "a"}]


def _get(emulator: SageMakerEmulator, metric: str, stat: str, dims: list[dict[str, str]] = VARIANT) -> Any:
    end = datetime.now(UTC)
    return emulator.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dims},
                    "Period": 60,
                    "Stat": stat,
                },
            }
        ],
        StartTime=end - timedelta(minutes=5),
        EndTime=end,
    )


@pytest.mark.parametrize(
    ("metric", "stat", "dims", "says"),
    [
        ("Invocation5xxErrors", "Sum", VARIANT, "publishes no metric 'Invocation5xxErrors'"),
        ("Invocations", "Sum", VARIANT[:1], "has dimensions {EndpointName, VariantName}"),
        ("Invocations", "p99", VARIANT, "valid statistics are SampleCount, Sum, not p99"),
        ("ModelLatency", "p99.9", [*VARIANT, {"Name": "Region", "Value": "x"}], "not {EndpointName, Region"),
    ],
)
def test_get_metric_data_names_only_published_metrics(
    emulator: SageMakerEmulator, metric: str, stat: str, dims: list[dict[str, str]], says: str
) -> None:
    with pytest.raises(ClientError) as caught:
        _get(emulator, metric, stat, dims)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert says in caught.value.response["Error"]["Message"]


def test_published_metrics_and_percentiles_pass(emulator: SageMakerEmulator) -> None:
    assert _get(emulator, "ModelLatency", "p99.9")["MetricDataResults"][0]["Values"] == []
    assert _get(emulator, "Invocation4XXErrors", "Average")["MetricDataResults"][0]["Values"] == []


def test_the_adapters_reads_alarms_and_policies_match_the_table(emulator: SageMakerEmulator) -> None:
    from cloudserve_sagemaker.emulator import metric_rules as _metric_rules

    queries = metrics.metric_queries("churn", ["a", "b"], 60)
    assert _metric_rules.query_problems(queries, "MetricDataQueries") == []
    for autoscale in ("requests_per_replica", "cpu_utilization", "gpu_utilization"):
        scaling = Scaling(min=1, max=2, autoscale_metric=autoscale, autoscale_target=50)
        request = scaling_policy_request("churn", "a", scaling, 300, 60)
        assert _metric_rules.scaling_policy_problems(request) == []
    assert set(native._GATE_METRICS) >= {"latency_p99_ms", "error_rate"}


def test_an_alarm_on_an_unpublished_metric_is_refused(emulator: SageMakerEmulator) -> None:
    with pytest.raises(ClientError) as caught:
        emulator.client("cloudwatch").put_metric_alarm(
            AlarmName="gate",
            Metrics=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/SageMaker",
                            "MetricName": "Latency",
                            "Dimensions": VARIANT,
                        },
                        "Period": 60,
                        "Stat": "p99",
                    },
                }
            ],
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Metrics.member.1.MetricStat: SageMaker publishes no metric 'Latency'" in str(caught.value)


def test_cloudwatch_checks_member_limits_on_the_server(emulator: SageMakerEmulator) -> None:
    """botocore checks min lengths on the client; AlarmName's max of 255 is the server's."""
    with pytest.raises(ClientError) as caught:
        emulator.client("cloudwatch").describe_alarms(AlarmNamePrefix="x" * 256)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "length less than or equal to 255" in caught.value.response["Error"]["Message"]


def _register(emulator: SageMakerEmulator) -> Any:
    client = emulator.client("application-autoscaling")
    client.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id("churn", "a"),
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
    )
    return client


def test_a_scaling_policy_on_an_unpublished_metric_is_refused(emulator: SageMakerEmulator) -> None:
    client = _register(emulator)
    request = scaling_policy_request(
        "churn", "a", Scaling(min=1, max=2, autoscale_metric="cpu_utilization", autoscale_target=50), 300, 60
    )
    request["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]["MetricName"] = (
        "CpuUtilization"
    )
    with pytest.raises(ClientError) as caught:
        client.put_scaling_policy(**request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "publishes no metric 'CpuUtilization' in namespace /aws/sagemaker/Endpoints" in str(caught.value)


def test_application_auto_scaling_checks_member_limits_on_the_server(emulator: SageMakerEmulator) -> None:
    client = _register(emulator)
    scaling = Scaling(min=1, max=2, autoscale_metric="requests_per_replica", autoscale_target=50)
    request = scaling_policy_request("churn", "a", scaling, 300, 60)
    request["PolicyName"] = "p" * 257  # PolicyName: at most 256 characters
    with pytest.raises(ClientError) as caught:
        client.put_scaling_policy(**request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "length less than or equal to 256" in str(caught.value)
