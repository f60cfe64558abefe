"""cloudserve's pytest plugin, seen from a user's own test suite.

The user's project lives in a temporary folder with no pyproject or conftest of ours, and
its tests run in a child pytest, so only what installing cloudserve and its providers
brings (the ``pytest11`` entry point) can supply the fixtures and warning filters.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

USER_TESTS = """
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

import cloudserve

IMAGE = "us-docker.pkg.dev/test-project/serving/cloudserve:0.1"

@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), path)
    return str(path)


def spec(model, target, settings):
    return {
        "apiVersion": "cloudserve/v1",
        "kind": "Deployment",
        "metadata": {"name": "churn"},
        "spec": {
            "target": target,
            "versions": {"stable": {"model": {"uri": model, "framework": "sklearn"}}},
            "traffic": {"stable": 100},
        },
        "targets": {target: settings},
    }


def test_sagemaker(sagemaker_emulator, model):
    sagemaker_emulator.create_bucket("artifacts")
    settings = {"region": "us-east-1", "bucket": "artifacts",
                "role_arn": "arn:aws:iam::123456789012:role/serving"}
    plan = cloudserve.plan(spec(model, "sagemaker", settings))
    assert [a.key for a in plan.actions] == ["create_endpoint"]


def test_vertex(vertex_emulator, model):
    settings = {"project": "test-project", "location": "us-central1",
                "staging_bucket": "gs://cloudserve-test", "serving_image": IMAGE}
    plan = cloudserve.plan(spec(model, "vertex", settings))
    assert [a.key for a in plan.actions] == ["create_endpoint"]


def test_azureml(azureml_emulator, model):
    plan = cloudserve.plan(spec(model, "azureml", azureml_emulator.settings()))
    assert [a.key for a in plan.actions] == ["create_endpoint"]


def test_options_through_the_factory(cloudserve_emulator, model):
    emu = cloudserve_emulator("vertex", projects={"my-own-project": "42"}, buckets=["b"])
    settings = {"project": "my-own-project", "location": "us-central1", "staging_bucket": "gs://b",
                "serving_image": IMAGE}
    assert cloudserve.plan(spec(model, "vertex", settings)).actions
    assert emu.call_counts()


def test_unknown_target(cloudserve_emulator):
    cloudserve_emulator("nimbus")


def test_orchestration_on_the_fake_target(
    cloudserve_fake_target, cloudserve_fake_cloud, cloudserve_clock, model
):
    from cloudserve.testing import FakeProvider, SimulatedClock

    assert isinstance(cloudserve_fake_target, FakeProvider) and isinstance(cloudserve_clock, SimulatedClock)
    result = cloudserve.apply(spec(model, "local", {}), provider=cloudserve_fake_target)
    assert [a.key for a in result.applied] == ["create_endpoint"]
    assert cloudserve_fake_cloud.endpoints["churn"].traffic == {"stable": 100}
    cloudserve_clock.sleep(600)
    assert cloudserve_clock.slept == 600
"""


def _run_user_suite(tmp_path: Path, *args: str) -> str:
    (tmp_path / "test_mine.py").write_text(USER_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CLOUDSERVE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.stdout + done.stderr


def test_a_users_suite_gets_every_emulator_and_no_sdk_warnings(tmp_path: Path) -> None:
    out = _run_user_suite(tmp_path)
    summary = out.strip().splitlines()[-1]
    assert re.search(r"\b1 failed, 5 passed\b", summary), out
    assert "warning" not in summary, out  # azure-ai-ml's marshmallow warnings filtered
    assert "no emulator for target 'nimbus' (installed: azureml, sagemaker, vertex)" in out
    assert "pip install 'cloudserve-nimbus[testing]'" in out


def test_the_plugin_can_be_turned_off(tmp_path: Path) -> None:
    out = _run_user_suite(tmp_path, "-p", "no:cloudserve", "-k", "sagemaker or azureml")
    assert "fixture 'sagemaker_emulator' not found" in out, out
    assert "fixture 'azureml_emulator' not found" in out, out
