"""Problems found at plan time point at the spec line they are about, like loading errors do."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cloudserve.planner import missing_artifacts, target_problem
from cloudserve.spec.loader import load_one

SPEC = """\
apiVersion: cloudserve/v1
kind: Deployment
metadata:
  name: churn
spec:
  target: local
  versions:
    stable:
      model: {uri: ./missing.skops}
  traffic: {stable: 100}
"""


def _spec(tmp_path: Path) -> Any:
    path = tmp_path / "deployment.yaml"
    path.write_text(SPEC)
    return load_one(path)


def test_missing_model_points_at_its_uri(tmp_path: Path) -> None:
    (problem,) = missing_artifacts(_spec(tmp_path))
    assert (problem.line, problem.field) == (9, "spec.versions.stable.model.uri")
    assert problem.render().startswith(f"{tmp_path / 'deployment.yaml'}:9:")


def test_target_problems_are_located_by_their_leading_field(tmp_path: Path) -> None:
    deployment = _spec(tmp_path)
    target = SimpleNamespace(name="sagemaker")
    inside = target_problem(deployment, target, "versions.stable.model.uri: not on this cloud")  # type: ignore[arg-type]
    assert (inside.line, inside.field) == (9, "spec.versions.stable.model.uri")
    assert inside.message == "not on this cloud (target sagemaker)"
    named = target_problem(deployment, target, "metadata.name: too long")  # type: ignore[arg-type]
    assert (named.line, named.field) == (4, "metadata.name")
    prose = target_problem(deployment, target, "capture needs a bucket: set one")  # type: ignore[arg-type]
    assert prose.line is None and prose.field == "(target sagemaker)"
    assert prose.message == "capture needs a bucket: set one"


def test_a_tilde_user_that_does_not_exist_is_a_missing_path_not_a_crash(tmp_path: Path) -> None:
    """Found by test_mutated_yaml_text: ``~nosuchuser/m.skops`` made Path.expanduser raise."""
    from cloudserve.artifacts import resolve_local

    assert (
        resolve_local("~no-such-user-x/m.skops", tmp_path) == (tmp_path / "~no-such-user-x/m.skops").resolve()
    )


def test_a_missing_model_and_baseline_are_each_reported_once_located(tmp_path: Path) -> None:
    """The core checks local paths for every target; a target repeating it showed it twice."""
    import pytest

    import cloudserve
    from cloudserve.errors import InvalidSpec

    spec = SPEC + "  capture: {sample_percent: 10}\n  monitoring:\n    drift: {baseline: ./train.csv}\n"
    path = tmp_path / "deployment.yaml"
    path.write_text(spec)
    with pytest.raises(InvalidSpec) as caught:
        cloudserve.plan(path)
    fields = [(p.field, p.line) for p in caught.value.problems]
    assert fields == [("spec.versions.stable.model.uri", 9), ("spec.monitoring.drift.baseline", 13)]
    assert str(caught.value).count("does not exist") == 2
