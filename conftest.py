"""Fixtures every test tree shares: environments the suite needs beside the project's venv.

scripts/test-envs.sh builds them (scripts/test sources it). A test that needs one and
finds it missing fails under CI (``CI=true``), naming the command that builds it, so a
missing set-up step cannot pass as a skip; elsewhere it is skipped with the same message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SETUP = "bash scripts/test-envs.sh"


def cache_dir() -> Path:
    """Where scripts/test-envs.sh builds (``CLOUDSERVE_TEST_CACHE``, else the checkout's .cache/)."""
    override = os.environ.get("CLOUDSERVE_TEST_CACHE")
    return Path(override) if override else Path(__file__).resolve().parent / ".cache"


def built(path: Path, what: str) -> Path:
    """``path`` if set-up finished building it (its ``.ready-*`` stamp is there); otherwise
    fail (CI) or skip, naming the set-up command."""
    if any(path.glob(".ready-*")):
        return path
    message = f"{what} is not built ({path}); build it with: {SETUP} (scripts/test runs it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sklearn_15_python() -> Path:
    """A Python with scikit-learn 1.5 and nothing of cloudserve's, to write models as 1.5 does."""
    env = built(cache_dir() / "envs" / "sklearn-1.5", "the scikit-learn 1.5 environment")
    return env / "bin" / "python"


@pytest.fixture(scope="session")
def azureml_server_python() -> Path:
    """Python 3.12 with exactly the pip list cloudserve writes into an Azure ML environment's
    conda file (azureml-inference-server-http, azureml-ai-monitoring, the runtime's pins) and
    nothing of cloudserve's own: the code folder brings that, as on Azure."""
    env = built(
        cache_dir() / "envs" / "azureml-inference-server", "the Azure ML inference server environment"
    )
    return env / "bin" / "python"


@pytest.fixture(scope="session")
def azureml_rest_models() -> Path:
    """azure-ai-ml 1.34.1's per-api-version ARM model packages (``_restclient/v<date>...``),
    which the Azure ML emulator's wire check reads each exchange against."""
    root = built(cache_dir() / "rest-models" / "azure-ai-ml-1.34.1", "azure-ai-ml 1.34.1's REST models")
    return root / "azure" / "ai" / "ml" / "_restclient"


@pytest.fixture(scope="session")
def sagemaker_sklearn_python() -> Path:
    """Python 3.12 with the packages of SageMaker's scikit-learn 1.4-2-py312 serving image
    (sagemaker-containers, gunicorn, gevent, Flask, scikit-learn 1.4.2) and nothing of
    cloudserve's."""
    env = built(
        cache_dir() / "envs" / "sagemaker-sklearn-1.4-2", "the SageMaker scikit-learn image environment"
    )
    return env / "bin" / "python"


@pytest.fixture(scope="session")
def sagemaker_wheels() -> Path:
    """The wheels an offline SageMaker archive carries for a scikit-learn model."""
    return built(cache_dir() / "wheels" / "sagemaker", "the offline SageMaker wheel cache")


@pytest.fixture(scope="session")
def followed_images() -> Path:
    """Images of `cloudserve package` (runtime-only and baked) built by following their
    Dockerfiles (scripts/follow-dockerfile.py): ``<kind>/image.json``, ``<kind>-context``."""
    root = cache_dir() / "images"
    for kind in ("runtime", "baked"):
        built(root / kind, f"the followed {kind} image")
    return root


@pytest.fixture(scope="session")
def azureml_wheels() -> Path:
    """The wheels an offline Azure ML build context carries for a scikit-learn model."""
    return built(cache_dir() / "wheels" / "azureml", "the offline Azure ML wheel cache")
