"""Fixtures: the Azure ML emulator, a provider pointed at it, two trained models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from cloudserve_azureml.provider import AzureMLProvider
from cloudserve_azureml.testing import AzureMLEmulator

from cloudserve.spec.models import Deployment

# The scikit-learn series the fixtures' models are written with: plan refuses any other
# (scikit-learn warns when another version loads an estimator).
SERIES = ".".join(version("scikit-learn").split(".")[:2])


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two different iris classifiers ("a", "b"), each saved in its own folder."""
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    root = tmp_path_factory.mktemp("azure-models")
    out: dict[str, Any] = {}
    for key, model in (("a", LogisticRegression(max_iter=500)), ("b", DecisionTreeClassifier(max_depth=2))):
        model.fit(x, y)
        folder = root / f"model-{key}"
        folder.mkdir()
        sio.dump(model, folder / "model.skops")
        out[key] = model
        out[f"{key}_path"] = folder
    return out


@pytest.fixture
def azure() -> Iterator[AzureMLEmulator]:
    with AzureMLEmulator() as emulator:
        yield emulator


@pytest.fixture
def provider(azure: AzureMLEmulator) -> Iterator[AzureMLProvider]:
    p = AzureMLProvider(azure.settings())
    yield p
    p.close()


MakeSpec = Callable[..., Deployment]


@pytest.fixture
def make_spec(models: dict[str, Any], azure: AzureMLEmulator) -> MakeSpec:
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
                "target": "azureml",
                "versions": {
                    v: {
                        "model": {
                            "uri": str(models[f"{key}_path"]),
                            "framework": "sklearn",
                            "framework_version": SERIES,
                        }
                    }
                    for v, key in versions.items()
                },
                "traffic": traffic,
                "mirror": mirror or {},
                **spec,
            },
            "targets": {"azureml": azure.settings()},
        }
        return Deployment.model_validate(doc)

    return make


@pytest.fixture
def predictions(models: dict[str, Any]) -> Callable[[str, list[list[float]]], list[Any]]:
    def predict(key: str, rows: list[list[float]]) -> list[Any]:
        return list(models[key].predict(rows).tolist())

    return predict


@pytest.fixture
def here() -> Path:
    return Path(__file__).resolve().parent
