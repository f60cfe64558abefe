"""Pure parts: catalog, names, weights, validation, error mapping, plan notes. No emulator."""

from __future__ import annotations

import pytest
from cloudserve_sagemaker import translate as tr
from cloudserve_sagemaker.catalog import load_catalog
from cloudserve_sagemaker.errors import translate_client_error
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.settings import SageMakerSettings

from cloudserve.desired import build_desired
from cloudserve.errors import (
    AlreadyExists,
    Conflict,
    NotFound,
    ProviderError,
    QuotaExceeded,
    Throttled,
    Unavailable,
)
from cloudserve.planner import version_note
from cloudserve.spec.models import Compute


def test_catalog_is_dated_sourced_and_real() -> None:
    import botocore.session

    catalog = load_catalog()
    assert catalog.as_of and "aws.amazon.com/sagemaker/pricing" in catalog.source
    valid = set(
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .shape_for("ProductionVariantInstanceType")
        .enum
    )
    assert {i.name for i in catalog.instances} <= valid


@pytest.mark.parametrize(
    ("compute", "expected"),
    [
        ({}, "ml.c5.large"),
        ({"cpu": 2, "memory": "8Gi"}, "ml.m5.large"),
        ({"cpu": 4, "memory": "30Gi"}, "ml.r5.xlarge"),
        ({"cpu": 2, "memory": "8Gi", "accelerator": {"type": "nvidia-t4"}}, "ml.g4dn.xlarge"),
    ],
)
def test_smallest_fit(compute: dict[str, object], expected: str) -> None:
    assert load_catalog().smallest_fit(Compute.model_validate(compute)).name == expected


def test_names_stay_within_63_characters() -> None:
    long = "e" * 63
    name = tr.model_name(long, "v" * 32, "0123456789abcdef")
    assert len(name) <= 63 and name.endswith("-01234567")
    assert tr.model_name(long, "a" * 32, "0123456789abcdef") != tr.model_name(
        long, "b" * 32, "0123456789abcdef"
    )


def test_weights_round_trip() -> None:
    assert tr.traffic_from_weights({"a": 90.0, "b": 10.0}) == {"a": 90, "b": 10}
    assert tr.traffic_from_weights({"a": 1.0, "b": 1.0, "c": 1.0}) == {"a": 34, "b": 33, "c": 33}
    assert tr.traffic_from_weights({"a": 0.0}) == {"a": 0}


def _error(code: str, message: str = "m", status: int = 400) -> object:
    class E(Exception):
        response = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"RequestId": "req-1", "HTTPStatusCode": status, "HTTPHeaders": {}},
        }

    return E()


@pytest.mark.parametrize(
    ("code", "message", "status", "cls"),
    [
        ("ThrottlingException", "Rate exceeded", 400, Throttled),
        ("InternalFailure", "boom", 500, Unavailable),
        ("ValidationException", 'Could not find endpoint "x".', 400, NotFound),
        ("ValidationException", 'Cannot create already existing model "x".', 400, AlreadyExists),
        ("ValidationException", 'Cannot update in-progress endpoint "x".', 400, Conflict),
        ("ResourceLimitExceeded", "quota", 400, QuotaExceeded),
        ("ValidationException", "something else", 400, ProviderError),
    ],
)
def test_error_mapping_keeps_request_id(code: str, message: str, status: int, cls: type) -> None:
    error = translate_client_error(_error(code, message, status), "DescribeEndpoint")
    assert type(error) is cls and error.request_id == "req-1" and message in error.message


def test_validate_and_plan_note(make_spec) -> None:  # type: ignore[no-untyped-def]
    provider = SageMakerProvider(SageMakerSettings(region="us-east-1"), offline=True)
    spec = make_spec(
        "churn",
        versions={"stable": "a", "other": "b", "shadow": "b"},
        traffic={"stable": 100},
        mirror={"shadow": 10},
    )
    problems = provider.validate(build_desired(spec, provider))
    assert any("role_arn" in p for p in problems) and any("bucket" in p for p in problems)
    assert any("shadow" in p for p in problems)
    ok = make_spec("churn", versions={"stable": "a"}, compute={"replicas": {"min": 2}})
    desired = build_desired(ok, provider)
    note = provider.plan_note(desired, desired.versions["stable"])
    # One instance's price, as on every target; the planner multiplies by the minimum replicas.
    assert note.instance_type == "ml.c5.large" and note.hourly_price_usd == pytest.approx(0.102)
    planned = version_note(provider, desired, desired.versions["stable"])
    assert planned.replicas == 2 and planned.hourly_price_at_min_usd == pytest.approx(2 * 0.102)
    assert provider.operations("set_traffic", desired, "stable") == [
        "sagemaker:UpdateEndpointWeightsAndCapacities"
    ]


@pytest.mark.parametrize(
    ("model", "pin"),
    [
        ({"framework": "sklearn", "framework_version": "1.5"}, "scikit-learn==1.5.*"),
        ({"framework": "xgboost", "framework_version": "2.1"}, "xgboost==2.1.*"),
        ({"framework": "sklearn"}, None),
        ({"framework": "custom", "framework_version": "3"}, None),
    ],
)
def test_archive_requirements_pin_the_models_library(tmp_path, model, pin) -> None:  # type: ignore[no-untyped-def]
    import io
    import tarfile

    from cloudserve_sagemaker.staging import pack_model

    from cloudserve.spec.models import ModelSpec

    artifact = tmp_path / "model.skops"
    artifact.write_bytes(b"weights")
    data = pack_model(artifact, ModelSpec(uri=str(artifact), **model))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile("code/requirements.txt")
        assert member is not None
        lines = member.read().decode().splitlines()
        shipped = set(tar.getnames())
    # cloudserve itself travels in code/ (no index has it); everything else is pinned exactly.
    assert "code/cloudserve/__init__.py" in shipped and "code/cloudserve/serving/app.py" in shipped
    assert not any(line.lower().startswith("cloudserve") for line in lines)
    requirements = [line for line in lines if not line.startswith("#")]
    assert all("==" in line for line in requirements), requirements
    assert any(line.startswith("numpy==") for line in requirements)
    # An sklearn model's container installs no XGBoost (and its ~250 MB of NCCL).
    if model.get("framework", "sklearn") == "sklearn":
        assert not any(line.lower().startswith(("xgboost", "nvidia")) for line in requirements)
    if pin:
        assert pin in requirements
        assert sum(line.startswith(pin.split("==")[0] + "==") for line in requirements) == 1


def test_a_pin_older_than_the_runtime_fails_plan(make_spec) -> None:  # type: ignore[no-untyped-def]
    provider = SageMakerProvider(SageMakerSettings(region="us-east-1"), offline=True)
    spec = make_spec("churn", versions={"stable": "a"})
    stable = spec.spec.versions["stable"]
    old = stable.model_copy(update={"model": stable.model.model_copy(update={"framework_version": "1.2"})})
    spec = spec.model_copy(update={"spec": spec.spec.model_copy(update={"versions": {"stable": old}})})
    problems = provider.validate(build_desired(spec, provider))
    assert any(p.startswith("spec.versions.stable.model.framework_version: '1.2'") for p in problems)


def test_plan_says_when_the_image_lookup_sdk_is_missing(make_spec, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 item 2: a version without image needs the [images] extra; plan --offline
    (and validate --target sagemaker) say so with the install command, not apply."""
    import importlib.util

    from cloudserve_sagemaker import images

    settings = SageMakerSettings(region="us-east-1", role_arn="arn:aws:iam::123456789012:role/x", bucket="b")
    provider = SageMakerProvider(settings, offline=True)
    spec = make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100})
    real = importlib.util.find_spec
    assert provider.validate(build_desired(spec, provider)) == []
    monkeypatch.setattr(
        images.importlib.util, "find_spec", lambda name, *a: None if name == "sagemaker" else real(name, *a)
    )
    (problem,) = provider.validate(build_desired(spec, provider))
    assert "stable" in problem and "pip install 'cloudserve-sagemaker[images]'" in problem
    spec.spec.versions["stable"].image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/own:1"
    spec.spec.versions["stable"].model = None
    assert provider.validate(build_desired(spec, provider)) == []


def test_an_offline_archive_installs_from_its_own_wheels_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io
    import tarfile

    from cloudserve_sagemaker.staging import BUILD_PINS, content_key, offline_pins, pack_model

    from cloudserve.serving.wheels import cached_wheels
    from cloudserve.spec.models import ModelSpec

    artifact = tmp_path / "model.skops"
    artifact.write_bytes(b"weights")
    spec = ModelSpec(uri=str(artifact), framework="sklearn")
    pins = offline_pins(spec, artifact)
    assert pins[-2:] == list(BUILD_PINS)  # the toolkit's `pip install .` builds with these
    # A stand-in wheel per pin (names as pip writes them), and one for another platform.
    folder = tmp_path / "wheels"
    folder.mkdir()
    for pin in pins:
        name, version = pin.split("==")
        (folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
    (folder / "numpy-9.9.9-cp312-cp312-win_amd64.whl").write_bytes(b"")
    wheels = cached_wheels(pins, folder)
    assert wheels is not None and len(wheels) == len(pins)
    assert cached_wheels([*pins, "numpy==9.9.9"], folder) is None  # a Windows wheel does not fit
    with tarfile.open(fileobj=io.BytesIO(pack_model(artifact, spec, wheels)), mode="r:gz") as tar:
        names = set(tar.getnames())
        member = tar.extractfile("code/requirements.txt")
        assert member is not None
        lines = member.read().decode().splitlines()
    assert lines[:2] == ["--no-index", "--find-links wheels"]
    assert {f"code/wheels/{w.name}" for w in wheels} <= names
    assert "code/pyproject.toml" in names  # the build requirements, pinned
    assert content_key("p", artifact, spec, offline=True) != content_key("p", artifact, spec)


def test_plan_says_what_a_container_downloads_at_start(make_spec, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cloudserve_sagemaker.staging import start_note

    from cloudserve.spec.models import ModelSpec

    monkeypatch.setenv("CLOUDSERVE_WHEEL_CACHE", str(tmp_path / "empty"))
    spec = ModelSpec(uri="./model", framework="sklearn")
    online = start_note(spec, offline=False)
    assert online is not None and "from PyPI at every start" in online and "offline: true" in online
    offline = start_note(spec, offline=True)
    assert offline is not None and "nothing from an index" in offline
    assert start_note(ModelSpec(uri="s3://b/model.tar.gz", framework="sklearn"), offline=False) is None


def test_offline_refuses_an_archive_it_does_not_build(make_spec) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec("churn", versions={"blue": "a"})
    blue = spec.spec.versions["blue"]
    remote = blue.model_copy(
        update={"model": blue.model.model_copy(update={"uri": "s3://artifacts/m.tar.gz"})}
    )
    spec = spec.model_copy(update={"spec": spec.spec.model_copy(update={"versions": {"blue": remote}})})
    settings = SageMakerSettings.of(spec).model_copy(update={"offline": True})
    provider = SageMakerProvider(settings, offline=True)
    problems = provider.validate(build_desired(spec, provider))
    assert any("targets.sagemaker.offline" in p and "spec.versions.blue.model.uri" in p for p in problems), (
        problems
    )
