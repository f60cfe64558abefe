"""Wheels for a cloud container, fetched here so the container installs with no index.

A SageMaker framework container pip-installs ``code/requirements.txt`` at every start; in
a VPC without internet access that fails. With the wheels inside the artifact and
``--no-index --find-links`` in the requirements, the container needs nothing from outside.
The wheels are fetched once per pin set with pip itself (``pip download`` for the
container's platform: Linux x86_64, CPython 3.12), into a cache that later runs reuse
without touching the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from cloudserve.errors import CloudServeError
from cloudserve.serving.bundle import CONTAINER_PYTHON

# The platform tags a manylinux x86_64 CPython container accepts (PEP 600 names and their
# legacy aliases); pure-Python wheels (py3-none-any) fit any of them.
_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64")
CACHE_ENV = "CLOUDSERVE_WHEEL_CACHE"


class WheelFetchFailed(CloudServeError):
    """pip could not fetch a wheel the container needs."""


def cache_dir() -> Path:
    """``CLOUDSERVE_WHEEL_CACHE``, else the user's cache folder."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cloudserve" / "wheels"


def container_tags() -> set[str]:
    """Wheel tags the container's pip accepts, as ``interpreter-abi-platform`` strings."""
    from packaging.tags import compatible_tags, cpython_tags

    version = tuple(int(part) for part in CONTAINER_PYTHON.split("."))
    return {str(tag) for tag in cpython_tags(version, platforms=_PLATFORMS)} | {
        str(tag) for tag in compatible_tags(version, f"cp{version[0]}{version[1]}", _PLATFORMS)
    }


def cached_wheels(pins: Sequence[str], folder: Path) -> list[Path] | None:
    """One wheel per pin from ``folder`` that the container can install, or None if any
    pin has none there (then they must be fetched)."""
    from packaging.requirements import Requirement
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
    from packaging.version import Version

    accepted = container_tags()
    found: dict[str, list[tuple[str, Path]]] = {}
    for path in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        try:
            name, version, _, tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if any(str(tag) in accepted for tag in tags):
            found.setdefault(canonicalize_name(name), []).append((str(version), path))
    chosen = []
    for pin in pins:
        requirement = Requirement(pin)
        matches = [
            (version, path)
            for version, path in found.get(canonicalize_name(requirement.name), [])
            if requirement.specifier.contains(version, prereleases=True)
        ]
        if not matches:
            return None
        chosen.append(max(matches, key=lambda match: Version(match[0]))[1])
    return chosen


def fetch_wheels(pins: Sequence[str], folder: Path | None = None) -> list[Path]:
    """Wheels for ``pins`` (each ``name==version``; the set is already complete, so no
    dependencies are resolved), from the cache when all are there, else via pip."""
    folder = folder or cache_dir()
    have = cached_wheels(pins, folder)
    if have is not None:
        return have
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation=cp",
        f"--python-version={CONTAINER_PYTHON}",
        f"--abi=cp{CONTAINER_PYTHON.replace('.', '')}",
        *(f"--platform={platform}" for platform in _PLATFORMS),
        f"--dest={folder}",
        *pins,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise WheelFetchFailed(
            f"pip could not fetch the container's wheels ({'; '.join(tail) or 'no output'})",
            hint="offline artifacts are built from PyPI wheels for Linux x86_64, Python "
            f"{CONTAINER_PYTHON}; check this machine reaches the index, or set {CACHE_ENV} to a "
            "folder that already holds them",
        )
    have = cached_wheels(pins, folder)
    if have is None:
        raise WheelFetchFailed(f"pip downloaded the wheels but some are missing from {folder}")
    return have
