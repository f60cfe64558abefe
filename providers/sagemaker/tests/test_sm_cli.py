"""`cloudserve apply examples/sagemaker/` against the emulator, through the real CLI."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve.cli import cli

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sagemaker"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    folder = tmp_path / "sagemaker"
    shutil.copytree(EXAMPLE, folder)
    spec = importlib.util.spec_from_file_location("example_train", folder / "train.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.train(folder)
    return folder / "deployment.yaml"


def test_apply_plan_invoke_destroy_the_example(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)  # the emulator settles on the first poll
    runner = CliRunner()
    with SageMakerEmulator(describes_per_transition=0) as aws:
        aws.create_bucket("artifacts")
        planned = runner.invoke(cli, ["plan", str(example)])
        assert planned.exit_code == 0, planned.output
        assert "ml.c5.large" in planned.output

        applied = runner.invoke(cli, ["apply", str(example), "--yes"])
        assert applied.exit_code == 0, applied.output
        endpoint = aws.client("sagemaker").describe_endpoint(EndpointName="churn")
        assert endpoint["EndpointStatus"] == "InService"

        again = runner.invoke(cli, ["plan", str(example), "--detailed-exitcode"])
        assert again.exit_code == 0, again.output  # nothing left to change

        body = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]})
        answer = runner.invoke(
            cli, ["invoke", str(example), "-d", body, "--version", "stable", "--output", "json"]
        )
        assert answer.exit_code == 0, answer.output
        assert json.loads(answer.output)["body"]["predictions"] == [0]

        destroyed = runner.invoke(cli, ["destroy", str(example), "--yes"])
        assert destroyed.exit_code == 0, destroyed.output
        assert "churn" not in aws.backend.endpoints
        assert not aws.backend.endpoint_configs and not aws.backend._models
