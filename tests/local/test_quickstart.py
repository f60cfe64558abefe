"""The quickstart example works end to end through the public API (on a copy in tmp)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from cloudserve import api
from cloudserve.registry import provider_class

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]


def test_local_is_registered_under_its_name() -> None:
    assert provider_class("local").__name__ == "LocalProvider"


@pytest.mark.slow
def test_quickstart_train_apply_invoke_status_destroy(tmp_path: Path, state_root: Path) -> None:
    example = tmp_path / "quickstart"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("models", "__pycache__"))
    spec = importlib.util.spec_from_file_location("quickstart_train", example / "train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    train.train(example / "models")

    spec_file = str(example / "deployment.yaml")
    result = api.apply(spec_file)
    assert result.changed
    try:
        assert (state_root / "quickstart" / "server.json").exists()  # state went to the tmp root
        answer = api.invoke(spec_file, {"instances": ROWS}, version="stable")
        assert answer.body == {"predictions": [0, 1, 2]}
        status = api.status(spec_file)
        assert status.status == "ready" and status.in_sync
        assert status.traffic == {"stable": 90, "candidate": 10}
        assert not api.apply(spec_file).changed  # re-apply: nothing to do
    finally:
        assert api.destroy(spec_file).deleted
    assert not (state_root / "quickstart").exists()
