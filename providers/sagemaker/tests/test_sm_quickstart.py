"""The quickstart, retargeted: only ``target`` and a ``targets.sagemaker`` block change.

The spec is examples/quickstart/deployment.yaml as shipped (written for the local target),
copied with exactly those two edits; the models are trained by the example's own train.py.
Everything else -- versions, model files, split -- plans and applies on the SageMaker
emulator unchanged, and the endpoint answers with the models' real predictions.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve import api

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "quickstart"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]
SAGEMAKER_BLOCK = """targets:
  sagemaker:
    region: us-east-1
    role_arn: arn:aws:iam::123456789012:role/serving
    bucket: artifacts
"""


def retarget(text: str) -> str:
    """``target: local`` -> ``target: sagemaker``; the ``targets:`` block -> SageMaker's."""
    assert text.count("  target: local\n") == 1 and text.count("\ntargets:\n") == 1
    head = text.replace("  target: local\n", "  target: sagemaker\n")
    return head[: head.index("\ntargets:\n") + 1] + SAGEMAKER_BLOCK


def without_target(doc: dict[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in doc.items() if k != "targets"}
    rest["spec"] = {k: v for k, v in doc["spec"].items() if k != "target"}
    return rest


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    folder = tmp_path / "quickstart"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("models", "__pycache__"))
    spec = importlib.util.spec_from_file_location("quickstart_train", folder / "train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    train.train(folder / "models")
    original = (folder / "deployment.yaml").read_text()
    (folder / "deployment.yaml").write_text(retarget(original))
    return folder / "deployment.yaml"


def test_quickstart_retargeted_to_sagemaker_plans_applies_and_predicts(
    quickstart: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = yaml.safe_load((EXAMPLE / "deployment.yaml").read_text())
    edited = yaml.safe_load(quickstart.read_text())
    assert without_target(edited) == without_target(shipped)  # nothing else changed
    assert edited["spec"]["target"] == "sagemaker" and set(edited["targets"]) == {"sagemaker"}

    monkeypatch.setattr(time, "sleep", lambda _s: None)  # the emulator settles on the first poll
    with SageMakerEmulator(describes_per_transition=0) as aws:
        aws.create_bucket("artifacts")
        spec_file = str(quickstart)
        plan = api.plan(spec_file)
        assert plan.target == "sagemaker" and [a.key for a in plan.actions] == ["create_endpoint"]
        assert {n.instance_type for n in plan.actions[0].version_notes.values()} == {"ml.c5.large"}

        assert api.apply(spec_file).changed
        status = api.status(spec_file)
        assert status.status == "ready" and status.in_sync
        assert status.traffic == {"stable": 90, "candidate": 10}

        import skops.io as sio

        for version in ("stable", "candidate"):
            model_file = quickstart.parent / "models" / version / "model.skops"
            model = sio.load(model_file, trusted=sio.get_untrusted_types(file=model_file))
            expected = [int(p) for p in model.predict(ROWS)]
            answer = api.invoke(spec_file, {"instances": ROWS}, version=version)
            assert answer.body == {"predictions": expected}
        assert not api.apply(spec_file).changed  # re-apply: nothing to do
        assert api.destroy(spec_file).deleted
        assert "quickstart" not in aws.backend.endpoints
