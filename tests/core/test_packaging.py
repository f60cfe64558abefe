"""What the distributions publish (issue 15 item 6): each provider depends on a cloudserve
range that the core's own version satisfies, published requirements are ranges, and exact
pins live only in constraints.txt (which scripts/bootstrap.sh installs under)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = sorted(p.parent for p in (ROOT / "providers").glob("*/pyproject.toml"))


def _project(folder: Path) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    return project


def _published(folder: Path) -> list[Requirement]:
    project = _project(folder)
    extras = project.get("optional-dependencies", {}).values()
    return [Requirement(r) for r in [*project["dependencies"], *(r for e in extras for r in e)]]


def test_there_are_three_providers() -> None:
    assert [p.name for p in PROVIDERS] == ["azureml", "sagemaker", "vertex"]


@pytest.mark.parametrize("folder", [ROOT, *PROVIDERS], ids=lambda p: p.name)
def test_published_requirements_are_ranges_not_pins(folder: Path) -> None:
    pinned = [str(r) for r in _published(folder) if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not pinned, f"{folder.name}: exact pins belong in constraints.txt: {pinned}"


@pytest.mark.parametrize("folder", PROVIDERS, ids=lambda p: p.name)
def test_provider_depends_on_a_bounded_compatible_cloudserve(folder: Path) -> None:
    core = Version(_project(ROOT)["version"])
    on_core = [r for r in _published(folder) if r.name == "cloudserve"]
    assert on_core, folder.name
    for req in on_core:
        assert any(s.operator == "<" for s in req.specifier), f"{folder.name}: {req} has no upper bound"
        assert req.specifier.contains(core), f"{folder.name}: {req} excludes cloudserve {core}"


def test_bootstrap_installs_under_constraints() -> None:
    assert '-c "$ROOT/constraints.txt"' in (ROOT / "scripts" / "bootstrap.sh").read_text()
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and line[0] != "#"]
    assert pins and all("==" in line for line in pins)
