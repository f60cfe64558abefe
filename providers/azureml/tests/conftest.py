"""Fixtures: the Azure ML emulator, a provider pointed at it, two trained models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudserve_azureml.emulator.wire import WireChecker
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


@pytest.fixture(autouse=True)
def wire_check(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[WireChecker]:
    """Every emulator a test creates reads each ARM exchange against the REST models of its
    api-version (cloudserve_azureml.emulator.wire); a test fails on any mismatch, also one that the
    SDK swallowed. A test that sends a bad body on purpose takes it with ``wire_check.take()``."""
    models = request.getfixturevalue("azureml_rest_models") if "azure" in request.fixturenames else None
    checker = WireChecker(models)
    monkeypatch.setattr(AzureMLEmulator, "default_wire_check", checker)
    yield checker
    problems = checker.take()
    assert not problems, "ARM exchanges that depart from the REST models:\n" + "\n".join(problems)


@pytest.fixture
def azure(wire_check: WireChecker) -> Iterator[AzureMLEmulator]:
    with AzureMLEmulator() as emulator:
        yield emulator


ArmCall = Callable[..., requests.Response]
# The api-version azure-ai-ml 1.35 reads and writes deployments, data and environments with
# (and reads endpoints with): raw calls use it, so the wire check has that version's models.
ARM_API_VERSION = "2023-04-01-preview"


@pytest.fixture
def arm(azure: AzureMLEmulator) -> ArmCall:
    """A raw ARM call into the emulator's workspace: ``arm("PUT", "/onlineEndpoints/x", body)``."""

    def call(
        method: str, path: str, body: dict[str, Any] | None = None, *, api_version: str = ARM_API_VERSION
    ) -> requests.Response:
        url = f"https://management.azure.com{azure.state.workspace_path}{path}"
        return requests.request(
            method,
            url,
            params={"api-version": api_version},
            json=body,
            headers={"Authorization": "Bearer t"},
            timeout=5,
        )

    return call


@pytest.fixture
def put_endpoint(azure: AzureMLEmulator, arm: ArmCall) -> ArmCall:
    """PUT an endpoint as a client does, its current body with ``properties`` changed: traffic
    moves by PUT (an endpoint PATCH takes only tags and identity)."""

    def put(name: str, **props: Any) -> requests.Response:
        ep = azure.endpoint(name)
        assert ep is not None, name
        read_only = ("provisioningState", "scoringUri", "swaggerUri")
        current = {k: v for k, v in ep["properties"].items() if k not in read_only}
        body = {
            "location": ep["location"],
            "tags": ep["tags"],
            "identity": {"type": ep["identity"]["type"]},
            "properties": {**current, **props},
        }
        return arm("PUT", f"/onlineEndpoints/{name}", body)

    return put


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
