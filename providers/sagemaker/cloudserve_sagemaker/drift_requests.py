"""Spec ``monitoring.drift`` -> the AWS requests that schedule a drift check. Pure.

Two shapes, chosen by ``targets.sagemaker.native_monitoring``:

- **cloudserve's engine on EventBridge Scheduler** (default). A schedule whose universal
  target ``arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob`` starts, each
  interval, a SageMaker processing job that downloads the endpoint's data-capture prefix
  and the staged baseline profile and runs ``cloudserve monitor run`` over the last
  interval. AWS closed Model Monitor to new customers, so this works on every account.
- **SageMaker Model Monitor** (``native_monitoring: true``, for accounts that still have
  it): a DataQuality job definition and a monitoring schedule. Model Monitor selects each
  interval's captured data itself and hands it to the container (its "bring your own
  container" contract); the container is the same one, running the same engine, so the
  verdict does not depend on the mode.

The job's command is identical in both: a shell line that extracts the staged runtime zip
(job_runtime.py: cloudserve's source and the engine's exact pins, with their wheels when
offline), installs the pins and runs ``cloudserve monitor run`` from the extracted source
with the spec's settings. The scheduler's job gets the zip as a third processing input.
Model Monitor's job definitions take no inputs beyond the capture and the two baseline
resources, so there the zip is the ConstraintsResource (a file Model Monitor hands the
container at ``$baseline_constraints`` and interprets no further; cloudserve's engine has
no use for a constraints file of its own).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from cloudserve_sagemaker import translate as tr
from cloudserve_sagemaker.job_runtime import RUNTIME_FILE

UNIVERSAL_TARGET = "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"
EXECUTION_ID = "<aws.scheduler.execution-id>"  # replaced by EventBridge Scheduler per run
SCHEDULE_NAME_MAX = 64  # EventBridge Scheduler: 1-64 of [0-9a-zA-Z-_.]
JOB_INSTANCE_TYPE = "ml.m5.large"
JOB_VOLUME_GB = 30
JOB_MAX_RUNTIME_S = 3600
BASELINE_DIR = "/opt/ml/processing/input/baseline"
CAPTURE_DIR = "/opt/ml/processing/input/capture"
RUNTIME_DIR = "/opt/ml/processing/input/runtime"
UNPACKED = "/tmp/cs"  # short: each ContainerEntrypoint member is at most 256 characters
PROFILE_FILE = "baseline.drift-profile.npz"
# Model Monitor's own contract: it downloads the interval's capture to ``dataset_source``
# and the baseline statistics resource to ``baseline_statistics``.
NATIVE_CAPTURE_DIR = "/opt/ml/processing/input/endpoint"
DESCRIPTION_PREFIX = "cloudserve drift monitor of SageMaker endpoint"
HASH_MARK = "cloudserve-monitoring="


# --- schedules ------------------------------------------------------------------------------
def interval_of(schedule: str) -> timedelta | None:
    from cloudserve.monitor.config import parse_duration

    return parse_duration(schedule)


def rate_expression(schedule: str) -> str | None:
    """``hourly`` -> ``rate(1 hour)``, ``6h`` -> ``rate(6 hours)``; None when EventBridge
    Scheduler cannot express it (a rate is a positive whole number of minutes, hours or
    days)."""
    interval = interval_of(schedule)
    if interval is None:
        return None
    seconds = int(interval.total_seconds())
    if seconds != interval.total_seconds() or seconds < 60 or seconds % 60:
        return None
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            value = seconds // size
            return f"rate({value} {unit}{'s' if value > 1 else ''})"
    return None


def monitor_cron(schedule: str) -> str | None:
    """The Model Monitor cron for the schedule: only hourly, daily, or every N hours (N
    dividing 24) are accepted by SageMaker (ScheduleConfig reference)."""
    interval = interval_of(schedule)
    if interval is None:
        return None
    seconds = interval.total_seconds()
    if seconds == 3600:
        return "cron(0 * ? * * *)"
    if seconds == 86400:
        return "cron(0 0 ? * * *)"
    hours = seconds / 3600
    if hours.is_integer() and 1 < hours < 24 and 24 % int(hours) == 0:
        return f"cron(0 0/{int(hours)} ? * * *)"
    return None


def schedule_name(endpoint: str) -> str:
    """EventBridge schedule name: ``<endpoint>-drift`` within 64 characters."""
    name = f"{endpoint}-drift"
    if len(name) <= SCHEDULE_NAME_MAX:
        return name
    return f"{endpoint[: SCHEDULE_NAME_MAX - 18].rstrip('-')}-{tr.short_hash(endpoint, 10)}-drift"


def monitoring_schedule_name(endpoint: str) -> str:
    return tr._bounded(endpoint, "drift")


def job_definition_name(endpoint: str, monitoring_hash: str) -> str:
    """Job definitions are immutable: one per configuration, named by its hash."""
    return tr._bounded(f"{endpoint}-drift", monitoring_hash[:10])


def job_definition_prefix(endpoint: str) -> str:
    return job_definition_name(endpoint, "0" * 10)[:-10]


def description(endpoint: str, monitoring_hash: str) -> str:
    """Schedules carry no tags in EventBridge Scheduler; the description records the hash."""
    return f"{DESCRIPTION_PREFIX} {endpoint} ({HASH_MARK}{monitoring_hash})"


def hash_from_description(text: str | None) -> str | None:
    match = re.search(re.escape(HASH_MARK) + r"([0-9a-f]+)", text or "")
    return match.group(1) if match else None


# --- the job's command ---------------------------------------------------------------------
def monitor_arguments(
    drift: Any, baseline: str, current: str, window: str | None, include_webhook: bool = True
) -> list[str]:
    """``cloudserve monitor run`` options for the spec's drift settings."""
    from cloudserve.monitor.config import DriftConfig

    config = DriftConfig.from_spec(drift)
    args = ["--baseline", baseline, "--current", current, "--method", config.method]
    if window:
        args += ["--window", window]
    if config.threshold is not None:
        args += ["--threshold", repr(config.threshold)]
    for name, value in sorted(config.thresholds.items()):
        args += ["--feature-threshold", f"{name}={value!r}"]
    if config.features is not None:
        args += ["--features", ",".join(config.features)]
    if include_webhook and config.webhook:
        args += ["--webhook", config.webhook]
    return [*args, "--output", "json"]


def entrypoint(runtime_zip: str, prepare: str = "") -> list[str]:
    """``sh -c`` so the runtime is unpacked and its pins installed first; the options
    follow as "$@". ``runtime_zip`` is a shell word (a path, or ``"$baseline_constraints"``)."""
    script = (
        f"{prepare}python -m zipfile -e {runtime_zip} {UNPACKED} && cd {UNPACKED} && "
        "python -m pip install -qr requirements.txt && cd / && "
        f'PYTHONPATH={UNPACKED} exec python -m cloudserve monitor run "$@"'
    )
    return ["sh", "-c", script, "cloudserve-monitor"]


def window_text(schedule: str) -> str | None:
    interval = interval_of(schedule)
    return f"{int(interval.total_seconds())}s" if interval else None


# --- cloudserve's engine: EventBridge Scheduler -> CreateProcessingJob ----------------------
def processing_job_request(
    *,
    endpoint: str,
    drift: Any,
    image: str,
    runtime_prefix: str,
    role_arn: str,
    baseline_prefix: str,
    capture_uri: str,
    tags: dict[str, str],
) -> dict[str, Any]:
    """The CreateProcessingJob request EventBridge Scheduler sends each interval.

    The job name carries the scheduler's execution id (unique per invocation), so every
    run is its own job. The capture prefix is downloaded whole and ``--window`` keeps the
    last interval; an S3 lifecycle rule on the capture prefix bounds what is downloaded.
    """
    args = monitor_arguments(
        drift, f"{BASELINE_DIR}/{PROFILE_FILE}", CAPTURE_DIR, window_text(drift.schedule)
    )
    return {
        "ProcessingJobName": f"{endpoint[:40].rstrip('-')}-drift-{EXECUTION_ID}",
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": JOB_INSTANCE_TYPE,
                "VolumeSizeInGB": JOB_VOLUME_GB,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": JOB_MAX_RUNTIME_S},
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": entrypoint(f"{RUNTIME_DIR}/{RUNTIME_FILE}"),
            "ContainerArguments": args,
        },
        "ProcessingInputs": [
            _s3_input("baseline", baseline_prefix, BASELINE_DIR),
            _s3_input("capture", capture_uri.rstrip("/") + "/", CAPTURE_DIR),
            _s3_input("runtime", runtime_prefix, RUNTIME_DIR),
        ],
        "RoleArn": role_arn,
        "Tags": tr.aws_tags(tags),
    }


def _s3_input(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def schedule_request(
    *, endpoint: str, monitoring_hash: str, expression: str, role_arn: str, job: dict[str, Any]
) -> dict[str, Any]:
    return {
        "Name": schedule_name(endpoint),
        "Description": description(endpoint, monitoring_hash),
        "ScheduleExpression": expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": UNIVERSAL_TARGET,
            "RoleArn": role_arn,
            "Input": json.dumps(job, sort_keys=True),
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
        },
    }


# --- SageMaker Model Monitor (native_monitoring: true) ---------------------------------------
def data_quality_request(
    *,
    endpoint: str,
    monitoring_hash: str,
    drift: Any,
    image: str,
    runtime_uri: str,
    role_arn: str,
    profile_uri: str,
    reports_uri: str,
    tags: dict[str, str],
) -> dict[str, Any]:
    """A DataQuality job definition whose container is cloudserve's engine.

    Model Monitor downloads the interval's capture to ``dataset_source`` and the baseline
    statistics resource (the staged profile) to the path in ``baseline_statistics``; the
    shell line copies it under an ``.npz`` name, as the engine recognises profiles by it.
    """
    prepare = f'cp "$baseline_statistics" /tmp/{PROFILE_FILE} && '
    args = monitor_arguments(drift, f"/tmp/{PROFILE_FILE}", NATIVE_CAPTURE_DIR, None)
    return {
        "JobDefinitionName": job_definition_name(endpoint, monitoring_hash),
        "DataQualityBaselineConfig": {
            "StatisticsResource": {"S3Uri": profile_uri},
            "ConstraintsResource": {"S3Uri": runtime_uri},  # the runtime zip, see the module doc
        },
        "DataQualityAppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": entrypoint('"$baseline_constraints"', prepare),
            "ContainerArguments": args,
        },
        "DataQualityJobInput": {
            "EndpointInput": {
                "EndpointName": endpoint,
                "LocalPath": NATIVE_CAPTURE_DIR,
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "DataQualityJobOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": reports_uri,
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        "JobResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": JOB_INSTANCE_TYPE,
                "VolumeSizeInGB": JOB_VOLUME_GB,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": JOB_MAX_RUNTIME_S},
        "RoleArn": role_arn,
        "Tags": tr.aws_tags(tags),
    }


def monitoring_schedule_config(definition: str, cron: str) -> dict[str, Any]:
    return {
        "ScheduleConfig": {"ScheduleExpression": cron},
        "MonitoringJobDefinitionName": definition,
        "MonitoringType": "DataQuality",
    }
