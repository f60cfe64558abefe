"""Fixtures for the local target: models trained at test time, a provider whose state
lives in a tmp dir, and a spec builder.

Every test runs real server processes: the serving runtime's
`python -m cloudserve.serving.local_server`, started by the provider.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudserve.local.provider import LocalProvider
from cloudserve.local.settings import LocalSettings
from cloudserve.local.state import ENV_STATE_DIR
from cloudserve.spec.models import Deployment
from cloudserve.testing.conformance import MakeSpec


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two different iris classifiers ("a", "b") and their skops files."""
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    folder = tmp_path_factory.mktemp("models")
    fitted = {
        "a": LogisticRegression(max_iter=500).fit(x, y),
        "b": DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y),
    }
    out: dict[str, Any] = {"dir": folder}
    for key, model in fitted.items():
        path = folder / f"{key}.skops"
        sio.dump(model, path)
        out[key] = model
        out[f"{key}_path"] = path
    broken = folder / "broken.skops"
    broken.write_bytes(b"this is not a skops file")
    out["broken_path"] = broken
    return out


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "state"
    monkeypatch.setenv(ENV_STATE_DIR, str(root))
    return root


@pytest.fixture
def local_provider(state_root: Path) -> Iterator[LocalProvider]:
    provider = LocalProvider(LocalSettings(state_dir=str(state_root)), start_timeout=60)
    yield provider
    # Never leave a server running behind a test.
    for child in state_root.iterdir() if state_root.exists() else ():
        if (child / "server.json").exists():
            with contextlib.suppress(Exception):
                provider.delete_endpoint(child.name)


@pytest.fixture
def make_spec(models: dict[str, Any], state_root: Path) -> MakeSpec:
    def make(
        name: str,
        versions: dict[str, str],
        traffic: dict[str, int],
        mirror: dict[str, int] | None = None,
        **spec: Any,
    ) -> Deployment:
        doc = {
            "metadata": {"name": name, "labels": {"team": "tests"}},
            "spec": {
                "target": "local",
                "versions": {
                    v: {"model": {"uri": str(models[f"{key}_path"])}} for v, key in versions.items()
                },
                "traffic": traffic,
                "mirror": mirror or {},
                **spec,
            },
            "targets": {"local": {"state_dir": str(state_root)}},
        }
        return Deployment.model_validate(doc)

    return make


@pytest.fixture
def predictions(models: dict[str, Any]) -> Callable[[str, list[list[float]]], list[Any]]:
    def predict(key: str, rows: list[list[float]]) -> list[Any]:
        return list(models[key].predict(rows).tolist())

    return predict
