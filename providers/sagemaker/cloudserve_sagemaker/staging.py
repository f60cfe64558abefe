"""Model artifacts -> model.tar.gz in the layout SageMaker serving containers expect.

SageMaker extracts ``ModelDataUrl`` into ``/opt/ml/model``; the framework containers' inference
toolkit imports ``code/inference.py`` (``SAGEMAKER_PROGRAM``) after installing
``code/requirements.txt``. So the archive holds the model files at its root, a manifest
(``cloudserve-model.json``: the spec's model settings with ``uri`` rewritten to the path
inside the archive), and a shim that hands loading and prediction to cloudserve's serving
runtime, so a model behaves the same here as on every other target.

Archives are byte-for-byte reproducible (sorted entries, zeroed times and owners), and
staged under a content-addressed key derived from the model's digest, so re-applying an
unchanged model uploads nothing.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from cloudserve.artifacts import digest_path
from cloudserve.serving.pins import framework_pin
from cloudserve.spec.models import ModelSpec

MANIFEST = "cloudserve-model.json"
LAYOUT_VERSION = "1"

INFERENCE_SHIM = '''"""cloudserve's serving runtime behind the SageMaker inference toolkit (generated)."""
import json
import os

from cloudserve.serving.loaders import load_model


def model_fn(model_dir):
    with open(os.path.join(model_dir, "cloudserve-model.json")) as fh:
        spec = json.load(fh)
    return load_model(spec, model_dir)


def input_fn(body, content_type):
    data = json.loads(body)
    return data["instances"] if isinstance(data, dict) else data


def predict_fn(instances, model):
    return model.predict(instances)


def output_fn(predictions, accept):
    return json.dumps({"predictions": predictions}), "application/json"
'''


def runtime_requirement(extras: str = "serve") -> str:
    """The pip requirement for cloudserve in a container: this version, these extras."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"cloudserve[{extras}]=={version('cloudserve')}"
    except PackageNotFoundError:
        return f"cloudserve[{extras}]"


def requirements_for(spec: ModelSpec) -> str:
    """``code/requirements.txt``: the runtime, plus the model's own library at the version
    it was trained with, since unpickling in another scikit-learn can fail or mislead."""
    pin = framework_pin(spec)
    return "\n".join([runtime_requirement(), *([pin] if pin else [])]) + "\n"


def manifest_for(spec: ModelSpec, source: Path) -> dict[str, Any]:
    data = spec.model_dump(mode="json", exclude_none=True)
    data["uri"] = source.name if source.is_file() else "."
    return data


def content_key(prefix: str, source: Path, spec: ModelSpec) -> str:
    """S3 key addressed by the model's bytes, its settings and the archive layout."""
    import hashlib

    h = hashlib.sha256()
    h.update(digest_path(source).encode())
    h.update(json.dumps(manifest_for(spec, source), sort_keys=True).encode())
    h.update(f"layout={LAYOUT_VERSION};{runtime_requirement()}".encode())
    return f"{prefix.strip('/')}/models/{h.hexdigest()[:32]}/model.tar.gz".lstrip("/")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o644
    with path.open("rb") as fh:
        tar.addfile(info, fh)


def pack_model(source: Path, spec: ModelSpec) -> bytes:
    """The model.tar.gz bytes: model files at the root, manifest, and code/ shim."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        if source.is_file():
            _add_file(tar, source.name, source)
        else:
            for path in sorted(source.rglob("*")):
                rel = path.relative_to(source).as_posix()
                if path.is_file() and "__pycache__" not in path.parts and not rel.startswith("code/"):
                    _add_file(tar, rel, path)
        _add_bytes(tar, MANIFEST, json.dumps(manifest_for(spec, source), indent=1).encode())
        _add_bytes(tar, "code/inference.py", INFERENCE_SHIM.encode())
        _add_bytes(tar, "code/requirements.txt", requirements_for(spec).encode())
    return buffer.getvalue()


def unpack_model(data: bytes, into: Path) -> dict[str, Any]:
    """Extract an archive made by :func:`pack_model`; returns its manifest (emulator use)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(into, filter="data")
    manifest: dict[str, Any] = json.loads((into / MANIFEST).read_text())
    return manifest
