"""framework_version pins below what the serving runtime needs are refused at plan time."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cloudserve.serving.pin_check import framework_pin_problems
from cloudserve.serving.pins import RUNTIME_FLOORS, framework_pin
from cloudserve.spec.models import Deployment, ModelSpec

ROOT = Path(__file__).resolve().parents[2]


def _deployment(**models: dict[str, Any]) -> Deployment:
    return Deployment.model_validate(
        {
            "metadata": {"name": "pins"},
            "spec": {
                "target": "sagemaker",
                "versions": {name: {"model": {"uri": "s3://b/m", **m}} for name, m in models.items()},
                "traffic": {next(iter(models)): 100},
            },
        }
    )


def test_old_pins_are_named_with_the_floor_and_the_way_out() -> None:
    problems = framework_pin_problems(
        _deployment(
            old={"framework": "sklearn", "framework_version": "1.2"},
            ok={"framework": "sklearn", "framework_version": "1.5"},
            boost={"framework": "xgboost", "framework_version": "1.7"},
            bad={"framework": "sklearn", "framework_version": "latest"},
            free={"framework": "sklearn"},
            custom={"framework": "custom", "framework_version": "0.1"},
        )
    )
    assert problems == [
        "spec.versions.old.model.framework_version: '1.2' is older than cloudserve's serving runtime "
        "supports (scikit-learn >= 1.4); save the model with a newer scikit-learn, or give the "
        "version an image of your own",
        "spec.versions.boost.model.framework_version: '1.7' is older than cloudserve's serving "
        "runtime supports (xgboost >= 2.0); save the model with a newer xgboost, or give the version "
        "an image of your own",
        "spec.versions.bad.model.framework_version: 'latest' is not a version such as '1.5'",
    ]


def test_floors_match_the_serve_extra() -> None:
    serve = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    declared = {}
    for requirement in serve:
        match = re.match(r"^([A-Za-z0-9_.-]+)>=(\d+)\.(\d+)", requirement)
        if match:
            declared[match[1]] = (int(match[2]), int(match[3]))
    for package, floor in RUNTIME_FLOORS.values():
        assert declared[package] == floor, package


SPEC = """\
apiVersion: cloudserve/v1
kind: Deployment
metadata:
  name: pins
spec:
  target: sagemaker
  versions:
    stable:
      model:
        uri: ./model.skops
        framework: sklearn
        framework_version: "{version}"
  traffic: {{stable: 100}}
"""


def _skops_spec(tmp_path: Path, version: str) -> Deployment:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from cloudserve.spec.loader import load_one

    if not (tmp_path / "model.skops").exists():
        sio.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "model.skops")
    (tmp_path / "deployment.yaml").write_text(SPEC.format(version=version))
    return load_one(tmp_path / "deployment.yaml")


def test_a_model_written_by_another_scikit_learn_is_refused_at_its_line(tmp_path: Path) -> None:
    """scikit-learn warns InconsistentVersionWarning on any other version: plan refuses it,
    pointing at framework_version, with the version that would fit."""
    import sklearn

    from cloudserve.planner import target_problem

    written = sklearn.__version__
    series = ".".join(written.split(".")[:2])
    deployment = _skops_spec(tmp_path, "1.5")
    (message,) = framework_pin_problems(deployment)
    assert message.startswith(
        f"spec.versions.stable.model.framework_version: model.skops was written by scikit-learn "
        f"{written}, but '1.5' runs scikit-learn 1.5.* in the container"
    )
    assert f'set framework_version: "{series}" (or leave it out to run {written})' in message
    problem = target_problem(deployment, SimpleNamespace(name="sagemaker"), message)  # type: ignore[arg-type]
    assert (problem.line, problem.field) == (12, "spec.versions.stable.model.framework_version")
    assert problem.render().startswith(f"{tmp_path / 'deployment.yaml'}:12:")
    # The series that holds the written version is accepted, and narrowed to it exactly.
    fitting = _skops_spec(tmp_path, series)
    assert framework_pin_problems(fitting) == []
    model = fitting.spec.versions["stable"].model
    assert model is not None
    assert framework_pin(model, written) == f"scikit-learn=={written}"
    assert framework_pin(model, None) == f"scikit-learn=={series}.*"


def test_without_framework_version_the_container_gets_the_writer() -> None:
    model = ModelSpec(uri="m", framework="sklearn")
    assert framework_pin(model, "1.5.2") == "scikit-learn==1.5.2"
    assert framework_pin(model, None) is None
    assert framework_pin(ModelSpec(uri="m", framework="custom"), "1.5.2") is None


def test_xgboost_refuses_only_an_older_library_than_wrote_the_model(tmp_path: Path) -> None:
    import xgboost as xgb

    booster = xgb.train({"max_depth": 1}, xgb.DMatrix([[0.0], [1.0]], label=[0, 1]), 1)
    booster.save_model(tmp_path / "model.ubj")
    major, minor = (int(p) for p in xgb.__version__.split(".")[:2])

    def problems(version: str) -> list[str]:
        deployment = _deployment(m={"framework": "xgboost", "framework_version": version})
        deployment.spec.versions["m"].model.uri = str(tmp_path / "model.ubj")  # type: ignore[union-attr]
        return framework_pin_problems(deployment)

    older = f"{major}.{minor - 1}" if minor else f"{major - 1}.9"
    (message,) = problems(older)
    assert f"model.ubj was written by xgboost {xgb.__version__}, but '{older}'" in message
    assert "XGBoost does not promise that an older version loads a newer model" in message
    assert problems(f"{major}.{minor}") == [] and problems(f"{major + 1}.0") == []
