"""Drift monitoring on SageMaker, proven on the emulator: the schedule is created, read
back, changed in place and destroyed, in both modes (cloudserve's engine on EventBridge
Scheduler, and Model Monitor with native_monitoring: true); the job's own command runs
once, locally, over SageMaker-format capture."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudserve_sagemaker import drift_requests as dr
from cloudserve_sagemaker.emulator.scheduler import request_problems
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.settings import SageMakerSettings
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve.desired import build_desired
from cloudserve.planner import make_plan
from cloudserve.provider import Feature, Support
from cloudserve.serving.wheels import CACHE_ENV
from cloudserve.spec.models import Deployment
from cloudserve.testing.conformance import apply_spec, pending_changes, wait
from cloudserve.testing.webhook import webhook_receiver

MakeSpec = Callable[..., Deployment]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def iris_rows() -> list[list[float]]:
    from sklearn.datasets import load_iris

    return [[float(v) for v in row] for row in load_iris().data]


@pytest.fixture
def baseline(tmp_path: Path, iris_rows: list[list[float]]) -> Path:
    path = tmp_path / "train.csv"
    path.write_text(",".join(FEATURES) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in iris_rows))
    return path


@pytest.fixture
def webhook() -> Iterator[dict[str, Any]]:
    """A webhook receiver on 127.0.0.1 that keeps what it was sent."""
    with webhook_receiver() as (url, posts):
        yield {"url": url, "posts": posts}


def drift_spec(
    make_spec: MakeSpec, baseline: Path, url: str, native: bool = False, **drift: Any
) -> Deployment:
    spec = make_spec(
        "churn",
        versions={"stable": "a"},
        capture={"sample_percent": 50},
        monitoring={
            "drift": {"baseline": str(baseline), "schedule": "hourly", "alert": {"webhook": url}, **drift}
        },
    )
    if native:
        SageMakerSettings.of(spec).native_monitoring = True
    return spec


def native_provider(settings: SageMakerSettings) -> SageMakerProvider:
    return SageMakerProvider(settings.model_copy(update={"native_monitoring": True}))


def test_own_engine_schedule_lifecycle(
    settings: SageMakerSettings,
    emulator: SageMakerEmulator,
    make_spec: MakeSpec,
    baseline: Path,
    webhook: dict[str, Any],
    iris_rows: list[list[float]],
    tmp_path: Path,
    sklearn_image: Callable[[Path], Any],
    sagemaker_wheels: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Offline, so the job's runtime zip carries its wheels and runs with no index below.
    monkeypatch.setenv(CACHE_ENV, str(sagemaker_wheels))
    provider = SageMakerProvider(settings.model_copy(update={"offline": True}))
    spec = drift_spec(make_spec, baseline, webhook["url"], threshold=0.3)
    plan = make_plan(spec, provider)
    cap = provider.capabilities()[Feature.DRIFT_MONITORING]
    assert cap.support is Support.EMULATED and "model-monitor-availability-change" in cap.reason
    create = plan.actions[0]
    assert any("EventBridge Scheduler" in op for op in create.operations)
    assert webhook["url"] not in json.dumps(plan.to_dict())  # a webhook may hold a secret

    apply_spec(provider, spec)
    scheduler = emulator.client("scheduler")
    name = dr.schedule_name("churn")
    schedule = scheduler.get_schedule(Name=name)
    assert schedule["ScheduleExpression"] == "rate(1 hour)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["Arn"] == dr.UNIVERSAL_TARGET
    job = json.loads(schedule["Target"]["Input"])
    assert request_problems("sagemaker", "CreateProcessingJob", json.loads(dr_substituted(job))) == []
    args = job["AppSpecification"]["ContainerArguments"]
    assert args[args.index("--threshold") + 1] == "0.3" and webhook["url"] in args
    desired = build_desired(spec, provider)
    assert dr.hash_from_description(schedule["Description"]) == desired.monitoring_hash
    assert pending_changes(provider, spec) == []  # read back: nothing to do

    # The scheduler fires: a processing job with the capture prefix and the staged profile.
    fired = emulator.fire_schedule(name)
    started = emulator.client("sagemaker").describe_processing_job(
        ProcessingJobName=fired["request"]["ProcessingJobName"]
    )
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in started["ProcessingInputs"]}
    assert inputs["capture"] == "s3://artifacts/cloudserve/capture/churn/"
    assert inputs["runtime"].startswith("s3://artifacts/cloudserve/runtime/")
    run_job_locally(emulator, started, iris_rows, tmp_path, sklearn_image(tmp_path))
    assert [f["name"] for f in webhook["posts"][0]["drifted_features"]] == ["petal_width"]

    # Changed in place: threshold, then schedule -> update_endpoint only, schedule updated.
    before = dict(emulator.calls)
    changes: list[tuple[dict[str, Any], str]] = [
        ({"threshold": 0.25}, "rate(1 hour)"),
        ({"schedule": "6h"}, "rate(6 hours)"),
    ]
    for change, expression in changes:
        spec = drift_spec(make_spec, baseline, webhook["url"], **{"threshold": 0.3, **change})
        actions = make_plan(spec, provider).actions
        assert [a.key for a in actions] == ["update_endpoint"]
        apply_spec(provider, spec)
        schedule = scheduler.get_schedule(Name=name)
        assert schedule["ScheduleExpression"] == expression
        assert (
            dr.hash_from_description(schedule["Description"]) == build_desired(spec, provider).monitoring_hash
        )
        assert pending_changes(provider, spec) == []
    assert emulator.calls["UpdateEndpoint"] == before.get("UpdateEndpoint", 0)

    # Deleted outside cloudserve: plan shows it, apply puts it back.
    scheduler.delete_schedule(Name=name)
    assert pending_changes(provider, spec) == ["update settings churn"]
    apply_spec(provider, spec)
    assert scheduler.get_schedule(Name=name)["ScheduleExpression"] == "rate(6 hours)"

    wait(provider.delete_endpoint("churn"))
    assert scheduler.list_schedules()["Schedules"] == []
    assert provider.observe("churn") is None


def dr_substituted(job: dict[str, Any]) -> str:
    from cloudserve_sagemaker.emulator.scheduler import substitute

    return str(substitute(json.dumps(job)))


def capture_lines(rows: list[list[float]], now: datetime) -> str:
    """SageMaker data-capture JSON lines for ``rows`` with petal_width shifted by 2."""
    return "".join(
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "application/json",
                        "mode": "INPUT",
                        "data": json.dumps({"instances": [[*row[:3], row[3] + 2.0]]}),
                        "encoding": "JSON",
                    }
                },
                "eventMetadata": {"eventId": str(i), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "eventVersion": "0",
            }
        )
        + "\n"
        for i, row in enumerate(rows)
    )


def run_job_locally(
    emulator: SageMakerEmulator, job: dict[str, Any], rows: list[list[float]], tmp_path: Path, image: Any
) -> None:
    """What the processing job does, here: its inputs downloaded from (emulated) S3 to
    local folders, SageMaker-format capture with petal_width shifted, and the container's
    own entrypoint and arguments run with ``sh`` in the scikit-learn image's environment
    (no cloudserve in it, no package index: everything comes from the runtime zip)."""
    s3 = emulator.client("s3")
    now = datetime.now(UTC)
    capture = capture_lines(rows, now)
    key = f"cloudserve/capture/churn/churn/stable/{now:%Y/%m/%d/%H}/capture.jsonl"
    s3.put_object(Bucket="artifacts", Key=key, Body=capture.encode())
    local: dict[str, Path] = {}
    for item in job["ProcessingInputs"]:
        bucket, _, prefix = item["S3Input"]["S3Uri"].removeprefix("s3://").partition("/")
        into = local[item["S3Input"]["LocalPath"]] = tmp_path / "job" / item["InputName"]
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            target = into / obj["Key"][len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    app = job["AppSpecification"]
    command = [*app["ContainerEntrypoint"], *app["ContainerArguments"]]
    assert not any(
        "cloudserve[" in part or "cloudserve==" in part for part in command
    )  # nothing from an index
    # The container's paths, moved under this test's folder.
    moved = {**{k: str(v) for k, v in local.items()}, dr.UNPACKED: str(tmp_path / "unpacked")}
    for container_path, path in moved.items():
        command = [part.replace(container_path, path) for part in command]
    done = subprocess.run(command, capture_output=True, text=True, env=image.env(), cwd=tmp_path)
    assert done.returncode == 3, done.stderr  # 3: drift found
    result = json.loads(done.stdout)
    drifted = [f["name"] for f in result["features"] if f["status"] == "drift"]
    assert drifted == ["petal_width"]


def test_native_schedule_lifecycle(
    emulator: SageMakerEmulator,
    settings: SageMakerSettings,
    make_spec: MakeSpec,
    baseline: Path,
    webhook: dict[str, Any],
    iris_rows: list[list[float]],
    tmp_path: Path,
    sklearn_image: Callable[[Path], Any],
    sagemaker_wheels: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(sagemaker_wheels))
    provider = native_provider(settings.model_copy(update={"offline": True}))
    sm = emulator.client("sagemaker")
    spec = drift_spec(make_spec, baseline, webhook["url"], native=True)
    cap = provider.capabilities()[Feature.DRIFT_MONITORING]
    assert cap.support is Support.NATIVE and "native_monitoring" in cap.reason
    assert any("Model Monitor" in op for op in make_plan(spec, provider).actions[0].operations)

    apply_spec(provider, spec)
    name = dr.monitoring_schedule_name("churn")
    config = sm.describe_monitoring_schedule(MonitoringScheduleName=name)["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    first = config["MonitoringJobDefinitionName"]
    definition = sm.describe_data_quality_job_definition(JobDefinitionName=first)
    assert definition["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "churn"
    assert definition["DataQualityBaselineConfig"]["StatisticsResource"]["S3Uri"].endswith(dr.PROFILE_FILE)
    assert pending_changes(provider, spec) == []
    assert emulator.client("scheduler").list_schedules()["Schedules"] == []
    run_definition_locally(emulator, definition, iris_rows, tmp_path, sklearn_image(tmp_path))
    assert [f["name"] for f in webhook["posts"][0]["drifted_features"]] == ["petal_width"]

    spec = drift_spec(make_spec, baseline, webhook["url"], native=True, threshold=0.25, schedule="12h")
    assert [a.key for a in make_plan(spec, provider).actions] == ["update_endpoint"]
    apply_spec(provider, spec)
    config = sm.describe_monitoring_schedule(MonitoringScheduleName=name)["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 0/12 ? * * *)"
    assert config["MonitoringJobDefinitionName"] != first
    names = [
        d["MonitoringJobDefinitionName"]
        for d in sm.list_data_quality_job_definitions()["JobDefinitionSummaries"]
    ]
    assert names == [config["MonitoringJobDefinitionName"]]  # the old definition is gone
    assert pending_changes(provider, spec) == []

    wait(provider.delete_endpoint("churn"))
    assert sm.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    assert sm.list_data_quality_job_definitions()["JobDefinitionSummaries"] == []
    provider.close()


def run_definition_locally(
    emulator: SageMakerEmulator,
    definition: dict[str, Any],
    rows: list[list[float]],
    tmp_path: Path,
    image: Any,
) -> None:
    """What Model Monitor does with the definition, here: the baseline resources downloaded
    and named in the container's environment as its "bring your own container" contract
    says (baseline_statistics, baseline_constraints, dataset_source), the interval's capture
    in dataset_source, and the definition's own command run in the scikit-learn image's
    environment with no index."""
    s3 = emulator.client("s3")
    files: dict[str, str] = {}
    for resource in ("StatisticsResource", "ConstraintsResource"):
        bucket, _, key = definition["DataQualityBaselineConfig"][resource]["S3Uri"][5:].partition("/")
        path = tmp_path / "baseline" / key.rsplit("/", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        files[resource] = str(path)
    dataset = tmp_path / "endpoint"
    (dataset / "churn" / "stable").mkdir(parents=True)
    (dataset / "churn" / "stable" / "capture.jsonl").write_text(capture_lines(rows, datetime.now(UTC)))
    app = definition["DataQualityAppSpecification"]
    command = [*app["ContainerEntrypoint"], *app["ContainerArguments"]]
    # The container's paths under this test's folder (its /tmp first: tmp_path is under /tmp).
    moved = {"/tmp/": f"{tmp_path}/tmp-", dr.NATIVE_CAPTURE_DIR: str(dataset)}
    for container_path, path in moved.items():
        command = [part.replace(container_path, path) for part in command]
    env = image.env(
        baseline_statistics=files["StatisticsResource"],
        baseline_constraints=files["ConstraintsResource"],
        dataset_source=str(dataset),
    )
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 3, done.stderr  # 3: drift found


def test_switching_modes_replaces_the_schedule(
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    settings: SageMakerSettings,
    make_spec: MakeSpec,
    baseline: Path,
) -> None:
    spec = drift_spec(make_spec, baseline, "https://hooks.example.com/x")
    apply_spec(provider, spec)
    native = native_provider(settings)
    spec = drift_spec(make_spec, baseline, "https://hooks.example.com/x", native=True)
    assert pending_changes(native, spec) == ["update settings churn"]
    apply_spec(native, spec)
    assert emulator.client("scheduler").list_schedules()["Schedules"] == []
    sm = emulator.client("sagemaker")
    assert len(sm.list_monitoring_schedules()["MonitoringScheduleSummaries"]) == 1
    wait(native.delete_endpoint("churn"))
    native.close()


def test_plan_time_problems(settings: SageMakerSettings, make_spec: MakeSpec, baseline: Path) -> None:
    from cloudserve_sagemaker.drift import drift_problems

    def problems(native: bool = False, capture: bool = True, **drift: Any) -> list[str]:
        spec = make_spec(
            "churn",
            versions={"stable": "a"},
            **({"capture": {"sample_percent": 10}} if capture else {}),
            monitoring={"drift": {"baseline": str(baseline), **drift}},
        )
        native_settings = settings.model_copy(update={"native_monitoring": native})
        found: list[str] = drift_problems(
            build_desired(spec, SageMakerProvider(native_settings)), native_settings
        )
        return found

    assert problems() == []
    assert "whole number" in problems(schedule="90s")[0]
    assert "Model Monitor" in problems(native=True, schedule="5h")[0]
    assert problems(native=True, schedule="6h") == []
    assert "capture" in problems(capture=False)[0]
    assert "256 characters" in problems(alert={"webhook": "https://h.example.com/" + "x" * 250})[0]
    assert "exceed SageMaker's 50" in problems(native=True, thresholds={f"f{i}": 0.1 for i in range(30)})[0]


def test_schedule_expressions() -> None:
    assert dr.rate_expression("hourly") == "rate(1 hour)"
    assert dr.rate_expression("daily") == "rate(1 day)"
    assert dr.rate_expression("6h") == "rate(6 hours)"
    assert dr.rate_expression("90m") == "rate(90 minutes)"
    assert dr.rate_expression("weekly") == "rate(7 days)"
    assert dr.rate_expression("30s") is None
    assert dr.monitor_cron("daily") == "cron(0 0 ? * * *)"
    assert len(dr.schedule_name("e" * 63)) <= 64


def test_emulator_enforces_scheduler_rules(emulator: SageMakerEmulator) -> None:
    from botocore.exceptions import ClientError

    scheduler = emulator.client("scheduler")
    role = "arn:aws:iam::123456789012:role/serving"
    good = {
        "Name": "ok",
        "ScheduleExpression": "rate(1 hour)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": role},
    }
    scheduler.create_schedule(**good)
    job = {"ProcessingJobName": "j-<aws.scheduler.execution-id>", "RoleArn": role}  # no resources
    bad: list[dict[str, Any]] = [
        {"Name": "has space"},
        {"Name": "x" * 65},
        {"ScheduleExpression": "rate(0 hours)"},
        {"ScheduleExpression": "every hour"},
        {"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}},
        {"Target": {"Arn": dr.UNIVERSAL_TARGET, "RoleArn": role, "Input": "{not json"}},
        {"Target": {"Arn": dr.UNIVERSAL_TARGET, "RoleArn": role, "Input": json.dumps(job)}},
        {"Target": {"Arn": "arn:aws:scheduler:::aws-sdk:sagemaker:describeEndpoint", "RoleArn": role}},
        {"Target": {"Arn": dr.UNIVERSAL_TARGET, "RoleArn": "not-a-role"}},
    ]
    for change in bad:
        with pytest.raises(ClientError) as caught:
            scheduler.create_schedule(**{**good, "Name": "bad", **change})
        assert caught.value.response["Error"]["Code"] == "ValidationException", change


def test_a_foreign_schedule_of_the_same_name_is_neither_changed_nor_deleted(
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    make_spec: MakeSpec,
    baseline: Path,
) -> None:
    from cloudserve.errors import CloudServeError

    scheduler = emulator.client("scheduler")
    foreign = {
        "Name": dr.schedule_name("churn"),
        "Description": "someone else's",
        "ScheduleExpression": "rate(1 day)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": "arn:aws:sqs:us-east-1:123456789012:q",
            "RoleArn": "arn:aws:iam::123456789012:role/x",
        },
    }
    scheduler.create_schedule(**foreign)
    with pytest.raises(CloudServeError, match="not made by cloudserve"):
        apply_spec(provider, drift_spec(make_spec, baseline, "https://hooks.example.com/x"))
    wait(provider.delete_endpoint("churn"))
    assert scheduler.get_schedule(Name=foreign["Name"])["Description"] == "someone else's"
