"""Translation, staging, scaling, capture, metrics, destroy scope, validation, catalog."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cloudserve_vertex import catalog, containers, translate
from cloudserve_vertex.client import v1
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.settings import VertexSettings
from cloudserve_vertex.testing import VertexEmulator

from cloudserve import errors
from cloudserve import tags as T
from cloudserve.desired import build_desired
from cloudserve.planner import version_note
from cloudserve.provider import Feature, Support
from cloudserve.registry import provider_class
from cloudserve.spec.models import Deployment, ModelSpec
from cloudserve.testing.conformance import wait

from .conftest import BUCKET, spec_doc

MakeSpec = Callable[..., Deployment]


def _apply(provider: VertexProvider, spec: Deployment) -> None:
    wait(provider.create_endpoint(build_desired(spec, provider)))


def test_entry_point_and_capabilities() -> None:
    assert provider_class("vertex") is VertexProvider
    caps = VertexProvider().capabilities()
    assert set(caps) == set(Feature)
    assert caps[Feature.MIRROR].support is Support.UNSUPPORTED and "shadow" in caps[Feature.MIRROR].reason
    assert caps[Feature.ROLLOUT].support is Support.EMULATED


def test_importing_the_provider_imports_no_sdk() -> None:
    code = (
        "import sys, cloudserve_vertex.provider; "
        "print(any(m.startswith('google.cloud.aiplatform') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_request_bodies_are_sdk_types(provider: VertexProvider, make_spec: MakeSpec) -> None:
    from cloudserve_vertex import translate

    spec = make_spec(
        "churn",
        {"stable": "a"},
        {"stable": 100},
        capture={"sample_percent": 20},
        compute={"replicas": {"min": 1, "max": 3}, "autoscale": {"metric": "cpu_utilization", "target": 70}},
    )
    desired = build_desired(spec, provider)
    endpoint = translate.build_endpoint(desired, "test-project")
    assert isinstance(endpoint, v1().Endpoint)
    assert endpoint.predict_request_response_logging_config.sampling_rate == 0.2
    assert (
        endpoint.predict_request_response_logging_config.bigquery_destination.output_uri
        == "bq://test-project"
    )
    deployed = translate.deployed_model(
        desired, desired.versions["stable"], "projects/p/locations/l/models/1"
    )
    assert isinstance(deployed, v1().DeployedModel)
    assert deployed.display_name == "stable"
    resources = deployed.dedicated_resources
    assert (resources.min_replica_count, resources.max_replica_count) == (1, 3)
    assert resources.autoscaling_metric_specs[0].metric_name.endswith("/cpu/utilization")
    model = translate.build_model(desired, desired.versions["stable"], "gs://b/x")
    assert model.container_spec.image_uri == "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-5:latest"
    assert model.labels[T.CONFIG_HASH] == desired.versions["stable"].config_hash


def test_staging_is_content_addressed_and_gs_is_used_as_is(
    provider: VertexProvider, make_spec: MakeSpec, emulator: VertexEmulator, models: dict[str, Any]
) -> None:
    _apply(provider, make_spec("one", {"stable": "a"}, {"stable": 100}))
    staged = emulator.objects(f"gs://{BUCKET}/cloudserve/artifacts/")
    uploads = sum(1 for m, p in emulator.requests if p.startswith("/upload/"))
    _apply(provider, make_spec("two", {"stable": "a"}, {"stable": 100}))
    assert emulator.objects(f"gs://{BUCKET}/cloudserve/artifacts/") == staged
    assert sum(1 for m, p in emulator.requests if p.startswith("/upload/")) == uploads  # not again
    emulator.put_object(
        "gs://cloudserve-test/mine/model.joblib", (Path(models["b_path"]) / "model.joblib").read_bytes()
    )
    doc = spec_doc("three", {"stable": "gs://cloudserve-test/mine"}, {"stable": 100})
    _apply(provider, Deployment.model_validate(doc))
    model = next(m for m in emulator.models.values() if m.labels[T.DEPLOYMENT] == "three")
    assert model.artifact_uri == "gs://cloudserve-test/mine"
    result = provider.invoke("three", {"instances": [[6.7, 3.0, 5.2, 2.3]]})
    assert result.body["predictions"] == models["b"].predict([[6.7, 3.0, 5.2, 2.3]]).tolist()


def test_scaling_capture_and_tags_round_trip(provider: VertexProvider, make_spec: MakeSpec) -> None:
    _apply(provider, make_spec("churn", {"stable": "a"}, {"stable": 100}))
    spec = make_spec(
        "churn",
        {"stable": "a"},
        {"stable": 100},
        capture={"sample_percent": 25},
        compute={
            "replicas": {"min": 2, "max": 5},
            "autoscale": {"metric": "requests_per_replica", "target": 50},
        },
    )
    desired = build_desired(spec, provider)
    provider.write_tags("churn", {T.LEASE: "me-123"})
    wait(provider.update_version(desired, desired.versions["stable"]))
    wait(provider.update_endpoint(desired))
    observed = provider.observe("churn")
    assert observed is not None
    assert observed.versions["stable"].scaling == desired.versions["stable"].scaling
    assert observed.capture_percent == 25
    assert observed.tags[T.LEASE] == "me-123"  # update_endpoint keeps the lease
    provider.write_tags("churn", {T.LEASE: None})
    assert T.LEASE not in (provider.observe("churn") or observed).tags


def test_destroy_removes_only_what_cloudserve_made(
    provider: VertexProvider, make_spec: MakeSpec, emulator: VertexEmulator
) -> None:
    _apply(provider, make_spec("churn", {"stable": "a", "candidate": "b"}, {"stable": 50, "candidate": 50}))
    _apply(provider, make_spec("other", {"stable": "a"}, {"stable": 100}))
    client = provider.client
    foreign = v1().Model(display_name="someone-elses", container_spec=v1().ModelContainerSpec(image_uri="x"))
    client.upload_model(foreign).result()
    wait(provider.delete_endpoint("churn"))
    assert provider.observe("churn") is None
    labels = [dict(m.labels) for m in emulator.models.values()]
    assert not [m for m in labels if m.get(T.DEPLOYMENT) == "churn"]
    assert any(m.get(T.DEPLOYMENT) == "other" for m in labels)
    assert any(m.display_name == "someone-elses" for m in emulator.models.values())
    calls = [p.rsplit(":", 1)[-1] if ":" in p else m for m, p in emulator.requests[-12:]]
    assert calls.index("undeployModel") < max(i for i, c in enumerate(calls) if c == "DELETE")


def test_destroy_refuses_an_endpoint_cloudserve_did_not_create(provider: VertexProvider) -> None:
    provider.client.create_endpoint(v1().Endpoint(display_name="theirs"), "theirs").result()
    with pytest.raises(errors.Conflict):
        provider.delete_endpoint("theirs")


def test_mirror_is_unsupported(provider: VertexProvider, make_spec: MakeSpec) -> None:
    _apply(provider, make_spec("churn", {"stable": "a", "candidate": "b"}, {"stable": 100, "candidate": 0}))
    with pytest.raises(errors.NotSupported, match="shadow"):
        provider.set_traffic("churn", {"stable": 100}, {"candidate": 10})


def test_metrics_from_cloud_monitoring(
    provider: VertexProvider, make_spec: MakeSpec, emulator: VertexEmulator
) -> None:
    _apply(provider, make_spec("churn", {"stable": "a", "candidate": "b"}, {"stable": 90, "candidate": 10}))
    emulator.record_predictions("churn", "stable", count=200, errors=2, latency_ms=20)
    emulator.record_predictions("churn", "candidate", count=100, errors=10, latency_ms=300)
    got = provider.metrics("churn", ["stable", "candidate", "gone"], 600)
    assert (got["stable"].requests, got["stable"].errors) == (200, 2)
    assert got["candidate"].error_rate == pytest.approx(0.1)
    assert got["stable"].latency_p99_ms is not None and 10 < got["stable"].latency_p99_ms <= 30
    assert got["candidate"].latency_p99_ms is not None and got["candidate"].latency_p99_ms > 200
    assert got["gone"].requests == 0
    assert sum(1 for _, p in emulator.requests if p.endswith("/timeSeries")) == 3


def test_validate_finds_vertex_problems(
    provider: VertexProvider, make_spec: MakeSpec, tmp_path: Path
) -> None:
    (tmp_path / "model.skops").write_bytes(b"x")
    doc = spec_doc(
        "churn",
        {"stable": tmp_path},
        {"stable": 100},
        capture={"destination": "gs://x"},
        compute={"replicas": {"min": 0, "max": 2}},
    )
    doc["spec"]["versions"]["old"] = {
        "model": {"uri": str(tmp_path), "framework": "sklearn", "framework_version": "0.19"}
    }
    doc["spec"]["traffic"]["old"] = 0
    problems = provider.validate(build_desired(Deployment.model_validate(doc), provider))
    text = "\n".join(problems)
    assert "replicas.min" in text
    assert "BigQuery" in text
    assert "holds 0 of them" in text and "targets.vertex.serving_image" in text


def test_container_choice_prebuilt_image_or_serving_image(models: dict[str, Any], tmp_path: Path) -> None:
    """The prebuilt container when it can load the artifact; else serving_image, with the
    reason; the version's own image always wins. Plan notes and the Model body agree."""
    (tmp_path / "model.skops").write_bytes(b"x")
    doc = spec_doc("churn", {"ok": models["a_path"], "new": models["a_path"], "skops": tmp_path}, {"ok": 100})
    doc["spec"]["traffic"] = {"ok": 100, "new": 0, "skops": 0}
    doc["spec"]["versions"]["new"]["model"]["framework_version"] = "1.7"
    doc["spec"]["versions"]["own"] = {"image": "example.com/own:1"}
    doc["spec"]["traffic"]["own"] = 0
    doc["spec"]["versions"]["skops"]["model"]["format"] = "skops"
    doc["spec"]["versions"]["skops"]["model"]["trust_pickle"] = False
    image = "us-docker.pkg.dev/p/serving/cloudserve:0.1"
    doc["targets"]["vertex"]["serving_image"] = image
    spec = Deployment.model_validate(doc)
    chosen = {v: containers.choose(spec, v) for v in spec.spec.versions}
    assert chosen["ok"].kind == "prebuilt" and "sklearn-cpu.1-5" in (chosen["ok"].image or "")
    assert (chosen["new"].image, chosen["skops"].image) == (image, image)
    assert "sklearn 1.7" in chosen["new"].reason and "format skops" in chosen["skops"].reason
    assert (chosen["own"].image, chosen["own"].kind) == ("example.com/own:1", "image")
    provider = VertexProvider(VertexSettings.of(spec))
    desired = build_desired(spec, provider)
    assert provider.validate(desired) == []
    assert f"container: {image}" in provider.plan_note(desired, desired.versions["skops"]).notes[0]
    model = translate.build_model(desired, desired.versions["skops"], "gs://b/x")
    assert model.container_spec.image_uri == image
    assert {e.name: e.value for e in model.container_spec.env} == {
        "CLOUDSERVE_MODEL_FORMAT": "skops",
        "CLOUDSERVE_VERSION_NAME": "skops",
    }
    untrusted = Deployment.model_validate(doc).spec.versions["ok"].model_copy(deep=True)
    assert untrusted.model is not None
    untrusted.model.trust_pickle = False
    blocker = containers.prebuilt_blocker(spec, untrusted)
    assert blocker is not None and "unpickles the model file" in blocker and "trust_pickle" in blocker
    del doc["targets"]["vertex"]["serving_image"]
    refused = provider.validate(build_desired(Deployment.model_validate(doc), provider))
    assert len(refused) == 2 and all("targets.vertex.serving_image" in p for p in refused)


def test_catalog_smallest_fit_override_and_plan_note(make_spec: MakeSpec) -> None:
    assert catalog.smallest_fit(2, 4096, None, 1).machine_type == "e2-standard-2"
    t4 = catalog.smallest_fit(4, 8192, "nvidia-t4", 1)
    assert (t4.machine_type, t4.accelerator_type) == ("n1-standard-4", "NVIDIA_TESLA_T4")
    assert catalog.smallest_fit(4, 8192, "nvidia-l4", 1).machine_type.startswith("g2-")
    with pytest.raises(errors.InvalidSpec, match="not offered"):
        catalog.smallest_fit(2, 1024, "nvidia-a10g", 1)
    spec = make_spec(
        "churn",
        {"stable": "a"},
        {"stable": 100},
        compute={"instance_type": {"vertex": "n1-highmem-4"}, "replicas": {"min": 2}},
    )
    provider = VertexProvider(VertexSettings.of(spec))
    desired = build_desired(spec, provider)
    note = provider.plan_note(desired, desired.versions["stable"])
    assert note.instance_type == "n1-highmem-4"
    unit = catalog.machine_types()["n1-highmem-4"].hourly_usd
    assert note.hourly_price_usd == unit  # one replica, as on every target
    planned = version_note(provider, desired, desired.versions["stable"])
    assert planned.replicas == 2 and planned.hourly_price_at_min_usd == pytest.approx(2 * unit)


def test_container_table_matches_the_sdk() -> None:
    """Every prebuilt image in the catalog is one the SDK itself lists."""
    sdk = Path(v1().__file__).parent.parent / "aiplatform" / "constants" / "prediction.py"
    text = sdk.read_text()
    for framework in ("sklearn", "xgboost"):
        for name in catalog.data()["containers"][framework]:
            assert f"prediction/{name}" in text, name


@pytest.mark.parametrize("location", ["us-central1", "europe-west4", "asia-northeast1", "us-east4"])
def test_prebuilt_image_comes_from_the_locations_repository(location: str) -> None:
    """The SDK's own lookup of the prebuilt image for a region is the reference."""
    from google.cloud.aiplatform.helpers import get_prebuilt_prediction_container_uri

    model = ModelSpec(uri="./m", framework="sklearn", framework_version="1.5")
    expected = get_prebuilt_prediction_container_uri("sklearn", "1.5", region=location)
    assert catalog.container_image(model, location) == expected


@pytest.mark.parametrize(
    ("location", "repository"),
    [("australia-southeast1", "asia"), ("me-west1", "europe"), ("northamerica-northeast1", "us")],
)
def test_other_geographies_use_the_nearest_repository(location: str, repository: str) -> None:
    assert catalog.container_repository(location) == repository
