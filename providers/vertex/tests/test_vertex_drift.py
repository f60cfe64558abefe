"""Drift monitoring on the Vertex AI emulator (issue 8, items 5-6).

``monitoring.drift`` becomes one ModelDeploymentMonitoringJob on the endpoint, through the
real JobService REST client: created with the endpoint, read back (an unchanged spec plans
no change), changed in place (a threshold change is update_endpoint only: the job is
patched and its hash label matches), kept covering every deployed model across a version
change, and deleted first on destroy (a monitored model cannot be undeployed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cloudserve_vertex import monitoring
from cloudserve_vertex.client import v1
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.settings import VertexSettings
from cloudserve_vertex.testing import VertexEmulator

from cloudserve.desired import build_desired
from cloudserve.provider import Feature, Support
from cloudserve.spec.models import Deployment
from cloudserve.testing.conformance import apply_spec, pending_changes, wait

MakeSpec = Callable[..., Deployment]
NAME = "churn"


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    x, _ = load_iris(return_X_y=True)
    path = tmp_path / "train.csv"
    path.write_text("a,b,c,d\n" + "\n".join(",".join(f"{v:g}" for v in row) for row in x) + "\n")
    return path


def drift_spec(
    make_spec: MakeSpec, baseline: Path | str, versions: dict[str, str] | None = None, **drift: Any
) -> Deployment:
    versions = versions or {"stable": "a", "candidate": "b"}
    traffic = {v: (100 if i == 0 else 0) for i, v in enumerate(versions)}
    settings = {
        "baseline": str(baseline),
        "schedule": "hourly",
        "threshold": 0.25,
        "thresholds": {"a": 0.1},
        "sampling_percent": 50,
        "alert": {"email": ["ml-team@example.com"], "channel": "1234567"},
        **drift,
    }
    spec = make_spec(NAME, versions, traffic, monitoring={"drift": settings})
    return keyed(spec)


def keyed(spec: Deployment) -> Deployment:
    """The spec with targets.vertex.instance_format: keyed (per-feature thresholds need it)."""
    vertex = VertexSettings.of(spec).model_copy(update={"instance_format": "keyed"})
    return spec.model_copy(update={"targets": {**spec.targets, "vertex": vertex}})


def the_job(emulator: VertexEmulator) -> Any:
    jobs = list(emulator.state.jobs.values())
    assert len(jobs) == 1
    return jobs[0]


def test_drift_job_created_read_back_changed_in_place_and_destroyed(
    provider: VertexProvider, emulator: VertexEmulator, make_spec: MakeSpec, baseline: Path
) -> None:
    cap = provider.capabilities()[Feature.DRIFT_MONITORING]
    assert cap.support is Support.NATIVE
    spec = drift_spec(make_spec, baseline)
    apply_spec(provider, spec)

    job = the_job(emulator)
    endpoint = next(iter(emulator.endpoints.values()))
    assert job.endpoint == endpoint.name and job.state.name == "JOB_STATE_RUNNING"
    assert monitoring.covered(job) == {d.id for d in endpoint.deployed_models}
    objective = job.model_deployment_monitoring_objective_configs[0].objective_config
    staged = objective.training_dataset.gcs_source.uris[0]
    assert staged.startswith("gs://cloudserve-test/cloudserve/baselines/") and staged in emulator.objects()
    assert objective.training_dataset.data_format == "csv"
    skew = objective.training_prediction_skew_detection_config
    assert skew.default_skew_threshold.value == pytest.approx(0.25)
    assert {k: round(t.value, 6) for k, t in skew.skew_thresholds.items()} == {"a": 0.1}
    assert objective.prediction_drift_detection_config.default_drift_threshold.value == pytest.approx(0.25)
    assert job.model_deployment_monitoring_schedule_config.monitor_interval.total_seconds() == 3600
    assert job.logging_sampling_strategy.random_sample_config.sample_rate == pytest.approx(0.5)
    alert = job.model_monitoring_alert_config
    assert list(alert.email_alert_config.user_emails) == ["ml-team@example.com"]
    assert list(alert.notification_channels) == ["projects/test-project/notificationChannels/1234567"]
    desired = build_desired(spec, provider)
    assert job.labels[monitoring.HASH_LABEL] == desired.monitoring_hash

    # read back: nothing to do
    state = provider.observe(NAME)
    assert state is not None and state.monitoring_hash == desired.monitoring_hash
    assert pending_changes(provider, spec) == []

    # changed in place: a threshold change is update_endpoint only, the job is patched
    changed = drift_spec(make_spec, baseline, threshold=0.4)
    assert pending_changes(provider, changed) == ["update settings churn"]
    before = len(emulator.requests)
    apply_spec(provider, changed)
    calls = emulator.call_counts(before)
    assert not [c for c in calls if "modelDeploymentMonitoringJobs" in c and c.startswith(("POST", "DELETE"))]
    assert (
        sum(n for c, n in calls.items() if c.startswith("PATCH") and "modelDeploymentMonitoringJobs" in c)
        == 1
    )
    job = the_job(emulator)
    objective = job.model_deployment_monitoring_objective_configs[0].objective_config
    assert objective.training_prediction_skew_detection_config.default_skew_threshold.value == pytest.approx(
        0.4
    )
    assert job.labels[monitoring.HASH_LABEL] == build_desired(changed, provider).monitoring_hash
    assert pending_changes(provider, changed) == []

    # destroyed: the job goes first (a monitored model cannot be undeployed), then the rest
    wait(provider.delete_endpoint(NAME))
    assert not emulator.state.jobs and not emulator.endpoints and not emulator.models


def test_version_changes_keep_the_job_covering_every_deployed_model(
    provider: VertexProvider, emulator: VertexEmulator, make_spec: MakeSpec, baseline: Path
) -> None:
    apply_spec(provider, drift_spec(make_spec, baseline, versions={"stable": "a"}))
    grown = drift_spec(make_spec, baseline, versions={"stable": "a", "candidate": "b"})
    apply_spec(provider, grown)  # create_version adds the new deployed model to the job
    endpoint = next(iter(emulator.endpoints.values()))
    assert monitoring.covered(the_job(emulator)) == {d.id for d in endpoint.deployed_models}
    assert len(endpoint.deployed_models) == 2
    apply_spec(provider, drift_spec(make_spec, baseline, versions={"candidate": "b"}))  # delete_version
    endpoint = next(iter(emulator.endpoints.values()))
    assert [d.display_name for d in endpoint.deployed_models] == ["candidate"]
    assert monitoring.covered(the_job(emulator)) == {endpoint.deployed_models[0].id}
    assert pending_changes(provider, drift_spec(make_spec, baseline, versions={"candidate": "b"})) == []
    apply_spec(provider, make_spec(NAME, {"candidate": "b"}, {"candidate": 100}))  # drift removed
    assert not emulator.state.jobs


def test_emulator_enforces_the_monitoring_job_rules(
    provider: VertexProvider, emulator: VertexEmulator, make_spec: MakeSpec, baseline: Path
) -> None:
    from cloudserve import errors

    apply_spec(provider, drift_spec(make_spec, baseline))
    client, job = provider.client, the_job(emulator)
    endpoint = next(iter(emulator.endpoints.values()))
    monitored = endpoint.deployed_models[0].id
    with pytest.raises(errors.Conflict, match="monitored by"):
        wait(client.undeploy_model(endpoint.name, monitored, None))
    second = type(job).deserialize(type(job).serialize(job))
    second.name = ""
    with pytest.raises(errors.AlreadyExists, match="already has a ModelDeploymentMonitoringJob"):
        client.create_monitoring_job(second)
    short = v1().ModelDeploymentMonitoringJob(
        name=job.name,
        model_deployment_monitoring_schedule_config={"monitor_interval": {"seconds": 1800}},
    )
    with pytest.raises(errors.ProviderError, match="at least 1 hour"):
        client.update_monitoring_job(short, ["model_deployment_monitoring_schedule_config"])
    zero = v1().ModelDeploymentMonitoringJob(
        name=job.name, logging_sampling_strategy={"random_sample_config": {"sample_rate": 0}}
    )
    with pytest.raises(errors.ProviderError, match="sample_rate"):
        client.update_monitoring_job(zero, ["logging_sampling_strategy"])
    with pytest.raises(errors.ProviderError, match="not updatable"):
        client.update_monitoring_job(v1().ModelDeploymentMonitoringJob(name=job.name), ["endpoint"])
    jobs = client.jobs
    jobs.pause_model_deployment_monitoring_job(name=job.name)
    assert the_job(emulator).state.name == "JOB_STATE_PAUSED"
    with pytest.raises(Exception, match="only a running job pauses"):
        jobs.pause_model_deployment_monitoring_job(name=job.name)
    jobs.resume_model_deployment_monitoring_job(name=job.name)
    assert the_job(emulator).state.name == "JOB_STATE_RUNNING"


def test_plan_refuses_what_vertex_monitoring_cannot_do(
    provider: VertexProvider, make_spec: MakeSpec, baseline: Path, tmp_path: Path
) -> None:
    parquet = tmp_path / "train.parquet"
    parquet.write_bytes(b"PAR1")
    spec = drift_spec(
        make_spec,
        parquet,
        method="psi",
        schedule="30m",
        sampling_percent=0,
        alert={"webhook": "https://hooks.example.com/x"},
    )
    text = "\n".join(provider.validate(build_desired(spec, provider)))
    for expected in (
        "Jensen-Shannon",
        "every hour at the most",
        "sample rate",
        "webhook notification channel",
        "CSV, JSONL",
    ):
        assert expected in text, expected
    assert "whole hours" in "\n".join(
        provider.validate(build_desired(drift_spec(make_spec, baseline, schedule="90m"), provider))
    )
    assert provider.validate(build_desired(drift_spec(make_spec, baseline, schedule="daily"), provider)) == []


def test_per_feature_thresholds_need_keyed_instances(
    provider: VertexProvider, make_spec: MakeSpec, baseline: Path
) -> None:
    """Vertex names the values of list instances itself (doc "Provide schemas to Vertex AI
    Model Monitoring"), so a threshold on a named feature is refused unless instances are keyed."""
    keyed_spec = drift_spec(make_spec, baseline)  # thresholds {"a": 0.1}, instance_format keyed
    assert provider.validate(build_desired(keyed_spec, provider)) == []

    def with_format(fmt: str | None) -> list[str]:
        vertex = VertexSettings.of(keyed_spec).model_copy(update={"instance_format": fmt})
        spec = keyed_spec.model_copy(update={"targets": {**keyed_spec.targets, "vertex": vertex}})
        return provider.validate(build_desired(spec, provider))

    unsaid = "\n".join(with_format(None))
    assert "monitoring.drift.thresholds names features (a)" in unsaid
    assert "Set targets.vertex.instance_format: keyed" in unsaid
    assert "would never match" in "\n".join(with_format("list"))
    without = drift_spec(make_spec, baseline, thresholds={})
    plain = without.model_copy(update={"targets": make_spec(NAME, {"v": "a"}, {"v": 100}).targets})
    assert provider.validate(build_desired(plain, provider)) == []  # one default threshold: any format


def test_a_bigquery_baseline_is_planned_and_used_as_it_is(
    provider: VertexProvider, emulator: VertexEmulator, make_spec: MakeSpec
) -> None:
    """bq:// is remote: plan does not look for it on this machine (it used to say 'baseline
    file .../bq:/... does not exist'), and the job reads the table itself."""
    spec = drift_spec(make_spec, "bq://test-project.ml.training")
    assert build_desired(spec, provider).baseline is None
    apply_spec(provider, spec)
    objective = the_job(emulator).model_deployment_monitoring_objective_configs[0].objective_config
    assert objective.training_dataset.bigquery_source.input_uri == "bq://test-project.ml.training"
    assert not [o for o in emulator.objects() if "/baselines/" in o]
