"""Hostile model artifacts are refused before any of their code runs (issue 14 items 1, 5).

Every payload here writes a marker file when its code runs; each test asserts the refusal
(with the setting that would trust the file) and that the marker was never written: at
validate time, in the serving runtime's loaders, and in the cloud containers' entry point.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from cloudserve.errors import InvalidSpec
from cloudserve.serving.cloud import SIDECAR, model_spec
from cloudserve.serving.loaders import LoaderError, load_model
from cloudserve.spec.loader import load_one


class Payload:
    """Unpickling this runs ``exec``: it writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def _pickled(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker))


def _joblib(path: Path, marker: Path) -> None:
    import joblib

    joblib.dump(Payload(marker), path)


def _mlflow(folder: Path, marker: Path, fmt: str, file: str) -> None:
    folder.mkdir()
    (folder / file).write_bytes(_pickled(marker))
    (folder / "MLmodel").write_text(
        textwrap.dedent(
            f"""\
            flavors:
              python_function: {{loader_module: mlflow.sklearn, model_path: {file}}}
              sklearn: {{pickled_model: {file}, serialization_format: {fmt}}}
            """
        )
    )


def _artifact(kind: str, root: Path, marker: Path) -> Path:
    """One hostile artifact of ``kind`` under ``root``; returns what a spec's uri names."""
    if kind == "joblib-file":
        _joblib(root / "model.joblib", marker)
        return root / "model.joblib"
    if kind == "joblib-in-folder":
        (root / "m").mkdir()
        _joblib(root / "m" / "model.jbl", marker)
        return root / "m"
    if kind == "pickle-file":
        (root / "model.pkl").write_bytes(_pickled(marker))
        return root / "model.pkl"
    if kind == "pickle-with-format-name":  # no telling suffix: format says pickle
        (root / "weights.bin").write_bytes(_pickled(marker))
        return root / "weights.bin"
    if kind == "mlflow-cloudpickle":
        _mlflow(root / "mlf", marker, "cloudpickle", "model.pkl")
        return root / "mlf"
    if kind == "mlflow-pickle":
        _mlflow(root / "mlf", marker, "pickle", "model.pkl")
        return root / "mlf"
    raise AssertionError(kind)


PICKLED = [
    "joblib-file",
    "joblib-in-folder",
    "pickle-file",
    "pickle-with-format-name",
    "mlflow-cloudpickle",
    "mlflow-pickle",
]


def _model(kind: str, uri: Path) -> dict[str, Any]:
    model: dict[str, Any] = {"uri": str(uri)}
    if kind == "pickle-with-format-name":
        model["format"] = "pickle"
    return model


@pytest.mark.parametrize("kind", PICKLED)
def test_pickled_artifacts_are_refused_by_the_loader(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    uri = _artifact(kind, tmp_path, marker)
    with pytest.raises(LoaderError, match="trust_pickle"):
        load_model(_model(kind, uri))
    assert not marker.exists()


@pytest.mark.parametrize("kind", PICKLED)
def test_pickled_artifacts_are_refused_at_validate_on_every_target(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    uri = _artifact(kind, tmp_path, marker)
    for target in ("local", "sagemaker", "vertex", "azureml"):
        doc = {
            "metadata": {"name": "hostile"},
            "spec": {"target": target, "versions": {"v": {"model": _model(kind, uri)}}},
        }
        with pytest.raises(InvalidSpec, match="trust_pickle") as info:
            load_one(doc)
        assert "spec.versions.v.model" in str(info.value), target
    assert not marker.exists()


def test_trusting_a_pickle_is_a_decision_the_spec_makes(tmp_path: Path) -> None:
    """The control case: with trust_pickle the same file does run (so the tests above
    would see the marker if a refusal were missing)."""
    marker = tmp_path / "ran"
    uri = _artifact("pickle-file", tmp_path, marker)
    with pytest.raises(LoaderError):  # the payload is not a model, but it ran
        load_model({"uri": str(uri), "trust_pickle": True})
    assert marker.read_text() == "ran"


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("model.skops", "not a readable skops"),  # a pickle under a skops name
        ("model.ubj", "not an XGBoost model"),  # XGBoost parses, it never unpickles
        ("model.bst", "not an XGBoost model"),
    ],
)
def test_a_pickle_under_a_safe_name_is_never_unpickled(tmp_path: Path, name: str, match: str) -> None:
    marker = tmp_path / "ran"
    (tmp_path / name).write_bytes(_pickled(marker))
    model: dict[str, Any] = {"uri": str(tmp_path / name)}
    if name == "model.bst":
        model["format"] = "xgboost"
    with pytest.raises(LoaderError, match=match):
        load_model(model)
    assert not marker.exists()


def test_an_mlflow_folder_claiming_skops_over_a_pickle_is_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _mlflow(tmp_path / "mlf", marker, "skops", "model.skops")
    with pytest.raises(LoaderError, match="skops"):
        load_model({"uri": str(tmp_path / "mlf")})
    assert not marker.exists()


def test_skops_runstring_via_function_transformer_is_refused(tmp_path: Path) -> None:
    import numpy as np
    import skops.io as sio
    from numpy.testing._private.utils import runstring
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    marker = tmp_path / "pwned"
    X = np.random.rand(10, 2)
    y = np.array([0, 1] * 5)
    model = make_pipeline(FunctionTransformer(), LogisticRegression()).fit(X, y)
    model.steps[0][1].func = runstring  # set after fit so nothing runs while building it
    model.steps[0][1].kw_args = {"dict": {}}
    sio.dump(model, tmp_path / "m.skops")
    with pytest.raises(LoaderError, match="runstring") as info:
        load_model({"uri": str(tmp_path / "m.skops")})
    assert "allow-list" in str(info.value)
    assert not marker.exists()


def test_ordinary_skops_models_still_load(tmp_path: Path) -> None:
    import numpy as np
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    X = np.random.rand(20, 2)
    y = np.array([0, 1] * 10)
    for i, m in enumerate(
        [RandomForestClassifier(n_estimators=2), HistGradientBoostingClassifier(max_iter=2)]
    ):
        sio.dump(m.fit(X, y), tmp_path / f"m{i}.skops")
        assert load_model({"uri": str(tmp_path / f"m{i}.skops")}).format == "skops"


# --- inside the cloud containers ---------------------------------------------------------


def test_the_container_entry_point_refuses_an_untrusted_pickle(tmp_path: Path) -> None:
    """What SageMaker, Vertex AI and Azure ML start: `python -m cloudserve.serving serve`
    on the model folder the cloud hands over, with no CLOUDSERVE_TRUST_PICKLE set."""
    marker = tmp_path / "ran"
    folder = tmp_path / "model"
    folder.mkdir()
    _joblib(folder / "model.joblib", marker)
    assert model_spec(folder, {}, {}).get("trust_pickle") is None
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AIP_", "AZUREML_", "CLOUDSERVE_"))
    }
    cmd = [sys.executable, "-m", "cloudserve.serving", "serve", "--model", str(folder), "--port", "0"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "trust_pickle" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()


def test_a_sidecar_cannot_point_the_container_at_a_handler_outside_the_model(tmp_path: Path) -> None:
    outside = tmp_path / "evil.py"
    outside.write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('ran')\n")
    folder = tmp_path / "model"
    folder.mkdir()
    for handler in ("../evil.py", str(outside)):
        (folder / SIDECAR).write_text(f'{{"format": "handler", "handler": "{handler}"}}')
        with pytest.raises(LoaderError, match="handler"):
            load_model(model_spec(folder, {}, {}))
    (folder / "h.py").symlink_to(outside)
    (folder / SIDECAR).write_text('{"format": "handler", "handler": "h.py"}')
    with pytest.raises(LoaderError, match="outside the model folder"):
        load_model(model_spec(folder, {}, {}))
    assert not (tmp_path / "ran").exists()


# --- handler paths at validate ------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "match"),
    [
        ("../evil.py", "'..'"),
        ("/abs/evil.py", "relative to the model.s folder"),
        ("sub\\evil.py", "forward slashes"),
        ("handler.txt", ".py"),
        ("link.py", "outside the model folder"),
    ],
)
def test_a_handler_outside_its_model_is_refused_at_validate(tmp_path: Path, handler: str, match: str) -> None:
    outside = tmp_path / "evil.py"
    outside.write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('ran')\n")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "link.py").symlink_to(outside)
    for target in ("local", "sagemaker"):
        doc = {
            "metadata": {"name": "hostile"},
            "spec": {
                "target": target,
                "versions": {"v": {"model": {"uri": str(folder), "format": "handler", "handler": handler}}},
            },
        }
        with pytest.raises(InvalidSpec, match=match) as info:
            load_one(doc)
        assert "spec.versions.v.model" in str(info.value)
    assert not (tmp_path / "ran").exists()
