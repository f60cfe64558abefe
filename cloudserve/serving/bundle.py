"""The serving runtime as it travels to a cloud container: cloudserve's own source beside
the model's code, and the third-party libraries it needs pinned exactly.

No container installs cloudserve from a package index (none has it, and a name that
someone else could register would run their code in every endpoint): the SageMaker archive
carries the source under ``code/cloudserve``, the Azure ML code folder under ``cloudserve/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from cloudserve.errors import CloudServeError
from cloudserve.install import install_hint
from cloudserve.serving.pins import framework_pin
from cloudserve.spec.models import ModelSpec

# The serving runtime's distributions (the core's and the `serve` extra's), by what needs
# them: every model, its framework's loader, and the HTTP server of `cloudserve serve`
# (the SageMaker toolkit and Azure's inference server bring their own).
RUNTIME_CORE = ("pydantic", "PyYAML", "click", "filelock", "numpy", "orjson")
_SKLEARN = ("scipy", "scikit-learn", "joblib", "skops")
_ANY_MODEL = (*_SKLEARN, "xgboost", "cloudpickle")
FRAMEWORK_RUNTIME = {
    "sklearn": _SKLEARN,
    "xgboost": ("scipy", "xgboost"),
    "mlflow": _ANY_MODEL,  # an MLflow model's flavour is read at load time
    "custom": _ANY_MODEL,  # a handler may load any of them
}
SERVER_RUNTIME = ("uvicorn", "httptools", "uvloop", "prometheus-client")
# The drift engine (`cloudserve monitor run`) as a job runs it: the core and the `monitor` extra.
MONITOR_RUNTIME = (
    "pydantic",
    "PyYAML",
    "click",
    "filelock",
    "packaging",
    "numpy",
    "scipy",
    "pyarrow",
    "polars",
)
# An image from `cloudserve package` serves whatever model it is handed: all of them.
RUNTIME = (*RUNTIME_CORE, *_ANY_MODEL, *SERVER_RUNTIME)


def model_runtime(framework: str) -> tuple[str, ...]:
    """What cloudserve's loaders need inside a cloud's own server for one framework."""
    return (*RUNTIME_CORE, *FRAMEWORK_RUNTIME.get(framework, _ANY_MODEL))


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


# The containers the runtime travels to: SageMaker's scikit-learn 1.4-2-py312 image and the
# Azure ML environment cloudserve defines (python=3.12), both Linux on x86_64. Requirement
# markers are evaluated for them, not for this machine.
CONTAINER_PYTHON = "3.12"


def container_markers(python: str = CONTAINER_PYTHON) -> dict[str, str]:
    """PEP 508 marker values of a Linux x86_64 CPython container of that version."""
    return {**_LINUX_X86_64, "python_version": python, "python_full_version": f"{python}.0"}


_LINUX_X86_64 = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "os_name": "posix",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "extra": "",
}


class UnpinnableRuntime(CloudServeError):
    """A library the runtime needs in a container is not installed here, so no exact
    version can be chosen for it."""


def pinned_requirements(
    spec: ModelSpec, source: Path | None = None, overrides: Mapping[str, str] | None = None
) -> list[str]:
    """Every distribution the runtime needs in the container for this model, and everything
    those require, each pinned exactly to the version installed here (the environment that
    wrote and tested the model), so pip resolves nothing at container start. The model's
    own library is pinned to the version it was saved with (unpickling in another
    scikit-learn can fail or mislead). ``overrides`` ({name: version}) replace a pin where
    the cloud's own server needs another release (give the exact pins that release itself
    makes too). cloudserve itself is not listed: its source travels beside the model's code."""
    from cloudserve.serving.written_with import written_with

    pin = framework_pin(spec, written_with(source, spec) if source is not None else None)
    fixed = {**(dict([pin.split("==", 1)]) if pin else {}), **(overrides or {})}
    return pinned_closure(model_runtime(spec.framework), fixed)


def pinned_closure(
    names: Iterable[str], fixed: Mapping[str, str], extra: str = "serve", python: str = CONTAINER_PYTHON
) -> list[str]:
    """``name==version`` for ``names`` and their requirements in the container, in
    discovery order. ``fixed`` ({name: version}) wins over what is installed; what it
    requires is still read from the installed release (the same names across the
    releases cloudserve supports). ``python``: the container's Python, for markers."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pinned = {canonicalize_name(k): v for k, v in fixed.items()}
    markers = container_markers(python)
    pins: dict[str, str] = {}
    missing: list[str] = []
    queue = list(names)
    while queue:
        name = queue.pop(0)
        key = canonicalize_name(name)
        if key in pins or key in missing:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if key in pinned:
                pins[key] = f"{name}=={pinned[key]}"
            else:
                missing.append(key)
            continue
        pins[key] = f"{dist.metadata['Name']}=={pinned.get(key, dist.version)}"
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(markers):
                queue.append(requirement.name)
    if missing:
        raise UnpinnableRuntime(
            f"the serving runtime needs {', '.join(missing)} in the container, and without it "
            "installed here cloudserve cannot pin its version",
            hint=f"{install_hint(f'cloudserve[{extra}]')} (or: pip install {' '.join(missing)})",
        )
    return list(pins.values())
