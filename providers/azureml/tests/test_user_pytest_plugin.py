"""Issue 18 item 8: a user's own pytest file that drives the emulator printed ~470
marshmallow warnings from azure-ai-ml; the provider's pytest11 plugin filters them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

USER_TEST = textwrap.dedent(
    """
    import cloudserve
    from cloudserve_azureml.testing import AzureMLEmulator


    def test_plan_on_emulated_azure():
        uri = "azureml://registries/r/models/m/versions/1"
        spec = {
            "metadata": {"name": "mine"},
            "spec": {"target": "azureml", "versions": {"stable": {"model": {"uri": uri}}}},
        }
        with AzureMLEmulator() as azure:
            spec["targets"] = {"azureml": azure.settings()}
            assert cloudserve.plan(spec).actions
    """
)


def test_a_users_own_tests_are_not_flooded_with_sdk_warnings(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(USER_TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py"],
        cwd=tmp_path,  # outside this project: none of its pyproject filters apply
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert "1 passed" in summary and "warning" not in summary, summary
    assert "Marshmallow4Warning" not in done.stdout
