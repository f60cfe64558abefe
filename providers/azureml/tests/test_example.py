"""examples/azureml applies through the CLI against the emulator, re-plans to nothing and
is destroyed; the quickstart spec applies with only its target changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from cloudserve_azureml.testing import AzureMLEmulator

from cloudserve.cli import cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    folder = tmp_path / "azureml"
    shutil.copytree(EXAMPLES / "azureml", folder, ignore=shutil.ignore_patterns("models"))
    subprocess.run([sys.executable, "train.py"], cwd=folder, check=True)
    return folder / "deployment.yaml"


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_applies_the_example(example: Path, azure: AzureMLEmulator) -> None:
    code, out = _cli("plan", str(example), "-o", "json")
    assert code == 0, out
    assert "Standard_F2s_v2" in out
    code, out = _cli("apply", str(example), "-y")
    assert code == 0, out
    endpoint = azure.endpoint("churn")
    assert endpoint is not None
    assert endpoint["properties"]["traffic"] == {"stable": 90, "candidate": 10}
    assert {s["name"] for s in azure.autoscale_settings()} == {
        "churn-stable-autoscale",
        "churn-candidate-autoscale",
    }
    collector = azure.deployment("churn", "stable")["properties"]["dataCollector"]  # type: ignore[index]
    assert collector["collections"]["request"]["samplingRate"] == 0.2
    code, out = _cli("plan", str(example), "-o", "json")
    assert code == 0, out
    assert json.loads(out)["actions"] == []
    code, out = _cli("invoke", str(example), "-d", '{"instances": [[5.1, 3.5, 1.4, 0.2]]}', "-o", "json")
    assert code == 0, out
    code, out = _cli("destroy", str(example), "-y")
    assert code == 0, out
    assert azure.endpoint("churn") is None
    assert azure.autoscale_settings() == []


def test_quickstart_applies_with_only_the_target_changed(tmp_path: Path, azure: AzureMLEmulator) -> None:
    folder = tmp_path / "quickstart"
    shutil.copytree(EXAMPLES / "quickstart", folder, ignore=shutil.ignore_patterns("models"))
    subprocess.run([sys.executable, "train.py"], cwd=folder, check=True)
    doc = yaml.safe_load((folder / "deployment.yaml").read_text())
    doc["spec"]["target"] = "azureml"
    doc["targets"] = {"azureml": azure.settings()}
    spec = folder / "azure.yaml"
    spec.write_text(yaml.safe_dump(doc))
    code, out = _cli("apply", str(spec), "-y")
    assert code == 0, out
    code, out = _cli("plan", str(spec), "-o", "json")
    assert json.loads(out)["actions"] == []
    code, out = _cli("invoke", str(spec), "-d", '{"instances": [[5.1, 3.5, 1.4, 0.2]]}', "-o", "json")
    assert code == 0, out
    assert "predictions" in out
