"""The spec models: valid input, and each kind of invalid input with its error text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudserve.errors import InvalidSpec
from cloudserve.spec.loader import load, load_one
from cloudserve.spec.quantities import parse_cpu, parse_duration_seconds, parse_memory_mib


def _errors(data: Any, **kw: Any) -> str:
    with pytest.raises(InvalidSpec) as info:
        load(data, **kw)
    return str(info.value)


def test_valid_spec_round_trips(spec: dict[str, Any]) -> None:
    d = load_one(spec)
    assert d.name == "churn"
    assert d.target == "local"
    assert d.spec.traffic_split() == {"stable": 90, "candidate": 10}
    assert d.spec.compute.replicas.maximum == 1


@pytest.mark.parametrize(
    ("text", "mib"), [("4Gi", 4096), ("512Mi", 512), ("1G", 1000**3 / 2**20), ("1.5Gi", 1536)]
)
def test_memory_quantities(text: str, mib: float) -> None:
    assert parse_memory_mib(text) == pytest.approx(mib)


@pytest.mark.parametrize(("text", "cores"), [("500m", 0.5), (2, 2.0), ("1.5", 1.5)])
def test_cpu_quantities(text: Any, cores: float) -> None:
    assert parse_cpu(text) == cores


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600), ("1h", 3600), ("1h30m", 5400), ("45s", 45), (30, 30)]
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration_seconds(text) == seconds


@pytest.mark.parametrize("bad", ["10 minutes", "m10", "", "1x"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_seconds(bad)


def test_unknown_key_suggests(spec: dict[str, Any]) -> None:
    spec["spec"]["trafic"] = spec["spec"].pop("traffic")
    text = _errors(spec)
    assert "unknown key 'trafic'" in text
    assert "did you mean 'traffic'?" in text


def test_unknown_nested_key_suggests(spec: dict[str, Any]) -> None:
    spec["spec"]["versions"]["stable"]["model"]["framwork"] = "sklearn"
    text = _errors(spec)
    assert "spec.versions.stable.model.framwork" in text
    assert "did you mean 'framework'?" in text


def test_traffic_must_sum_to_100(spec: dict[str, Any]) -> None:
    spec["spec"]["traffic"] = {"stable": 90, "candidate": 20}
    text = _errors(spec)
    assert "spec.traffic" in text and "must sum to 100; it sums to 110" in text


def test_traffic_names_declared_versions(spec: dict[str, Any]) -> None:
    spec["spec"]["traffic"] = {"stable": 90, "canary": 10}
    assert "names 'canary', which is not a declared version" in _errors(spec)


def test_mirror_names_declared_versions(spec: dict[str, Any]) -> None:
    spec["spec"]["mirror"] = {"shadow": 10}
    assert "spec.mirror: names 'shadow'" in _errors(spec)


def test_mirror_of_live_version_refused(spec: dict[str, Any]) -> None:
    spec["spec"]["mirror"] = {"candidate": 10}
    assert "already takes live traffic" in _errors(spec)


def test_traffic_required_with_two_versions(spec: dict[str, Any]) -> None:
    del spec["spec"]["traffic"]
    assert "traffic is required with more than one version" in _errors(spec)


@pytest.mark.parametrize(
    ("steps", "message"), [([10, 50, 90], "must end at 100"), ([50, 10, 100], "must rise")]
)
def test_canary_steps(spec: dict[str, Any], steps: list[int], message: str) -> None:
    spec["spec"]["rollout"] = {"strategy": "canary", "steps": steps}
    text = _errors(spec)
    assert "spec.rollout.steps" in text and message in text


def test_linear_steps(spec: dict[str, Any]) -> None:
    spec["spec"]["rollout"] = {"strategy": "linear", "increment": 30}
    assert load_one(spec).spec.rollout.step_percents() == [30, 60, 90, 100]


def test_bad_quantity_names_field(spec: dict[str, Any]) -> None:
    spec["spec"]["compute"] = {"memory": "4Gx"}
    text = _errors(spec)
    assert "spec.compute.memory" in text and "write e.g. 512Mi" in text


def test_replicas_order(spec: dict[str, Any]) -> None:
    spec["spec"]["compute"] = {"replicas": {"min": 4, "max": 2}}
    assert "spec.compute.replicas.max: 2 is below replicas.min (4)" in _errors(spec)


def test_names_are_portable(spec: dict[str, Any]) -> None:
    spec["metadata"]["name"] = "Churn_Model"
    assert "lowercase letters, digits and hyphens" in _errors(spec)


def test_version_name_error_names_version(spec: dict[str, Any]) -> None:
    spec["spec"]["versions"]["Bad_Name"] = spec["spec"]["versions"].pop("candidate")
    spec["spec"]["traffic"] = {"stable": 100}
    assert "spec.versions.Bad_Name" in _errors(spec)


def test_version_needs_model_or_image(spec: dict[str, Any]) -> None:
    spec["spec"]["versions"]["candidate"] = {"env": {"A": "1"}}
    assert "needs a model" in _errors(spec)


def test_pickle_needs_trust(spec: dict[str, Any]) -> None:
    spec["spec"]["versions"]["stable"]["model"]["format"] = "pickle"
    text = _errors(spec)
    assert "spec.versions.stable.model.format" in text and "trust_pickle" in text


def test_missing_field(spec: dict[str, Any]) -> None:
    del spec["metadata"]
    text = _errors(spec)
    assert "'metadata' is required" in text


def test_wrong_type_located_in_file(tmp_path: Path, spec_file: Path) -> None:
    spec_file.write_text(spec_file.read_text().replace("cpu: 2", "cpu: [2]"))
    text = _errors(spec_file)
    assert f"{spec_file}:14:" in text and "spec.compute.cpu" in text


def test_autoscale_needs_room(spec: dict[str, Any]) -> None:
    spec["spec"]["compute"] = {"autoscale": {"target": 50}}
    assert "set replicas.max above replicas.min" in _errors(spec)


def test_gate_needs_bound(spec: dict[str, Any]) -> None:
    spec["spec"]["rollout"] = {"strategy": "canary", "gates": [{"metric": "error_rate"}]}
    assert "needs a bound" in _errors(spec)


def test_label_rules(spec: dict[str, Any]) -> None:
    spec["metadata"]["labels"] = {"Team": "x"}
    assert "label key 'Team'" in _errors(spec)


def test_python_api_is_pleasant_in_a_notebook() -> None:
    """Issue 18 item 6: dir() lists the verbs and types; a wrong key in a model built in
    Python is InvalidSpec with the loader's message and did-you-mean; reprs are short."""
    import cloudserve
    from cloudserve.errors import InvalidSpec
    from cloudserve.spec.models import ModelSpec
    from cloudserve.testing.fake import FakeProvider

    verbs = {"plan", "apply", "status", "invoke", "destroy", "Deployment", "InvalidSpec"}
    assert verbs <= set(dir(cloudserve))
    with pytest.raises(InvalidSpec, match="unknown key 'trafic'") as info:
        cloudserve.Deployment(
            metadata={"name": "x"}, spec={"versions": {"a": {"model": {"uri": "s3://b/m"}}}, "trafic": {}}
        )
    assert info.value.problems[0].hint == "did you mean 'traffic'?"
    assert isinstance(info.value, ValueError)  # still fails as a field error inside validators
    with pytest.raises(InvalidSpec, match="trust_pickle"):
        ModelSpec(uri="model.joblib")
    spec = {"metadata": {"name": "x"}, "spec": {"versions": {"a": {"model": {"uri": "s3://b/m"}}}}}
    plan = cloudserve.plan(spec, provider=FakeProvider())
    assert repr(plan) == "<Plan x on fake: create endpoint x>"
    assert repr(cloudserve.apply(spec, provider=FakeProvider())).startswith("<ApplyResult x on fake: create")
