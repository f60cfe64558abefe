"""The serving runtime as it travels to a cloud container: cloudserve's own source beside
the model's code, and the third-party libraries it needs pinned exactly.

No container installs cloudserve from a package index (none has it, and a name that
someone else could register would run their code in every endpoint): the SageMaker archive
carries the source under ``code/cloudserve``, the Azure ML code folder under ``cloudserve/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cloudserve.serving.pins import framework_pin
from cloudserve.spec.models import ModelSpec

# What of the runtime's own package travels (caches stay out).
_IGNORED = ("__pycache__", ".pyc")
_IGNORED_GLOBS = ("__pycache__", "*.pyc")


def runtime_source() -> Path:
    import cloudserve

    return Path(cloudserve.__file__).resolve().parent


def runtime_files(prefix: str) -> list[tuple[str, Path]]:
    """(name under ``prefix``, file) for every file of the runtime's source, sorted."""
    root = runtime_source()
    return [
        (f"{prefix}{path.relative_to(root).as_posix()}", path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not any(part.endswith(_IGNORED) for part in path.parts)
    ]


def copy_runtime(target: Path) -> None:
    """The runtime's source as ``target/cloudserve`` (what runtime_files lists)."""
    import shutil

    shutil.copytree(runtime_source(), target / "cloudserve", ignore=shutil.ignore_patterns(*_IGNORED_GLOBS))


def runtime_digest() -> str:
    """Digest of the runtime source (part of every content key that carries it)."""
    h = hashlib.sha256()
    for name, path in runtime_files(""):
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def pinned_requirements(spec: ModelSpec, source: Path | None = None) -> list[str]:
    """The runtime's third-party libraries pinned exactly to the versions of this
    environment, and the model's own library at the version it was saved with (unpickling
    in another scikit-learn can fail or mislead). cloudserve itself is not among them."""
    from cloudserve.serving.package import requirements
    from cloudserve.serving.written_with import written_with

    pin = framework_pin(spec, written_with(source, spec) if source is not None else None)
    package = pin.split("==", 1)[0].lower() if pin else None
    lines = [
        line
        for line in requirements(None).splitlines()
        if line and not line.startswith("#") and not (package and line.lower().startswith(f"{package}=="))
    ]
    return [*lines, *([pin] if pin else [])]
