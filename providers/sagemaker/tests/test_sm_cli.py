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

from cloudserve.cli import cli, main

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


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out + err


def test_validate_with_target_sagemaker_refuses_what_plan_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 2: `validate --target sagemaker` was green for a spec plan --offline
    rejects (no role_arn, no bucket for a local model). Now both refuse, calling no API."""
    (tmp_path / "model.skops").write_bytes(b"x")
    spec = tmp_path / "d.yaml"
    spec.write_text(
        "apiVersion: cloudserve/v1\nkind: Deployment\nmetadata: {name: churn}\n"
        "spec:\n  versions:\n    stable: {model: {uri: ./model.skops}}\n  traffic: {stable: 100}\n"
        "targets:\n  sagemaker: {region: us-east-1}\n"
    )
    assert _main(["validate", str(spec)], capsys)[0] == 0
    code, output = _main(["validate", str(spec), "--target", "sagemaker"], capsys)
    assert code == 2
    assert "targets.sagemaker.role_arn is required" in output
    assert "targets.sagemaker.bucket is required" in output
    code, output = _main(["plan", str(spec), "--target", "sagemaker", "--offline"], capsys)
    assert code == 2 and "targets.sagemaker.role_arn is required" in output
