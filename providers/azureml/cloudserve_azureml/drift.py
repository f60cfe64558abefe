"""``monitoring.drift`` -> an Azure ML monitor schedule with data-drift signals (pure functions).

Azure ML monitors a managed online deployment through a schedule whose action is a
MonitorDefinition: signals compare the deployment's collected model inputs (the data
collector's ``model_inputs`` collection, which azure-ai-ml registers as the data asset
``<endpoint>-<deployment>-model_inputs``) with reference data, on serverless Spark, and alert
by email. cloudserve writes one schedule per deployment (``<endpoint>-drift``) with one
data-drift signal per version, plus one per feature that has its own threshold: Azure takes
thresholds per feature *type* (numerical, categorical), not per feature. The schedule carries
the spec's monitoring hash in its tags so `plan` can tell an unchanged schedule.

The entity classes arrive through ``ent`` (``azure.ai.ml.entities``), as in translate.py.
"""

from __future__ import annotations

import re
from typing import Any

from cloudserve import tags as T
from cloudserve.provider import DesiredEndpoint
from cloudserve.spec.models import Drift

MONITORING_TAG = "cloudserve-monitoring"  # the spec's monitoring hash
VERSIONS_TAG = "cloudserve-monitored"  # the versions with a signal, '.'-joined
# Serverless Spark for monitoring jobs: the smallest supported size and the current runtime
# (Microsoft Learn, "Model monitoring with Azure Machine Learning", compute).
SPARK_INSTANCE = "standard_e4s_v3"
SPARK_RUNTIME = "3.4"

# cloudserve method -> (numerical metric, categorical metric) of Azure's data drift signal.
# Azure has no chi-square for numerical features nor KS/Wasserstein for categorical ones;
# each side takes the closest test of the same kind (a p-value test or a distance).
_METRICS: dict[str, tuple[str, str]] = {
    "auto": ("normalized_wasserstein_distance", "jensen_shannon_distance"),
    "wasserstein": ("normalized_wasserstein_distance", "jensen_shannon_distance"),
    "js": ("jensen_shannon_distance", "jensen_shannon_distance"),
    "psi": ("population_stability_index", "population_stability_index"),
    "ks": ("two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test"),
    "chi2": ("two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test"),
}
# cloudserve's own defaults per method (cloudserve/monitor/README.md, Thresholds).
_DEFAULTS = {
    "normalized_wasserstein_distance": 0.1,
    "jensen_shannon_distance": 0.1,
    "population_stability_index": 0.2,
    "two_sample_kolmogorov_smirnov_test": 0.05,
    "pearsons_chi_squared_test": 0.05,
}


def schedule_name(endpoint: str) -> str:
    return f"{endpoint}-drift"


def baseline_name(endpoint: str) -> str:
    return f"{endpoint}-drift-baseline"


def inputs_asset(endpoint: str, version: str) -> str:
    """The data asset azure-ai-ml registers for a deployment's ``model_inputs`` collection."""
    return f"{endpoint}-{version}-model_inputs"


def recurrence(schedule: str) -> tuple[str, int]:
    """'hourly' | 'daily' | '6h' | '30m' | '2d' -> (RecurrenceTrigger frequency, interval)."""
    text = schedule.strip().lower()
    named = {"hourly": ("hour", 1), "daily": ("day", 1), "weekly": ("week", 1)}
    if text in named:
        return named[text]
    match = re.fullmatch(r"(\d+)\s*(m|min|h|d|w)", text)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"monitoring.drift.schedule {schedule!r}: use hourly, daily, or e.g. 6h")
    unit = {"m": "minute", "min": "minute", "h": "hour", "d": "day", "w": "week"}[match.group(2)]
    return unit, int(match.group(1))


def window(schedule: str) -> str:
    """The production window one run looks at: one schedule interval, as ISO 8601."""
    unit, n = recurrence(schedule)
    return {"minute": f"PT{n}M", "hour": f"PT{n}H", "day": f"P{n}D", "week": f"P{7 * n}D"}[unit]


def thresholds(drift: Drift, feature: str | None = None) -> tuple[tuple[str, float], tuple[str, float]]:
    """((numerical metric, value), (categorical metric, value)) for the spec's method; an
    explicit ``threshold`` (or the feature's own) replaces cloudserve's per-method default."""
    numerical, categorical = _METRICS[drift.method]
    explicit = drift.thresholds.get(feature) if feature else None
    if explicit is None and "threshold" in drift.model_fields_set:
        explicit = drift.threshold
    return (
        (numerical, explicit if explicit is not None else _DEFAULTS[numerical]),
        (categorical, explicit if explicit is not None else _DEFAULTS[categorical]),
    )


def _signal(
    ent: Any, endpoint: str, version: str, drift: Drift, baseline_ref: str, feature: str | None
) -> Any:
    from azure.ai.ml import Input

    (num, num_value), (cat, cat_value) = thresholds(drift, feature)
    features = (
        [feature]
        if feature
        else ([f for f in drift.features if f not in drift.thresholds] if drift.features else None)
    )
    return ent.DataDriftSignal(
        production_data=ent.ProductionData(
            input_data=Input(path=f"azureml:{inputs_asset(endpoint, version)}:1", type="uri_folder"),
            data_context="model_inputs",
            data_window=ent.BaselineDataRange(
                lookback_window_size=window(drift.schedule), lookback_window_offset="P0D"
            ),
        ),
        reference_data=ent.ReferenceData(
            input_data=Input(path=baseline_ref, type="mltable"), data_context="training"
        ),
        features=features,
        metric_thresholds=ent.DataDriftMetricThreshold(
            numerical=ent.NumericalDriftMetrics(**{num: num_value}),
            categorical=ent.CategoricalDriftMetrics(**{cat: cat_value}),
        ),
        alert_enabled=True,
    )


def signal_key(version: str, feature: str | None = None) -> str:
    key = f"drift-{version}" + (f"-{feature}" if feature else "")
    return re.sub(r"[^A-Za-z0-9_-]", "_", key)


def schedule_entity(ent: Any, desired: DesiredEndpoint, versions: list[str], baseline_ref: str) -> Any:
    """The monitor schedule for ``versions`` (those deployed now), alerting the spec's emails."""
    drift = desired.deployment.spec.monitoring.drift
    assert drift is not None and desired.monitoring_hash is not None
    signals = {}
    for version in versions:
        signals[signal_key(version)] = _signal(ent, desired.name, version, drift, baseline_ref, None)
        for feature in sorted(drift.thresholds):
            signals[signal_key(version, feature)] = _signal(
                ent, desired.name, version, drift, baseline_ref, feature
            )
    emails = list(drift.alert.email) if drift.alert else []
    frequency, interval = recurrence(drift.schedule)
    main = max(versions, key=lambda v: (desired.traffic.get(v, 0), v))
    return ent.MonitorSchedule(
        name=schedule_name(desired.name),
        trigger=ent.RecurrenceTrigger(frequency=frequency, interval=interval),
        create_monitor=ent.MonitorDefinition(
            compute=ent.ServerlessSparkCompute(instance_type=SPARK_INSTANCE, runtime_version=SPARK_RUNTIME),
            monitoring_target=ent.MonitoringTarget(
                ml_task="classification", endpoint_deployment_id=f"azureml:{desired.name}:{main}"
            ),
            monitoring_signals=signals,
            alert_notification=ent.AlertNotification(emails=emails) if emails else None,
        ),
        display_name=f"cloudserve drift {desired.name}",
        tags={
            T.MANAGED_BY: T.MANAGED_BY_VALUE,
            T.DEPLOYMENT: desired.name,
            MONITORING_TAG: desired.monitoring_hash,
            VERSIONS_TAG: ".".join(sorted(versions)),
        },
    )


def observed_hash(schedule: Any, deployments: list[str]) -> str | None:
    """The schedule's monitoring hash, marked stale when its signals do not cover exactly the
    deployments there are now (a version was added or removed since it was written)."""
    if schedule is None:
        return None
    tags = dict(getattr(schedule, "tags", None) or {})
    value = tags.get(MONITORING_TAG)
    if not isinstance(value, str):
        return None
    if tags.get(VERSIONS_TAG, "") != ".".join(sorted(deployments)):
        return f"{value} (signals for {tags.get(VERSIONS_TAG) or 'none'})"
    return value


def mltable_text(file_name: str) -> str:
    """An MLTable over the baseline file (Azure ML monitoring reads reference data as MLTable)."""
    if file_name.lower().endswith((".parquet", ".pq")):
        reader = "read_parquet:\n      include_path_column: false"
    else:
        reader = "read_delimited:\n      delimiter: ','\n      header: all_files_same_headers"
    return (
        "$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json\n"
        "type: mltable\n"
        f"paths:\n  - file: ./{file_name}\n"
        f"transformations:\n  - {reader}\n"
    )
