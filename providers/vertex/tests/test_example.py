"""examples/vertex applies, re-plans to nothing and is destroyed, against the emulator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cloudserve_vertex.testing import VertexEmulator

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "vertex"


@pytest.fixture
def example(tmp_path: Path, sklearn_15_python: Path) -> Path:
    folder = tmp_path / "vertex"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("models"))
    # With the scikit-learn the spec declares, as the README says (train.py refuses others).
    subprocess.run([str(sklearn_15_python), "train.py"], cwd=folder, check=True)
    return folder / "deployment.yaml"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> VertexEmulator:
    emulator = VertexEmulator(projects={"my-project": "123456789012"}, buckets=["my-artifacts"])
    emulator.start()
    monkeypatch.setenv(*emulator.env_item())
    yield emulator  # type: ignore[misc]
    emulator.stop()


def test_example_applies_through_the_python_api(example: Path, emu: VertexEmulator) -> None:
    from cloudserve import api  # not cloudserve.apply: the submodule shadows the function

    plan = api.plan(str(example))
    assert [a.key for a in plan.actions] == ["create_endpoint"]
    api.apply(str(example))
    assert not api.plan(str(example)).actions
    result = api.invoke(str(example), {"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert result.version in ("stable", "candidate")
    api.destroy(str(example))
    assert not emu.endpoints and not emu.models
