"""Every install hint's from-a-clone command names a folder of this repository that exists
and an extra its pyproject declares, so the hint works as printed."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from cloudserve.install import install_hint
from cloudserve.registry import KNOWN_TARGETS

ROOT = Path(__file__).resolve().parents[2]
HINTED = [*KNOWN_TARGETS.values(), "cloudserve-sagemaker[images]", "cloudserve[serve]"] + [
    f"cloudserve-{t}[testing]" for t in ("sagemaker", "vertex", "azureml")
]


@pytest.mark.parametrize("requirement", HINTED)
def test_the_clone_form_installs_from_this_repository(requirement: str) -> None:
    hint = install_hint(requirement)
    match = re.search(r"from a clone of cloudserve: pip install '(\.[^'\[]*)(?:\[([^\]]+)\])?'\)$", hint)
    assert match, hint
    project = tomllib.loads((ROOT / match[1] / "pyproject.toml").read_text())["project"]
    assert project["name"] == requirement.split("[")[0]
    for extra in (match[2] or "").split(","):
        assert not extra or extra in project["optional-dependencies"], (requirement, extra)


def test_anything_else_is_left_as_it_is() -> None:
    assert install_hint("pyarrow") == "pip install 'pyarrow'"
