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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cloudserve.artifacts import digest_path
from cloudserve.serving.bundle import pinned_requirements, runtime_digest, runtime_files
from cloudserve.spec.models import ModelSpec

MANIFEST = "cloudserve-model.json"
LAYOUT_VERSION = "3"  # 2: the runtime travels in code/cloudserve; 3: pinned build system
WHEELS_DIR = "wheels"  # code/wheels: an offline archive's wheels
# The toolkit installs code/ itself as a package (sagemaker_containers._modules.install:
# ``pip install . -r requirements.txt`` over a generated setup.py), so pip builds it in an
# isolated environment with setuptools and wheel: offline, those wheels travel too, at the
# versions the scikit-learn image installs (its requirements.txt at 8782528).
BUILD_PINS = ("setuptools==80.9.0", "wheel==0.45.1")
# code/pyproject.toml names exactly those as the build requirements, so even online the
# isolated build fetches no unpinned setuptools (pip's default is "setuptools>=40.8.0");
# the toolkit still writes its setup.py beside it, which setuptools then builds.
BUILD_SYSTEM = '[build-system]\nrequires = [{}]\nbuild-backend = "setuptools.build_meta:__legacy__"\n'.format(
    ", ".join(f'"{pin}"' for pin in BUILD_PINS)
)

INFERENCE_SHIM = '''"""cloudserve's serving runtime behind the SageMaker inference toolkit (generated).

The runtime itself travels in this folder (code/cloudserve); requirements.txt pins only
its third-party libraries, exactly.
"""
import json
import os
import sys

# The toolkit starts gunicorn with --pythonpath set to its parent's sys.path; once
# pkg_resources has been imported that holds setuptools/_vendor, ahead of site-packages,
# whose old typing_extensions breaks pydantic. Vendored trees go, and a module already
# imported from one is forgotten, before the runtime is imported.
sys.path[:] = [p for p in sys.path if "_vendor" not in p.split(os.sep)]
for _name, _module in list(sys.modules.items()):
    if f"{os.sep}_vendor{os.sep}" in str(getattr(_module, "__file__", "") or ""):
        del sys.modules[_name]

from cloudserve.serving import codec  # noqa: E402
from cloudserve.serving.loaders import InputError, load_model  # noqa: E402


def model_fn(model_dir):
    with open(os.path.join(model_dir, "cloudserve-model.json")) as fh:
        spec = json.load(fh)
    return load_model(spec, model_dir)


def transform_fn(model, body, content_type, accept):
    """JSON, CSV and NPY in; JSON or CSV out as Accept asks; bad input is a 400 with a
    JSON message (the toolkit turns any other exception into a 500 page)."""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    try:
        predictions = model.predict(codec.parse(raw, (content_type or "application/json").lower()))
        out, mimetype = codec.encode(predictions, (accept or "application/json").lower())
    except InputError as exc:
        return _response(codec.error_body(str(exc)), 400, "application/json")
    return _response(out, 200, mimetype.decode())


def _response(body, status, mimetype):
    try:
        from sagemaker_containers.beta.framework import worker
    except ImportError:  # outside the toolkit: the (body, content type) tuple it also accepts
        return body, mimetype
    return worker.Response(response=body, status=status, mimetype=mimetype)
'''


def requirements_for(spec: ModelSpec, source: Path | None = None, offline: bool = False) -> str:
    """``code/requirements.txt``: exact pins only; cloudserve itself is not there, its
    source is in code/ (cloudserve.serving.bundle), so no container fetches it from an index.
    Offline, pip is told to use only the wheels in code/wheels (a relative --find-links is
    read against the requirements file's folder)."""
    head = ["--no-index", f"--find-links {WHEELS_DIR}"] if offline else []
    return "\n".join([*head, *pinned_requirements(spec, source)]) + "\n"


def offline_pins(spec: ModelSpec, source: Path | None = None) -> list[str]:
    """Everything the toolkit's ``pip install . -r requirements.txt`` needs from code/wheels:
    the requirements and the build backend for the ``.`` it installs."""
    return [*pinned_requirements(spec, source), *BUILD_PINS]


def start_note(spec: ModelSpec | None, offline: bool) -> str | None:
    """What a container of this version downloads when it starts (plan shows it): the
    toolkit pip-installs code/requirements.txt at every start, from PyPI unless offline.
    Sizes are the wheels' own, known once they are in this machine's wheel cache."""
    from cloudserve.serving.wheels import cache_dir, cached_wheels

    if spec is None or spec.uri.startswith("s3://"):
        return None
    pins = offline_pins(spec) if offline else pinned_requirements(spec)
    wheels = cached_wheels(pins, cache_dir())
    size = f"{sum(w.stat().st_size for w in wheels) / 1e6:.0f} MB" if wheels else None
    if offline:
        return (
            f"container start: installs {len(pins)} wheels from model.tar.gz, nothing from an "
            f"index ({size or 'fetched at apply into ' + str(cache_dir())})"
        )
    return (
        f"container start: pip installs {len(pins)} pinned packages from PyPI at every start "
        f"({size or 'size known once fetched'}); targets.sagemaker.offline: true carries them in "
        "model.tar.gz for a VPC without internet access"
    )


def manifest_for(spec: ModelSpec, source: Path) -> dict[str, Any]:
    data = spec.model_dump(mode="json", exclude_none=True)
    data["uri"] = source.name if source.is_file() else "."
    return data


def content_key(prefix: str, source: Path, spec: ModelSpec, offline: bool = False) -> str:
    """S3 key addressed by the model's bytes, its settings and the archive layout (the
    requirements, offline or not, included; the wheels are fixed by the pins in them)."""
    import hashlib

    h = hashlib.sha256()
    h.update(digest_path(source).encode())
    h.update(json.dumps(manifest_for(spec, source), sort_keys=True).encode())
    requirements = requirements_for(spec, source, offline)
    h.update(f"layout={LAYOUT_VERSION};runtime={runtime_digest()};{requirements}".encode())
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


def pack_model(source: Path, spec: ModelSpec, wheels: Sequence[Path] | None = None) -> bytes:
    """The model.tar.gz bytes: model files at the root, manifest, and code/ shim; with
    ``wheels`` (staging.offline_pins fetched by cloudserve.serving.wheels) an offline
    archive whose container installs from code/wheels only."""
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
        requirements = requirements_for(spec, source, offline=wheels is not None)
        _add_bytes(tar, "code/requirements.txt", requirements.encode())
        _add_bytes(tar, "code/pyproject.toml", BUILD_SYSTEM.encode())
        for name, path in runtime_files("code/cloudserve/"):
            _add_file(tar, name, path)
        for wheel in sorted(wheels or (), key=lambda path: path.name):
            _add_file(tar, f"code/{WHEELS_DIR}/{wheel.name}", wheel)
    return buffer.getvalue()


def unpack_model(data: bytes, into: Path) -> dict[str, Any]:
    """Extract an archive made by :func:`pack_model`; returns its manifest (emulator use)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(into, filter="data")
    manifest: dict[str, Any] = json.loads((into / MANIFEST).read_text())
    return manifest
