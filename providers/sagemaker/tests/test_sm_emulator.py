"""The emulator itself: added operations, real rules, state transitions, faults."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudserve_sagemaker.testing import ADDED_OPERATIONS, SageMakerEmulator
from moto.sagemaker.responses import SageMakerResponse

ROLE = "arn:aws:iam::123456789012:role/serving"


def _endpoint(sm: Any, name: str = "ep", *, weight: float = 1.0) -> None:
    sm.create_model(ModelName=f"{name}-m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c",
        ProductionVariants=[
            {
                "VariantName": "a",
                "ModelName": f"{name}-m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": weight,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")


def test_moto_still_lacks_every_added_operation() -> None:
    """When this fails, moto implements the operation itself: drop ours from ADDED_OPERATIONS."""
    for name in ADDED_OPERATIONS:
        assert name not in SageMakerResponse.__dict__, f"moto now has {name}; remove the emulator's version"


def test_moto_still_lacks_percentile_statistics() -> None:
    from datetime import UTC, datetime

    from moto.cloudwatch.models import MetricDatum, Statistics

    stats = Statistics(["p99"], datetime.now(UTC))
    stats.metric_data = [MetricDatum("ns", "m", 1.0, [], datetime.now(UTC))]
    assert stats.get_statistics_for_type("p99") is None, (
        "moto computes percentiles now; drop _with_percentiles"
    )


def test_patches_come_off_when_the_emulator_stops() -> None:
    with SageMakerEmulator():
        assert "update_endpoint" in SageMakerResponse.__dict__
    assert "update_endpoint" not in SageMakerResponse.__dict__


@pytest.fixture
def sm(emulator: SageMakerEmulator) -> Any:
    return emulator.client("sagemaker")


def test_names_follow_the_published_pattern_and_length(sm: Any) -> None:
    with pytest.raises(ClientError, match="regular expression pattern"):
        sm.create_model(ModelName="under_score", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    with pytest.raises(ClientError, match="length less than or equal to 63"):
        sm.create_model(ModelName="m" * 64, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    sm.create_model(ModelName="m" * 63, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})


def test_client_side_validation_is_botocore_s(sm: Any) -> None:
    from botocore.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[{"VariantName": "a", "ModelName": "m", "InitialInstanceCount": 0}],
        )


def test_config_rules(sm: Any) -> None:
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    v = {"ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    with pytest.raises(ClientError, match="greater than 0"):
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[{"VariantName": "a", **v, "InitialVariantWeight": 0.0}],
        )
    with pytest.raises(ClientError, match="unique"):
        sm.create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[{"VariantName": "a", **v}, {"VariantName": "a", **v}]
        )
    with pytest.raises(ClientError, match="exactly one ProductionVariant"):
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[{"VariantName": "a", **v}, {"VariantName": "b", **v}],
            ShadowProductionVariants=[{"VariantName": "s", **v}],
        )
    with pytest.raises(ClientError, match="enum value set"):
        sm.create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[{"VariantName": "a", **v, "InstanceType": "ml.huge"}]
        )
    with pytest.raises(ClientError, match="Could not find model"):
        sm.create_endpoint_config(
            EndpointConfigName="c", ProductionVariants=[{"VariantName": "a", **v, "ModelName": "nope"}]
        )


def test_creating_then_in_service_and_no_update_in_progress(sm: Any, emulator: SageMakerEmulator) -> None:
    _endpoint(sm)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    with pytest.raises(ClientError, match="in-progress"):
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="ep-c")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
    with pytest.raises(ClientError, match="already existing"):
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="ep-c")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="ep-c")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Updating"
    emulator.settle()
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"


def test_auto_rollback_alarm_rolls_an_update_back(sm: Any, emulator: SageMakerEmulator) -> None:
    _endpoint(sm)
    emulator.settle()
    sm.create_model(ModelName="m2", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    sm.create_endpoint_config(
        EndpointConfigName="c2",
        ProductionVariants=[
            {"VariantName": "a", "ModelName": "m2", "InstanceType": "ml.m5.large", "InitialInstanceCount": 2}
        ],
    )
    emulator.set_alarm("canary-5xx", "ALARM")
    sm.update_endpoint(
        EndpointName="ep",
        EndpointConfigName="c2",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "WaitIntervalInSeconds": 60,
                    "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                },
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "canary-5xx"}]},
        },
    )
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "RollingBack"
    emulator.settle()
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "ep-c"
    assert "canary-5xx" in described["FailureReason"]


def test_traffic_routing_sizes_follow_the_reference(sm: Any, emulator: SageMakerEmulator) -> None:
    _endpoint(sm)
    emulator.settle()

    def update(routing: dict[str, Any]) -> None:
        sm.update_endpoint(
            EndpointName="ep",
            EndpointConfigName="ep-c",
            DeploymentConfig={
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"WaitIntervalInSeconds": 60, **routing}
                }
            },
        )

    with pytest.raises(ClientError, match=r"CanarySize 1 .* at most 50% of variant a's 1 instance"):
        update({"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}})
    with pytest.raises(ClientError, match=r"LinearStepSize 60 .* 10-50%"):
        update({"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 60}})
    update({"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50}})


def test_weights_update_rules(sm: Any, emulator: SageMakerEmulator) -> None:
    _endpoint(sm)
    emulator.settle()
    with pytest.raises(ClientError, match="greater than 0"):
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "a", "DesiredWeight": 0.0}]
        )
    with pytest.raises(ClientError, match="not present"):
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "zz", "DesiredWeight": 1.0}]
        )
    sm.update_endpoint_weights_and_capacities(
        EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "a", "DesiredWeight": 3.0}]
    )
    variant = sm.describe_endpoint(EndpointName="ep")["ProductionVariants"][0]
    assert variant["CurrentWeight"] == 3.0 and variant["CurrentInstanceCount"] == 1  # count untouched


def test_faults(sm: Any, emulator: SageMakerEmulator) -> None:
    emulator.fail_next("ListModels", code="ThrottlingException", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as exc:
            sm.list_models()
        assert exc.value.response["Error"]["Code"] == "ThrottlingException"
        assert exc.value.response["ResponseMetadata"]["RequestId"]
    sm.list_models()
    emulator.fail_next(code="ServiceUnavailable", status=503)
    with pytest.raises(ClientError) as exc:
        sm.list_models()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_stuck_creating_then_failed(sm: Any, emulator: SageMakerEmulator) -> None:
    emulator.fail_endpoint("ep", "InsufficientInstanceCapacity: no ml.m5.large")
    _endpoint(sm)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    failed = sm.describe_endpoint(EndpointName="ep")
    assert failed["EndpointStatus"] == "Failed" and failed["FailureReason"].startswith(
        "InsufficientInstanceCapacity"
    )


def data_quality_definition(sm: Any, name: str) -> None:
    """Monitoring schedules refer to a job definition that must exist."""
    sm.create_data_quality_job_definition(
        JobDefinitionName=name,
        DataQualityAppSpecification={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/monitor:1"},
        DataQualityJobInput={
            "EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml/processing/input"}
        },
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": "s3://b/out", "LocalPath": "/opt/ml/processing/output"}}
            ]
        },
        JobResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}
        },
        RoleArn="arn:aws:iam::123456789012:role/serving",
    )


def test_monitoring_schedule_lifecycle(sm: Any) -> None:
    data_quality_definition(sm, "churn-drift")
    config: dict[str, Any] = {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinitionName": "churn-drift",
        "MonitoringType": "DataQuality",
    }
    sm.create_monitoring_schedule(MonitoringScheduleName="churn-drift", MonitoringScheduleConfig=config)
    with pytest.raises(ClientError) as exc:
        sm.create_monitoring_schedule(MonitoringScheduleName="churn-drift", MonitoringScheduleConfig=config)
    assert exc.value.response["Error"]["Code"] == "ResourceInUse"
    described = sm.describe_monitoring_schedule(MonitoringScheduleName="churn-drift")
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    config["ScheduleConfig"]["ScheduleExpression"] = "cron(0 0 ? * * *)"
    sm.update_monitoring_schedule(MonitoringScheduleName="churn-drift", MonitoringScheduleConfig=config)
    sm.stop_monitoring_schedule(MonitoringScheduleName="churn-drift")
    described = sm.describe_monitoring_schedule(MonitoringScheduleName="churn-drift")
    assert (
        described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 0 ? * * *)"
    )
    assert described["MonitoringScheduleStatus"] == "Stopped"
    assert len(sm.list_monitoring_schedules()["MonitoringScheduleSummaries"]) == 1
    sm.delete_monitoring_schedule(MonitoringScheduleName="churn-drift")
    with pytest.raises(ClientError) as exc:
        sm.describe_monitoring_schedule(MonitoringScheduleName="churn-drift")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"


def test_monitoring_schedule_rules(sm: Any) -> None:
    """Only Model Monitor's cron forms, an existing job definition, no duplicate definitions."""
    data_quality_definition(sm, "d")
    with pytest.raises(ClientError) as exc:
        data_quality_definition(sm, "d")
    assert exc.value.response["Error"]["Code"] == "ResourceInUse"
    config: dict[str, Any] = {}
    for expression, name in (("cron(0 */5 * * ? *)", "d"), ("rate(1 hour)", "d"), ("cron(0 * ? * * *)", "x")):
        config = {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinitionName": name,
            "MonitoringType": "DataQuality",
        }
        with pytest.raises(ClientError) as exc:
            sm.create_monitoring_schedule(MonitoringScheduleName="s", MonitoringScheduleConfig=config)
        assert exc.value.response["Error"]["Code"] == "ValidationException"
    for expression in ("cron(0 * ? * * *)", "cron(0 12 ? * * *)", "cron(0 0/6 ? * * *)", "NOW"):
        config["ScheduleConfig"]["ScheduleExpression"] = expression
        config["MonitoringJobDefinitionName"] = "d"
        sm.create_monitoring_schedule(MonitoringScheduleName="s", MonitoringScheduleConfig=config)
        sm.delete_monitoring_schedule(MonitoringScheduleName="s")


def test_moto_reset_clears_the_added_state(sm: Any, emulator: SageMakerEmulator) -> None:
    from moto.sagemaker.models import sagemaker_backends

    data_quality_definition(sm, "d")
    sm.create_monitoring_schedule(
        MonitoringScheduleName="s",
        MonitoringScheduleConfig={"MonitoringJobDefinitionName": "d", "MonitoringType": "DataQuality"},
    )
    assert emulator.state.schedules
    sagemaker_backends[emulator.account][emulator.region].reset()
    assert not emulator.state.schedules
