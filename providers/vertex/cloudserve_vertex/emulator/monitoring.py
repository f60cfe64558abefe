"""The emulated ModelDeploymentMonitoringJob calls (JobService) and their rules.

Sources: the v1 REST reference of ``projects.locations.modelDeploymentMonitoringJobs``
(create, get, list, patch with its updatable fields, delete, pause, resume) and the field
documentation reproduced in the SDK's ``aiplatform_v1`` types: ``monitor_interval`` runs in
whole hours (rounded up, so at least one; the SDK and gcloud take hours >= 1, and this
emulator refuses less than an hour so a silent rounding cannot pass a test),
``random_sample_config.sample_rate`` is in (0, 1], a training dataset is needed with skew
detection, notification channels are
``projects/<project>/notificationChannels/<id>``, a job is PENDING while created, then
RUNNING, PAUSED after pause and RUNNING again after resume. Two rules follow how jobs tie
to endpoints: one job per endpoint, and a deployed model a job monitors cannot be undeployed
(nor its endpoint deleted) until the job stops monitoring it or is deleted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cloudserve_vertex.emulator import rules as rules
from cloudserve_vertex.emulator.rules import RuleError, invalid

RUNNING, PAUSED, PENDING = "JOB_STATE_RUNNING", "JOB_STATE_PAUSED", "JOB_STATE_PENDING"
DATA_FORMATS = {"csv", "jsonl", "tf-record"}
CHANNEL_RE = re.compile(r"^projects/[^/]+/notificationChannels/[^/]+$")
UPDATABLE = {
    "display_name",
    "model_deployment_monitoring_schedule_config",
    "model_monitoring_alert_config",
    "logging_sampling_strategy",
    "labels",
    "log_ttl",
    "enable_monitoring_pipeline_logs",
    "model_deployment_monitoring_objective_configs",
}
_JOBS = r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/modelDeploymentMonitoringJobs"
JOB_ROUTES = [
    ("POST", _JOBS, "create_job"),
    ("GET", _JOBS, "list_jobs"),
    ("GET", _JOBS + r"/(?P<id>[^/:]+)", "get_job"),
    ("PATCH", _JOBS + r"/(?P<id>[^/:]+)", "patch_job"),
    ("DELETE", _JOBS + r"/(?P<id>[^/:]+)", "delete_job"),
    ("POST", _JOBS + r"/(?P<id>[^/:]+):pause", "pause_job"),
    ("POST", _JOBS + r"/(?P<id>[^/:]+):resume", "resume_job"),
]


def _state(name: str) -> Any:
    from cloudserve_vertex.client import v1

    return v1().JobState[name]


def _snake(path: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), path)


class MonitoringJobs:
    """Mixed into the emulator's state (which provides ``jobs``, ``endpoints``, ``parent``,
    ``operation``, ``_new_id`` and ``to_json``)."""

    jobs: dict[str, Any]
    endpoints: dict[str, Any]

    def parent(self, g: dict[str, str]) -> str:  # provided by VertexState
        raise NotImplementedError

    def operation(self, resource: str, response: Any | None) -> dict[str, Any]:  # provided by VertexState
        raise NotImplementedError

    def _new_id(self, digits: int) -> str:  # provided by VertexState
        raise NotImplementedError

    def _job(self, g: dict[str, str]) -> Any:
        name = f"{self.parent(g)}/modelDeploymentMonitoringJobs/{g['id']}"
        if name not in self.jobs:
            raise RuleError(404, "NOT_FOUND", f"ModelDeploymentMonitoringJob {name} not found.")
        return self.jobs[name]

    def create_job(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        from cloudserve_vertex.emulator.api import parse, to_json

        job = parse("ModelDeploymentMonitoringJob", body)
        parent = self.parent(g)
        endpoint_id = job.endpoint.rsplit("/", 1)[-1]
        endpoint = self.endpoints.get(f"{parent}/endpoints/{endpoint_id}")
        if not job.endpoint or endpoint is None:
            raise RuleError(404, "NOT_FOUND", f"Endpoint {job.endpoint!r} not found.")
        job.endpoint = endpoint.name
        clash = [j.name for j in self.jobs.values() if j.endpoint == endpoint.name]
        if clash:
            raise RuleError(
                409,
                "ALREADY_EXISTS",
                f"Endpoint {endpoint.name} already has a ModelDeploymentMonitoringJob: {clash[0]}.",
            )
        check_job(job, endpoint)
        job.name = f"{parent}/modelDeploymentMonitoringJobs/{self._new_id(19)}"
        job.create_time = job.update_time = datetime.now(UTC)
        job.state = _state(RUNNING)
        self.jobs[job.name] = job
        reply = to_json(job)
        reply["state"] = PENDING  # the reply to create: still being set up
        return reply

    def get_job(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        from cloudserve_vertex.emulator.api import to_json

        return to_json(self._job(g))

    def list_jobs(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        from cloudserve_vertex.emulator.api import to_json

        parent = self.parent(g)
        wanted = dict(re.findall(r'labels\.([a-z0-9_-]+)\s*=\s*"([^"]*)"', q.get("filter", "")))
        found = [
            to_json(j)
            for n, j in sorted(self.jobs.items())
            if n.startswith(parent + "/") and all(j.labels.get(k) == v for k, v in wanted.items())
        ]
        return {"modelDeploymentMonitoringJobs": found}

    def patch_job(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        from cloudserve_vertex.emulator.api import parse

        job = self._job(g)
        patch = parse("ModelDeploymentMonitoringJob", body)
        paths = [p for p in (q.get("updateMask") or q.get("update_mask") or "").split(",") if p]
        if not paths:
            raise invalid("update_mask is required.")
        candidate = type(job).deserialize(type(job).serialize(job))
        for path in map(_snake, paths):
            top = path.split(".", 1)[0]
            if top not in UPDATABLE or (
                "." in path and top != "model_deployment_monitoring_objective_configs"
            ):
                raise invalid(f"update_mask path {path!r} is not updatable.")
            if top == "labels":
                candidate.labels.clear()
                candidate.labels.update(dict(patch.labels))
            else:
                setattr(candidate, top, getattr(patch, top))
        check_job(candidate, self.endpoints[job.endpoint])
        candidate.update_time = datetime.now(UTC)
        self.jobs[job.name] = candidate
        return self.operation(job.name, candidate)

    def delete_job(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        job = self._job(g)
        del self.jobs[job.name]
        return self.operation(job.name, None)

    def pause_job(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        job = self._job(g)
        if job.state.name != RUNNING:
            raise RuleError(
                400, "FAILED_PRECONDITION", f"Job {job.name} is {job.state.name}; only a running job pauses."
            )
        job.state = _state(PAUSED)
        return {}

    def resume_job(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        job = self._job(g)
        if job.state.name != PAUSED:
            raise RuleError(
                400, "FAILED_PRECONDITION", f"Job {job.name} is {job.state.name}; only a paused job resumes."
            )
        job.state = _state(RUNNING)
        return {}

    def monitored_by(self, endpoint: str, deployed_model_id: str | None = None) -> str | None:
        """The job monitoring ``endpoint`` (or that deployed model on it), if any."""
        for job in self.jobs.values():
            if job.endpoint != endpoint:
                continue
            ids = {c.deployed_model_id for c in job.model_deployment_monitoring_objective_configs}
            if deployed_model_id is None or deployed_model_id in ids:
                return str(job.name)
        return None


def check_job(job: Any, endpoint: Any) -> None:
    rules.check_display_name(job.display_name, "model_deployment_monitoring_job")
    rules.check_labels(job.labels, "model_deployment_monitoring_job")
    configs = job.model_deployment_monitoring_objective_configs
    if not configs:
        raise invalid("model_deployment_monitoring_objective_configs is required.")
    deployed = {d.id for d in endpoint.deployed_models}
    for config in configs:
        if config.deployed_model_id not in deployed:
            raise invalid(f"DeployedModel {config.deployed_model_id!r} is not deployed on {endpoint.name}.")
        _check_objective(config.objective_config)
    interval = job.model_deployment_monitoring_schedule_config.monitor_interval
    if interval.total_seconds() < 3600:
        raise invalid("monitor_interval must be at least 1 hour.")
    rate = job.logging_sampling_strategy.random_sample_config.sample_rate
    if not 0 < rate <= 1:
        raise invalid("logging_sampling_strategy.random_sample_config.sample_rate must be in (0, 1].")
    for channel in job.model_monitoring_alert_config.notification_channels:
        if not CHANNEL_RE.match(channel):
            raise invalid(
                f"Notification channel {channel!r} must be projects/<project>/notificationChannels/<id>."
            )


def _check_objective(objective: Any) -> None:
    skew = objective.training_prediction_skew_detection_config
    dataset = objective.training_dataset
    if "training_prediction_skew_detection_config" in objective and "training_dataset" not in objective:
        raise invalid("training_dataset is required for training_prediction_skew_detection_config.")
    if "gcs_source" in dataset:
        if not dataset.gcs_source.uris or not all(u.startswith("gs://") for u in dataset.gcs_source.uris):
            raise invalid("training_dataset.gcs_source.uris must be gs:// URIs.")
        if dataset.data_format not in DATA_FORMATS:
            raise invalid(
                f"training_dataset.data_format {dataset.data_format!r} must be one of {sorted(DATA_FORMATS)}."
            )
    drift = objective.prediction_drift_detection_config
    thresholds = [
        *skew.skew_thresholds.values(),
        *drift.drift_thresholds.values(),
        *([skew.default_skew_threshold] if "default_skew_threshold" in skew else []),
        *([drift.default_drift_threshold] if "default_drift_threshold" in drift else []),
    ]
    if any(t.value <= 0 for t in thresholds):
        raise invalid("Each monitored feature needs a non-zero threshold.")
