"""``monitoring.drift`` -> one Vertex AI ModelDeploymentMonitoringJob per endpoint.

The mapping (bodies built from the SDK's ``aiplatform_v1`` types, so a wrong field fails
here): one objective config per deployed model, each with the baseline as the training
dataset (a local file is staged to the staging bucket, content-addressed), skew detection
against it and drift detection between windows, both with the same thresholds; the
schedule interval from ``schedule`` (Vertex AI runs whole hours, at least one: the
``monitor_interval`` field reference says it is rounded up to the next full hour);
``random_sample_config.sample_rate`` from ``sampling_percent``; email and Cloud Monitoring
notification channels from ``alert``. The job's labels carry ownership and the spec's
monitoring hash, which observe reads back.

What Vertex AI cannot do is refused at plan time: its distances are fixed (Jensen-Shannon
divergence for numeric features, L-infinity for categorical ones), so ``method`` other
than auto/js cannot be honoured; alerts go to email or notification channels, so a
``webhook`` is refused with the way to get one (a Cloud Monitoring webhook channel).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cloudserve import tags as T
from cloudserve.artifacts import digest_path, is_remote
from cloudserve.monitor.config import DriftConfig, parse_duration
from cloudserve.provider import DesiredEndpoint
from cloudserve_vertex.client import VertexClient, v1
from cloudserve_vertex.settings import VertexSettings

HASH_LABEL = "cloudserve-monitoring"  # the spec's monitoring hash, on the job
DEFAULT_THRESHOLD = 0.3  # Vertex AI's backend default (the SDK's SkewDetectionConfig docs)
HOUR = 3600
BASELINE_PREFIX = "cloudserve/baselines"
GCS_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".tfrecord": "tf-record"}
CHANNEL_RE = re.compile(r"^projects/[^/]+/notificationChannels/[^/]+$")
WEBHOOK_REASON = (
    "Vertex AI model monitoring alerts by email and Cloud Monitoring notification channels, not "
    "webhooks; create a webhook notification channel in Cloud Monitoring (type webhook_tokenauth) "
    "and set monitoring.drift.alert.channel to its name"
)


def display_name(deployment: str) -> str:
    return f"cloudserve-{deployment}-drift"


def problems(desired: DesiredEndpoint) -> list[str]:
    """What a monitoring job cannot express, found at plan time."""
    drift = desired.deployment.spec.monitoring.drift
    if drift is None:
        return []
    where = "monitoring.drift"
    out: list[str] = []
    if drift.method not in ("auto", "js"):
        out.append(
            f"{where}.method {drift.method!r}: Vertex AI model monitoring measures numeric features "
            "by Jensen-Shannon divergence and categorical ones by L-infinity distance; use auto or js"
        )
    interval = parse_duration(drift.schedule)
    if interval is None or interval.total_seconds() < HOUR:
        out.append(f"{where}.schedule {drift.schedule!r}: Vertex AI runs monitoring every hour at the most")
    elif interval.total_seconds() % HOUR:
        out.append(
            f"{where}.schedule {drift.schedule!r}: Vertex AI runs monitoring in whole hours (it rounds "
            "the interval up); use hourly, daily or a number of hours"
        )
    if drift.sampling_percent == 0:
        out.append(f"{where}.sampling_percent: Vertex AI's sample rate must be above 0 (0 < rate <= 1)")
    if drift.alert and drift.alert.webhook:
        out.append(f"{where}.alert.webhook: {WEBHOOK_REASON}")
    out += _feature_name_problems(desired)
    out += _baseline_problems(desired, drift.baseline)
    return out


def _feature_name_problems(desired: DesiredEndpoint) -> list[str]:
    """Per-feature thresholds match only features Vertex AI can name. It parses the schema
    from the first 1,000 requests; for instances not in key-value form it "automatically
    assigns a default feature name for each input" (doc "Provide schemas to Vertex AI Model
    Monitoring"), and the analysis-schema format for list instances is not documented, so a
    threshold on "age" could silently never match. Refused unless the caller says instances
    are keyed."""
    drift = desired.deployment.spec.monitoring.drift
    assert drift is not None
    named = sorted(set(drift.thresholds) | set(drift.features or []))
    fmt = VertexSettings.of(desired.deployment).instance_format
    if not named or fmt == "keyed":
        return []
    field = "monitoring.drift.thresholds" if drift.thresholds else "monitoring.drift.features"
    if fmt == "list":
        return [
            f"{field} names features ({', '.join(named)}), but targets.vertex.instance_format is list: "
            "Vertex AI model monitoring gives the values of list instances default names, so these "
            "would never match; send {feature: value} instances (instance_format: keyed) or drop the "
            "per-feature settings (the default threshold then applies to every feature)"
        ]
    return [
        f"{field} names features ({', '.join(named)}): Vertex AI matches them only in keyed "
        "instances ({feature: value}); list instances get default names. Set "
        "targets.vertex.instance_format: keyed if your callers send keyed instances, or drop the "
        "per-feature settings"
    ]


def _baseline_problems(desired: DesiredEndpoint, baseline: str) -> list[str]:
    where = "monitoring.drift.baseline"
    if baseline.startswith("bq://"):
        return []
    if is_remote(baseline) and not baseline.startswith("gs://"):
        return [f"{where} {baseline!r}: Vertex AI reads the training dataset from gs:// or bq://"]
    if Path(baseline).suffix.lower() not in GCS_FORMATS:
        return [
            f"{where} {baseline!r}: Vertex AI reads a Cloud Storage training dataset as CSV, JSONL or "
            "TFRecord; convert it, or give a bq:// table"
        ]
    if baseline.startswith("gs://"):
        return []
    if not VertexSettings.of(desired.deployment).staging_bucket:
        return [f"{where}: a local baseline needs targets.vertex.staging_bucket to stage it"]
    return []


def stage_baseline(client: VertexClient, desired: DesiredEndpoint) -> str:
    """gs:// and bq:// as they are; a local file uploaded once to a content-addressed path."""
    drift = desired.deployment.spec.monitoring.drift
    assert drift is not None
    path = desired.baseline
    if path is None:  # gs:// or bq:// (validation refuses other schemes)
        return drift.baseline
    bucket = (VertexSettings.of(desired.deployment).staging_bucket or "").removeprefix("gs://").strip("/")
    name = f"{BASELINE_PREFIX}/{digest_path(path)[:32]}/{path.name}"
    if not client.object_exists(bucket, name):
        client.upload_object(bucket, name, path.read_bytes())
    return f"gs://{bucket}/{name}"


def objective(desired: DesiredEndpoint, baseline_uri: str) -> Any:
    """The per-deployed-model objective: skew against the baseline and drift over time."""
    types = v1()
    config = DriftConfig.from_spec(desired.deployment.spec.monitoring.drift)
    default = config.threshold if config.threshold is not None else DEFAULT_THRESHOLD
    names = config.features if config.features is not None else tuple(config.thresholds)
    per_feature = {f: types.ThresholdConfig(value=config.thresholds.get(f, default)) for f in names}
    # Listed features: only those are watched; otherwise every feature, at the default.
    fallback = None if config.features is not None else types.ThresholdConfig(value=default)
    cls = types.ModelMonitoringObjectiveConfig
    if baseline_uri.startswith("bq://"):
        dataset = cls.TrainingDataset(bigquery_source=types.BigQuerySource(input_uri=baseline_uri))
    else:
        data_format = GCS_FORMATS[Path(baseline_uri).suffix.lower()]
        dataset = cls.TrainingDataset(
            gcs_source=types.GcsSource(uris=[baseline_uri]), data_format=data_format
        )
    return cls(
        training_dataset=dataset,
        training_prediction_skew_detection_config=cls.TrainingPredictionSkewDetectionConfig(
            skew_thresholds=per_feature, default_skew_threshold=fallback
        ),
        prediction_drift_detection_config=cls.PredictionDriftDetectionConfig(
            drift_thresholds=per_feature, default_drift_threshold=fallback
        ),
    )


def job(
    desired: DesiredEndpoint, endpoint: str, deployed_ids: list[str], baseline_uri: str, project: str
) -> Any:
    types = v1()
    drift = desired.deployment.spec.monitoring.drift
    assert drift is not None and desired.monitoring_hash is not None
    interval = parse_duration(drift.schedule)
    assert interval is not None  # validated at plan time
    target = objective(desired, baseline_uri)
    return types.ModelDeploymentMonitoringJob(
        display_name=display_name(desired.name),
        endpoint=endpoint,
        model_deployment_monitoring_objective_configs=[
            types.ModelDeploymentMonitoringObjectiveConfig(deployed_model_id=i, objective_config=target)
            for i in sorted(deployed_ids)
        ],
        model_deployment_monitoring_schedule_config=types.ModelDeploymentMonitoringScheduleConfig(
            monitor_interval={"seconds": int(interval.total_seconds())}
        ),
        logging_sampling_strategy=types.SamplingStrategy(
            random_sample_config=types.SamplingStrategy.RandomSampleConfig(
                sample_rate=drift.sampling_percent / 100
            )
        ),
        model_monitoring_alert_config=alert_config(drift.alert, project),
        labels=job_labels(desired),
    )


def alert_config(alert: Any, project: str) -> Any:
    """Anomalies always go to Cloud Logging too (from there a sink reaches Pub/Sub)."""
    types = v1()
    config = types.ModelMonitoringAlertConfig(enable_logging=True)
    if alert is None:
        return config
    if alert.email:
        config.email_alert_config = types.ModelMonitoringAlertConfig.EmailAlertConfig(
            user_emails=list(alert.email)
        )
    if alert.channel:
        channel = alert.channel
        if not CHANNEL_RE.match(channel):
            channel = f"projects/{project}/notificationChannels/{channel}"
        config.notification_channels.append(channel)
    return config


def job_labels(desired: DesiredEndpoint) -> dict[str, str]:
    assert desired.monitoring_hash is not None
    return {
        T.MANAGED_BY: T.MANAGED_BY_VALUE,
        T.DEPLOYMENT: desired.name,
        HASH_LABEL: desired.monitoring_hash,
    }


def covered(job: Any) -> set[str]:
    return {c.deployed_model_id for c in job.model_deployment_monitoring_objective_configs}


# Everything cloudserve sets on a job; a change of spec patches all of it at once.
UPDATE_PATHS = [
    "display_name",
    "model_deployment_monitoring_objective_configs",
    "model_deployment_monitoring_schedule_config",
    "logging_sampling_strategy",
    "model_monitoring_alert_config",
    "labels",
]
