"""Drift monitoring on SageMaker: create, read back, change and remove the schedule.

By default cloudserve's own engine runs on AWS's scheduler (EventBridge Scheduler starts a
processing job per interval); with ``native_monitoring: true`` a Model Monitor schedule
runs the same engine. The requests are built in :mod:`.drift_requests`; this module does
the I/O: it profiles the baseline once on this machine, stages the profile to the
artifact bucket under a content-addressed key, and keeps exactly one schedule of the
configured kind per endpoint.

What :meth:`DriftMonitor.observed_hash` returns is read from the schedule itself (its
description, or the job definition's tag), never from a note on the endpoint alone, so a
schedule deleted outside cloudserve shows up as a change in ``plan``.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloudserve.artifacts import is_remote
from cloudserve.errors import AlreadyExists, Conflict, InvalidSpec, NotFound
from cloudserve.provider import DesiredEndpoint
from cloudserve.serving.wheels import fetch_wheels
from cloudserve_sagemaker import drift_requests as dr
from cloudserve_sagemaker import job_runtime
from cloudserve_sagemaker import translate as tr
from cloudserve_sagemaker.client import AwsClients
from cloudserve_sagemaker.settings import SageMakerSettings


def drift_problems(desired: DesiredEndpoint, settings: SageMakerSettings) -> list[str]:
    """What would make the schedule fail, found at plan time."""
    spec = desired.deployment.spec
    drift = spec.monitoring.drift
    if drift is None:
        return []
    problems: list[str] = []
    if is_remote(drift.baseline):
        problems.append(
            f"monitoring.drift.baseline {drift.baseline!r}: cloudserve profiles the baseline on this "
            "machine and stages the profile to S3; point baseline at a local CSV or Parquet file"
        )
    if settings.native_monitoring:
        if dr.monitor_cron(drift.schedule) is None:
            problems.append(
                f"monitoring.drift.schedule {drift.schedule!r}: SageMaker Model Monitor runs hourly, "
                "daily, or every N hours where N divides 24"
            )
    elif dr.rate_expression(drift.schedule) is None:
        problems.append(
            f"monitoring.drift.schedule {drift.schedule!r}: EventBridge Scheduler runs at a whole "
            "number of minutes, hours or days (hourly, daily, 6h, 30m)"
        )
    if spec.capture is None or spec.capture.sample_percent <= 0 or not spec.capture.request:
        problems.append(
            "monitoring.drift on SageMaker judges the endpoint's captured requests: add "
            "spec.capture with requests (e.g. {sample_percent: 20})"
        )
    if not settings.bucket:
        problems.append("monitoring.drift needs targets.sagemaker.bucket to stage the baseline profile")
    return problems + _argument_problems(drift, settings.native_monitoring)


def _argument_problems(drift: Any, native: bool) -> list[str]:
    """The job's options must fit the container-argument limits of the service model:
    each at most 256 characters, at most 100 of them (50 in a DataQuality definition)."""
    args = dr.monitor_arguments(drift, "/" + "x" * 60, "/" + "x" * 40, "999999s")
    limit = 50 if native else 100
    problems = []
    if len(args) > limit:
        problems.append(
            f"monitoring.drift: {len(args)} job arguments exceed SageMaker's {limit}; "
            "use fewer per-feature thresholds"
        )
    if any(len(a) > 256 for a in args):
        problems.append(
            "monitoring.drift: a job argument (webhook URL or feature list) is longer than "
            "SageMaker's 256 characters"
        )
    return problems


class DriftMonitor:
    def __init__(self, aws: AwsClients, settings: SageMakerSettings) -> None:
        self.aws = aws
        self.settings = settings

    # --- read ---------------------------------------------------------------------------
    def observed_hash(self, endpoint: str) -> str | None:
        """The hash of the schedule of the configured kind that exists now, else None."""
        if self.settings.native_monitoring:
            return self._native_hash(endpoint)
        try:
            schedule = self.aws.call("scheduler", "get_schedule", Name=dr.schedule_name(endpoint))
        except NotFound:
            return None
        return dr.hash_from_description(schedule.get("Description"))

    def _native_hash(self, endpoint: str) -> str | None:
        found = self._native_definition(endpoint)
        return found[1].get(tr.MONITORING_TAG) if found else None

    def _native_definition(self, endpoint: str) -> tuple[str, dict[str, str]] | None:
        """The Model Monitor schedule's job definition and its tags, when the schedule
        exists and runs a definition of this deployment (its tags say so)."""
        try:
            schedule = self.aws.call(
                "sagemaker",
                "describe_monitoring_schedule",
                MonitoringScheduleName=dr.monitoring_schedule_name(endpoint),
            )
            definition = schedule["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName")
            if not definition:
                return None
            arn = self.aws.call(
                "sagemaker", "describe_data_quality_job_definition", JobDefinitionName=definition
            )["JobDefinitionArn"]
            tags = tr.tags_dict(self.aws.call("sagemaker", "list_tags", ResourceArn=arn).get("Tags"))
        except NotFound:
            return None
        return (definition, tags) if tr.is_owned(tags, endpoint) else None

    # --- write --------------------------------------------------------------------------
    def ensure(self, desired: DesiredEndpoint) -> None:
        """Make the endpoint's schedule match the spec: create, update in place, or remove;
        a schedule of the other kind (the setting changed) is removed."""
        drift = desired.deployment.spec.monitoring.drift
        if drift is None or desired.monitoring_hash is None:
            self.remove(desired.name)
            return
        profile_uri = self.stage_profile(desired)
        if self.settings.native_monitoring:
            self._put_native(desired, profile_uri)
            self._remove_scheduler(desired.name)
        else:
            self._put_scheduler(desired, profile_uri)
            self._remove_native(desired.name)

    def stage_profile(self, desired: DesiredEndpoint) -> str:
        """Profile the baseline here (reusing the profile stored beside it) and upload it
        to ``<prefix>/monitoring/<digest>/`` unless that key exists; returns its S3 URI."""
        from cloudserve.monitor.profile import load_or_build

        drift = desired.deployment.spec.monitoring.drift
        baseline = desired.baseline
        assert drift is not None and baseline is not None  # plan: a local file that exists
        profile = load_or_build(baseline, features=drift.features)
        with tempfile.TemporaryDirectory() as tmp:
            path = profile.save(Path(tmp) / dr.PROFILE_FILE)
            body = path.read_bytes()
        return self._put_once("monitoring", dr.PROFILE_FILE, hashlib.sha256(body).hexdigest(), lambda: body)

    def stage_runtime(self) -> str:
        """Upload the drift engine's runtime zip to ``<prefix>/runtime/<digest>/`` unless
        that key exists (each job downloads the whole prefix: one file); its S3 URI."""
        offline = self.settings.offline

        def pack() -> bytes:  # only when that content is not staged yet: wheels are large
            return job_runtime.pack_runtime(fetch_wheels(job_runtime.monitor_pins()) if offline else None)

        return self._put_once("runtime", job_runtime.RUNTIME_FILE, job_runtime.content_digest(offline), pack)

    def _put_once(self, folder: str, name: str, digest: str, body: Callable[[], bytes]) -> str:
        """``body()`` at ``<prefix>/<folder>/<digest>/<name>`` unless that key exists; its URI."""
        key = f"{self.settings.prefix.strip('/')}/{folder}/{digest[:32]}/{name}".lstrip("/")
        bucket = self.settings.bucket or ""
        try:
            self.aws.call("s3", "head_object", Bucket=bucket, Key=key)
        except NotFound:
            self.aws.call("s3", "put_object", Bucket=bucket, Key=key, Body=body())
        return f"s3://{bucket}/{key}"

    def _image(self) -> str:
        from cloudserve_sagemaker.images import runtime_image

        return runtime_image(self.aws.region_name, dr.JOB_INSTANCE_TYPE)

    def _capture_uri(self, desired: DesiredEndpoint) -> str:
        capture = desired.deployment.spec.capture
        if capture is not None and capture.destination:
            return capture.destination
        bucket = self.settings.bucket or "unset-bucket"
        return f"s3://{bucket}/{self.settings.prefix.strip('/')}/capture/{desired.name}"

    def _put_scheduler(self, desired: DesiredEndpoint, profile_uri: str) -> None:
        drift = desired.deployment.spec.monitoring.drift
        assert drift is not None and desired.monitoring_hash is not None
        expression = dr.rate_expression(drift.schedule)
        if expression is None:
            raise InvalidSpec(f"monitoring.drift.schedule {drift.schedule!r} is not a rate")
        job = dr.processing_job_request(
            endpoint=desired.name,
            drift=drift,
            image=self._image(),
            runtime_prefix=self.stage_runtime().rsplit("/", 1)[0] + "/",
            role_arn=self.settings.role_arn or "",
            baseline_prefix=profile_uri.rsplit("/", 1)[0] + "/",
            capture_uri=self._capture_uri(desired),
            tags=tr.config_tags(desired),
        )
        request = dr.schedule_request(
            endpoint=desired.name,
            monitoring_hash=desired.monitoring_hash,
            expression=expression,
            role_arn=self.settings.role_arn or "",
            job=job,
        )
        try:  # CreateSchedule on an existing name is a ConflictException: look first
            existing = self.aws.call("scheduler", "get_schedule", Name=request["Name"])
        except NotFound:
            self.aws.call("scheduler", "create_schedule", **request)
            return
        if not _ours(existing, desired.name):
            raise Conflict(
                f"EventBridge schedule {request['Name']!r} exists and was not made by cloudserve",
                target="sagemaker",
            )
        self.aws.call("scheduler", "update_schedule", **request)

    def _put_native(self, desired: DesiredEndpoint, profile_uri: str) -> None:
        drift = desired.deployment.spec.monitoring.drift
        assert drift is not None and desired.monitoring_hash is not None
        cron = dr.monitor_cron(drift.schedule)
        if cron is None:
            raise InvalidSpec(f"monitoring.drift.schedule {drift.schedule!r}: not a Model Monitor schedule")
        bucket = self.settings.bucket or ""
        tags = {**tr.config_tags(desired), tr.MONITORING_TAG: desired.monitoring_hash}
        request = dr.data_quality_request(
            endpoint=desired.name,
            monitoring_hash=desired.monitoring_hash,
            drift=drift,
            image=self._image(),
            runtime_uri=self.stage_runtime(),
            role_arn=self.settings.role_arn or "",
            profile_uri=profile_uri,
            reports_uri=f"s3://{bucket}/{self.settings.prefix.strip('/')}/monitoring/{desired.name}/reports",
            tags=tags,
        )
        definition = request["JobDefinitionName"]
        with contextlib.suppress(AlreadyExists):
            self.aws.call("sagemaker", "create_data_quality_job_definition", **request)
        name = dr.monitoring_schedule_name(desired.name)
        config = dr.monitoring_schedule_config(definition, cron)
        try:
            self.aws.call("sagemaker", "describe_monitoring_schedule", MonitoringScheduleName=name)
            if self._native_definition(desired.name) is None:
                raise Conflict(
                    f"monitoring schedule {name!r} exists and was not made by cloudserve",
                    target="sagemaker",
                )
            self.aws.call(
                "sagemaker",
                "update_monitoring_schedule",
                MonitoringScheduleName=name,
                MonitoringScheduleConfig=config,
            )
        except NotFound:
            self.aws.call(
                "sagemaker",
                "create_monitoring_schedule",
                MonitoringScheduleName=name,
                MonitoringScheduleConfig=config,
                Tags=tr.aws_tags(tr.config_tags(desired)),
            )
        self._delete_definitions(desired.name, keep=definition)

    # --- remove -------------------------------------------------------------------------
    def remove(self, endpoint: str) -> None:
        """Both kinds, schedule before job definitions (a schedule refers to one)."""
        self._remove_scheduler(endpoint)
        self._remove_native(endpoint)

    def _remove_scheduler(self, endpoint: str) -> None:
        name = dr.schedule_name(endpoint)
        try:
            schedule = self.aws.call("scheduler", "get_schedule", Name=name)
        except NotFound:
            return
        if not _ours(schedule, endpoint):
            return  # not cloudserve's: leave it alone
        with contextlib.suppress(NotFound):
            self.aws.call("scheduler", "delete_schedule", Name=name)

    def _remove_native(self, endpoint: str) -> None:
        if self._native_definition(endpoint) is not None:  # a schedule of this deployment
            with contextlib.suppress(NotFound):
                self.aws.call(
                    "sagemaker",
                    "delete_monitoring_schedule",
                    MonitoringScheduleName=dr.monitoring_schedule_name(endpoint),
                )
        self._delete_definitions(endpoint, keep=None)

    def _delete_definitions(self, endpoint: str, keep: str | None) -> None:
        """This deployment's DataQuality job definitions other than ``keep`` (owner-tagged)."""
        prefix = dr.job_definition_prefix(endpoint)
        found = self.aws.call(
            "sagemaker", "list_data_quality_job_definitions", NameContains=prefix, MaxResults=100
        )
        for summary in found.get("JobDefinitionSummaries", []):
            name = summary["MonitoringJobDefinitionName"]
            if name == keep or not name.startswith(prefix):
                continue
            tags = tr.tags_dict(
                self.aws.call(
                    "sagemaker", "list_tags", ResourceArn=summary["MonitoringJobDefinitionArn"]
                ).get("Tags")
            )
            if tr.is_owned(tags, endpoint):
                with contextlib.suppress(NotFound):
                    self.aws.call("sagemaker", "delete_data_quality_job_definition", JobDefinitionName=name)


def _ours(schedule: dict[str, Any], endpoint: str) -> bool:
    return (schedule.get("Description") or "").startswith(f"{dr.DESCRIPTION_PREFIX} {endpoint} ")


def describe_mode(settings: SageMakerSettings) -> str:
    if settings.native_monitoring:
        return "SageMaker Model Monitor schedule (native_monitoring: true) running cloudserve's engine"
    return "EventBridge Scheduler starting a processing job that runs cloudserve's engine"


def plan_calls(settings: SageMakerSettings) -> list[str]:
    if settings.native_monitoring:
        return [
            "s3:PutObject (baseline profile, content-addressed)",
            "sagemaker:CreateDataQualityJobDefinition",
            "sagemaker:CreateMonitoringSchedule / UpdateMonitoringSchedule",
        ]
    return [
        "s3:PutObject (baseline profile, content-addressed)",
        "scheduler:CreateSchedule / UpdateSchedule (target sagemaker:CreateProcessingJob)",
    ]
