"""A target from its own distribution is a target like the bundled ones (issue 15 item 2).

tests/plugins/cloudserve-toy is a small plugin package outside cloudserve/. It is installed
here with pip (no index, no build isolation) into a folder of its own, and every check runs in
a child process that has it on its path: named in a spec, its settings block checked by its
own model (with did-you-mean and the line), planned with its own instance type and price,
applied, listed by --target and the schema, and tested with the conformance kit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudserve.testing.conformance import ProviderConformance

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "cloudserve-toy"

SPEC = """\
apiVersion: cloudserve/v1
kind: Deployment
metadata:
  name: toy-demo
spec:
  target: toy
  versions:
    blue:
      model: {{uri: ./model.joblib, framework: sklearn, trust_pickle: true}}
targets:
  toy:
    {setting}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("toy-site")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path_factory.mktemp("toy-build") / "cloudserve-toy"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("tests"))
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
            "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
            str(source),
        ],
        check=True,
        cwd=source.parent,
        env={**os.environ, "TMPDIR": str(source.parent)},
    )  # fmt: skip
    assert (target / "cloudserve_toy" / "provider.py").exists()
    yield target


def run(site: Path | None, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLOUDSERVE_TARGET"}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def write_spec(folder: Path, setting: str = "zone: south") -> Path:
    (folder / "model.joblib").write_bytes(b"a model")
    spec = folder / "cloudserve.yaml"
    spec.write_text(SPEC.format(setting=setting))
    return spec


def test_a_spec_names_it_and_its_settings_are_checked_by_its_model(site: Path, tmp_path: Path) -> None:
    write_spec(tmp_path)
    ok = run(site, "-m", "cloudserve", "validate", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    write_spec(tmp_path, "zon: south")
    typo = run(site, "-m", "cloudserve", "validate", cwd=tmp_path)
    out = typo.stdout + typo.stderr
    assert typo.returncode == 2, out
    assert "cloudserve.yaml:12" in out and "targets.toy.zon" in out and "did you mean 'zone'" in out

    write_spec(tmp_path, "zone: east")
    bad = run(site, "-m", "cloudserve", "validate", cwd=tmp_path)
    assert bad.returncode == 2 and "targets.toy.zone" in bad.stdout + bad.stderr


def test_without_the_plugin_the_target_is_unknown(tmp_path: Path) -> None:
    write_spec(tmp_path)
    missing = run(None, "-m", "cloudserve", "validate", cwd=tmp_path)
    out = missing.stdout + missing.stderr
    assert missing.returncode == 2, out
    assert "unknown target 'toy'" in out and "cloudserve.yaml:6" in out


def test_plan_and_apply_use_its_provider(site: Path, tmp_path: Path) -> None:
    write_spec(tmp_path, "size: toy.large")
    plan = run(site, "-m", "cloudserve", "plan", "-o", "json", cwd=tmp_path)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    planned = json.loads(plan.stdout)
    assert "toy.large" in plan.stdout and planned, planned

    applied = run(site, "-m", "cloudserve", "apply", "--yes", cwd=tmp_path)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "toy-demo" in applied.stdout + applied.stderr

    # Its own plan-time rule, reported as the bundled targets' are.
    (tmp_path / "cloudserve.yaml").write_text(
        SPEC.format(setting="zone: south").replace(
            "  versions:", "  compute: {replicas: {min: 2, max: 3}}\n  versions:"
        )
    )
    refused = run(site, "-m", "cloudserve", "plan", cwd=tmp_path)
    assert refused.returncode == 2 and "the south zone runs one replica" in refused.stdout + refused.stderr


def test_the_cli_and_schema_list_it(site: Path, tmp_path: Path) -> None:
    helped = run(site, "-m", "cloudserve", "plan", "--help", cwd=tmp_path)
    assert "toy" in helped.stdout
    schema = json.loads(run(site, "-m", "cloudserve", "schema", cwd=tmp_path).stdout)
    assert schema["properties"]["targets"]["properties"]["toy"] == {"$ref": "#/$defs/ToySettings"}
    assert "zone" in schema["$defs"]["ToySettings"]["properties"]
    target = schema["$defs"]["DeploymentSpec"]["properties"]["target"]
    assert "toy" in target["anyOf"][0]["enum"]
    # --target names it too (on a spec written for the local target).
    spec = write_spec(tmp_path)
    spec.write_text(spec.read_text().replace("target: toy", "target: local"))
    switched = run(site, "-m", "cloudserve", "validate", "--target", "toy", cwd=tmp_path)
    assert switched.returncode == 0, switched.stdout + switched.stderr


def test_the_conformance_kit_runs_against_it(site: Path, tmp_path: Path) -> None:
    # The plugin's own tests, from a checkout of it (outside this repository's pytest config).
    shutil.copytree(PLUGIN / "tests", tmp_path / "tests")
    kit = run(
        site, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist",
        "--rootdir", str(tmp_path), "tests",
        cwd=tmp_path,
    )  # fmt: skip
    assert kit.returncode == 0, kit.stdout[-3000:] + kit.stderr[-2000:]
    # Every test of the kit ran; the invoke test skips, as the toy serves no real model.
    suite = [name for name in dir(ProviderConformance) if name.startswith("test_")]
    assert f"{len(suite) - 1} passed, 1 skipped" in kit.stdout, kit.stdout[-800:]
