"""Fixtures: two iris models, an emulator per test, a provider pointed at it; and on every
emulator any test creates, a check of each call against Google's discovery documents."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.settings import VertexSettings
from cloudserve_vertex.testing import VertexEmulator

from cloudserve.spec.models import Deployment

from .wire_check import WireChecker

PROJECT, NUMBER, BUCKET = "test-project", "123456789012", "cloudserve-test"


TRAIN_15 = """
import sys, joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
x, y = load_iris(return_X_y=True)
joblib.dump(LogisticRegression(max_iter=500).fit(x, y), sys.argv[1] + "/a/model.joblib")
joblib.dump(DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y), sys.argv[1] + "/b/model.joblib")
"""


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory, sklearn_15_python: Path) -> dict[str, Any]:
    """Two different iris classifiers ("a", "b"), each in a folder as model.joblib, written by
    scikit-learn 1.5 as the specs' framework_version says (plan refuses any other writer)."""
    import warnings

    import joblib

    root = tmp_path_factory.mktemp("vertex-models")
    for key in ("a", "b"):
        (root / key).mkdir()
    subprocess.run([str(sklearn_15_python), "-c", TRAIN_15, str(root)], check=True)
    out: dict[str, Any] = {}
    for key in ("a", "b"):
        with warnings.catch_warnings():  # expected predictions, from this environment's scikit-learn
            warnings.simplefilter("ignore")
            out[key] = joblib.load(root / key / "model.joblib")
        out[f"{key}_path"] = root / key
    return out


@pytest.fixture(scope="session")
def wire_checker() -> WireChecker:
    """One per worker: the converted documents and their validators are cached on it."""
    return WireChecker()


@pytest.fixture(autouse=True)
def wire_check(wire_checker: WireChecker, monkeypatch: pytest.MonkeyPatch) -> Iterator[WireChecker]:
    """Every VertexEmulator made during the test (here, in a test, through cloudserve's
    pytest plugin) reports its calls to the checker unless it was given a check of its own.
    A test that sends a bad request on purpose takes its findings with ``wire_check.take()``."""
    original = VertexEmulator.__init__

    def init(self: VertexEmulator, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("wire_check", wire_checker)
        original(self, *args, **kwargs)

    monkeypatch.setattr(VertexEmulator, "__init__", init)
    wire_checker.take()
    yield wire_checker
    left = wire_checker.take()  # calls made by fixtures' teardown
    if left:
        pytest.fail("calls that do not match Google's discovery documents:\n" + "\n".join(left))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test itself (not its teardown) when its calls broke the documents."""
    result = yield
    checker = getattr(item, "funcargs", {}).get("wire_check")
    found = checker.take() if isinstance(checker, WireChecker) else []
    if found:
        raise AssertionError("calls that do not match Google's discovery documents:\n" + "\n".join(found))
    return result


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[VertexEmulator]:
    with VertexEmulator(projects={PROJECT: NUMBER}, buckets=[BUCKET]) as emu:
        monkeypatch.setenv(*emu.env_item())
        yield emu


def spec_doc(
    name: str, versions: dict[str, Path | str], traffic: dict[str, int], **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"team": "tests"}},
        "spec": {
            "target": "vertex",
            "versions": {
                # The prebuilt container unpickles model.joblib: these are our own models.
                v: {
                    "model": {
                        "uri": str(uri),
                        "framework": "sklearn",
                        "framework_version": "1.5",
                        "trust_pickle": True,
                    }
                }
                for v, uri in versions.items()
            },
            "traffic": traffic,
            **spec,
        },
        "targets": {
            "vertex": {"project": PROJECT, "location": "us-central1", "staging_bucket": f"gs://{BUCKET}"}
        },
    }


@pytest.fixture
def make_spec(models: dict[str, Any]) -> Callable[..., Deployment]:
    def make(name: str, versions: dict[str, str], traffic: dict[str, int], **spec: Any) -> Deployment:
        paths = {v: models[f"{key}_path"] for v, key in versions.items()}
        return Deployment.model_validate(spec_doc(name, paths, traffic, **spec))

    return make


@pytest.fixture
def provider(emulator: VertexEmulator, make_spec: Callable[..., Deployment]) -> Iterator[VertexProvider]:
    settings = VertexSettings.of(make_spec("settings", {"v": "a"}, {"v": 100}))
    p = VertexProvider(settings)
    yield p
    p.close()


@pytest.fixture
def predictions(models: dict[str, Any]) -> Callable[[str, list[list[float]]], list[Any]]:
    def predict(key: str, rows: list[list[float]]) -> list[Any]:
        return list(models[key].predict(rows).tolist())

    return predict
