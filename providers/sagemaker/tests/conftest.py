"""Fixtures for the SageMaker target: the emulator, a provider, models trained at test time."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.settings import SageMakerSettings
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve.spec.models import Deployment

# The scikit-learn series the fixtures' models are written with: plan refuses any other
# (scikit-learn warns when another version loads an estimator).
SERIES = ".".join(version("scikit-learn").split(".")[:2])

ROLE = "arn:aws:iam::123456789012:role/serving"
BUCKET = "artifacts"


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two different iris classifiers ("a", "b") saved with skops."""
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    folder = tmp_path_factory.mktemp("sm-models")
    out: dict[str, Any] = {}
    for key, model in {
        "a": LogisticRegression(max_iter=500).fit(x, y),
        "b": DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y),
    }.items():
        path = folder / key / "model.skops"
        path.parent.mkdir()
        sio.dump(model, path)
        out[key] = model
        out[f"{key}_path"] = path.parent
    return out


class ImageEnv:
    """A throwaway copy of the scikit-learn image's environment: the toolkit and the drift
    job pip-install into it, so the cached one stays as the image has it."""

    def __init__(self, original: Path, into: Path) -> None:
        self.root = into / "image-python"
        shutil.copytree(original, self.root, symlinks=True)
        for script in (self.root / "bin").iterdir():  # console scripts name their Python
            if script.is_file() and not script.is_symlink():
                text = script.read_bytes()
                if text.startswith(b"#!"):
                    script.write_bytes(text.replace(str(original).encode(), str(self.root).encode(), 1))
        self.python = self.root / "bin" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """A process environment in the image: its Python first on PATH, no package index,
        and none of this machine's pip or Python settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
        env.update(
            PATH=f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            PIP_NO_INDEX="1",
            PIP_CONFIG_FILE=os.devnull,
            PIP_DISABLE_PIP_VERSION_CHECK="1",
        )
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def sklearn_image(sagemaker_sklearn_python: Path) -> Callable[[Path], ImageEnv]:
    """Makes an ImageEnv under a given folder."""
    return lambda into: ImageEnv(sagemaker_sklearn_python.parent.parent, into)


@pytest.fixture
def emulator() -> Iterator[SageMakerEmulator]:
    with SageMakerEmulator() as aws:
        aws.create_bucket(BUCKET)
        yield aws


@pytest.fixture
def settings() -> SageMakerSettings:
    return SageMakerSettings(region="us-east-1", role_arn=ROLE, bucket=BUCKET)


@pytest.fixture
def provider(emulator: SageMakerEmulator, settings: SageMakerSettings) -> Iterator[SageMakerProvider]:
    p = SageMakerProvider(settings)
    yield p
    p.close()


MakeSpec = Callable[..., Deployment]


@pytest.fixture
def make_spec(models: dict[str, Any]) -> MakeSpec:
    def make(
        name: str, versions: dict[str, str], traffic: dict[str, int] | None = None, **spec: Any
    ) -> Deployment:
        doc: dict[str, Any] = {
            "apiVersion": "cloudserve/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"team": "growth"}},
            "spec": {
                "target": "sagemaker",
                "versions": {
                    v: {
                        "model": {
                            "uri": str(models[k + "_path"]),
                            "framework": "sklearn",
                            "framework_version": SERIES,
                        }
                    }
                    for v, k in versions.items()
                },
                **({"traffic": traffic} if traffic else {}),
                **spec,
            },
            "targets": {"sagemaker": {"region": "us-east-1", "role_arn": ROLE, "bucket": BUCKET}},
        }
        return Deployment.model_validate(doc)

    return make


@pytest.fixture
def predictions(models: dict[str, Any]) -> Callable[[str, list[list[float]]], list[Any]]:
    def predict(key: str, instances: list[list[float]]) -> list[Any]:
        return [int(v) for v in models[key].predict(instances)]

    return predict
