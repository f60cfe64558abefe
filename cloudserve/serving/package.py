"""``cloudserve package``: a container build context that runs ``cloudserve serve``.

The context is self-contained, so ``docker build`` needs nothing else (and no index
beyond PyPI): the model files, a ``cloudserve-model.json`` sidecar with the detected
format, ``requirements.txt`` pinned to the versions in *this* environment (a pickled or
skops model must be loaded by the scikit-learn that wrote it), a copy of the cloudserve
source installed with ``--no-deps``, and a Dockerfile whose exec-form ENTRYPOINT/CMD is
``python -m cloudserve.serving serve``. SageMaker starts images as ``docker run IMAGE
serve`` (replacing CMD with ``serve``), Vertex AI and Azure ML run the default command;
all three end up in the same server. The model is loaded before packaging so a broken
artifact fails here, not at deploy time.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cloudserve
from cloudserve.serving.bundle import RUNTIME, SERVER_RUNTIME, copy_runtime, model_runtime
from cloudserve.serving.cloud import SIDECAR
from cloudserve.serving.loaders import load_model
from cloudserve.serving.pins import FRAMEWORK_PACKAGES

MODEL_HOME = "/opt/cloudserve/model"
# A runtime-only image fetches the model itself: Vertex AI's AIP_STORAGE_URI is a gs:// folder.
FETCH = ("google-cloud-storage",)

DOCKERFILE = """\
# Built by `cloudserve package`: one image for SageMaker, Vertex AI and Azure ML.
FROM {base_image}
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    CLOUDSERVE_HOST=0.0.0.0{model_env}
WORKDIR /opt/cloudserve
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY cloudserve-src/ ./cloudserve-src/
RUN pip install --no-cache-dir --no-deps ./cloudserve-src
{copy_model}# 8080: SageMaker and Vertex AI (AIP_HTTP_PORT); 5001: Azure ML.
EXPOSE 8080 5001
ENTRYPOINT {entrypoint}
CMD {cmd}
"""
ENTRYPOINT = ["python", "-m", "cloudserve.serving"]
CMD = ["serve"]

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "cloudserve"
version = "{version}"
requires-python = ">=3.11"

[tool.setuptools.packages.find]
include = ["cloudserve*"]

[tool.setuptools.package-data]
cloudserve = ["py.typed", "**/*.json", "**/*.html", "**/*.csv"]
"""


def write_context(
    model: Path,
    output: Path,
    fmt: str | None = None,
    trust_pickle: bool = False,
    handler: str | None = None,
    base_image: str | None = None,
    bake_model: bool = True,
) -> list[Path]:
    """Write the build context into ``output`` (absent or empty); returns the files."""
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} is not empty; choose a new directory")
    spec = {
        "uri": str(model.resolve()),
        "format": fmt,
        "trust_pickle": trust_pickle,
        "handler": handler,
    }
    loaded = load_model({k: v for k, v in spec.items() if v is not None})
    output.mkdir(parents=True, exist_ok=True)
    if bake_model:
        _copy_model(model, output / "model")
        sidecar = {"format": loaded.format, "trust_pickle": trust_pickle, "handler": handler}
        (output / "model" / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
    framework = _FRAMEWORK_OF_FORMAT.get(loaded.format, "sklearn")
    written = _written(model, "xgboost" if framework == "xgboost" else "sklearn")
    (output / "requirements.txt").write_text(requirements(model, written=written, framework=framework))
    _copy_source(output / "cloudserve-src")
    (output / "Dockerfile").write_text(dockerfile(base_image, bake_model))
    return sorted(p for p in output.rglob("*") if p.is_file())


def write_runtime_context(output: Path, base_image: str | None = None) -> list[Path]:
    """A build context for cloudserve's serving runtime with no model in it: one image that
    serves any model the cloud hands it at start (AIP_STORAGE_URI on Vertex AI, fetched
    from Cloud Storage; SM_MODEL_DIR on SageMaker; AZUREML_MODEL_DIR on Azure ML). This is
    what ``targets.vertex.serving_image`` names."""
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} is not empty; choose a new directory")
    output.mkdir(parents=True, exist_ok=True)
    (output / "requirements.txt").write_text(requirements(None, extra=FETCH))
    _copy_source(output / "cloudserve-src")
    (output / "Dockerfile").write_text(dockerfile(base_image, bake_model=False, model_env=False))
    return sorted(p for p in output.rglob("*") if p.is_file())


def dockerfile(base_image: str | None, bake_model: bool, model_env: bool = True) -> str:
    """``model_env``: point CLOUDSERVE_MODEL_DIR at the baked-in (or mounted) model home;
    a runtime-only image has none, so a missing platform model fails with a clear message."""
    image = base_image or f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    copy_model = f"COPY model/ {MODEL_HOME}/\n" if bake_model else ""
    return DOCKERFILE.format(
        base_image=image,
        model_env=f" \\\n    CLOUDSERVE_MODEL_DIR={MODEL_HOME}" if model_env else "",
        copy_model=copy_model,
        entrypoint=json.dumps(ENTRYPOINT),
        cmd=json.dumps(CMD),
    )


# The framework a loaded format needs libraries for (handlers and MLflow may need any).
_FRAMEWORK_OF_FORMAT = {"xgboost": "xgboost", "mlflow": "mlflow", "handler": "custom"}


def _written(model: Path, framework: str) -> dict[str, str]:
    """{package: version} of the model's library as the artifact records it (written_with;
    an MLflow or handler folder's sklearn/skops files record it the same way)."""
    from cloudserve.serving.written_with import written_with
    from cloudserve.spec.models import ModelSpec

    version = written_with(model.resolve(), ModelSpec(uri=str(model), framework=framework))
    return {FRAMEWORK_PACKAGES[framework]: version} if version else {}


def requirements(
    model: Path | None,
    extra: tuple[str, ...] = (),
    written: dict[str, str] | None = None,
    framework: str | None = None,
) -> str:
    """The runtime's distributions and everything they require, each pinned to this
    environment's version (markers read for the image's Python, the one packaging runs),
    plus the model's own requirements.txt if it has one.

    ``framework`` narrows the model libraries to that framework's (a baked sklearn model's
    image installs no XGBoost); None keeps them all (a runtime-only image serves any model).
    ``written`` overrides a pin with the version that wrote the model (scikit-learn warns
    when another version loads it), so a model saved elsewhere is served as it was saved."""
    from cloudserve.serving.bundle import pinned_closure

    names = (*model_runtime(framework), *SERVER_RUNTIME) if framework else RUNTIME
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    lines = ["# pinned to the environment that packaged the model, with everything it requires"]
    lines += pinned_closure((*names, *extra), written or {}, python=python)
    if model is None:
        return "\n".join(lines) + "\n"
    own = (model if model.is_dir() else model.parent) / "requirements.txt"
    if model.is_dir() and own.is_file():
        known = {n.lower() for n in RUNTIME}
        for line in own.read_text().splitlines():
            name = line.split("==")[0].split(">=")[0].strip().lower()
            # mlflow writes itself into requirements; the runtime does not need it.
            if name and not name.startswith(("#", "mlflow")) and name not in known:
                lines.append(line.strip())
    return "\n".join(lines) + "\n"


def _copy_model(model: Path, target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    if model.is_dir():
        shutil.copytree(model, target, ignore=ignore)
    else:
        target.mkdir(parents=True)
        shutil.copy2(model, target / model.name)


def _copy_source(target: Path) -> None:
    copy_runtime(target)
    (target / "pyproject.toml").write_text(PYPROJECT.format(version=cloudserve.__version__))
