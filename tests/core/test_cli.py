"""CLI exit codes and JSON output, driven through main() with the in-memory target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cloudserve import api
from cloudserve.cli import main
from cloudserve.testing.fake import FakeCloud, FakeProvider


@pytest.fixture(autouse=True)
def fake_target(monkeypatch: pytest.MonkeyPatch, cloud: FakeCloud) -> FakeCloud:
    monkeypatch.setattr(
        api, "provider_for", lambda d, offline=False: FakeProvider(cloud=cloud, offline=offline)
    )
    return cloud


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_validate_ok_and_json(spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", str(spec_file)], capsys)
    assert code == 0 and "churn" in out
    code, out, _ = run(["validate", str(spec_file), "-o", "json"], capsys)
    assert json.loads(out) == {
        "valid": True,
        "target_rules": False,
        "deployments": [{"name": "churn", "target": "local", "environments": ["prod"]}],
    }


def test_validate_checks_every_overlay_unless_one_is_named(
    spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 2: a broken prod overlay fails CI's plain validate, at its own line."""
    spec_file.write_text(spec_file.read_text().replace("replicas: {min: 2}", "replicas: {min: -2}"))
    code, _, err = run(["validate", str(spec_file)], capsys)
    assert code == 2 and "with environment prod" in err
    line = spec_file.read_text().splitlines().index("        replicas: {min: -2}") + 1
    assert f"churn.yaml:{line}:" in err
    spec_file.write_text(
        spec_file.read_text().replace("prod:", "prod:\n    metadata: {labels: {tier: gold}}\n  staging:")
    )
    assert run(["validate", str(spec_file), "--env", "prod"], capsys)[0] == 0  # prod now valid
    code, _, err = run(["validate", str(spec_file), "--env", "staging"], capsys)
    assert code == 2 and "replicas" in err


def test_validate_with_target_runs_the_targets_offline_rules(
    spec_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What plan --offline refuses, validate --target refuses too; without --target the
    target is never loaded (validate stays fast and offline)."""
    refused = ["targets.fake.key is required: the fake target needs it"]
    monkeypatch.setattr(FakeProvider, "validate", lambda self, desired: list(refused))
    assert run(["validate", str(spec_file)], capsys)[0] == 0
    code, _, err = run(["validate", str(spec_file), "--target", "local"], capsys)
    assert code == 2 and err.count("targets.fake.key is required") == 1  # prod repeats it: once
    code, out, _ = run(["plan", str(spec_file), "--target", "local", "--offline"], capsys)
    assert code != 0
    refused.clear()
    code, out, _ = run(["validate", str(spec_file), "--target", "local", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["target_rules"] is True


def test_validate_error_exit_2(spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_file.write_text(spec_file.read_text().replace("traffic:", "trafic:"))
    code, out, err = run(["validate", str(spec_file)], capsys)
    assert code == 2
    assert "did you mean 'traffic'?" in err and "Traceback" not in err
    code, out, _ = run(["validate", str(spec_file), "--output", "json"], capsys)
    data = json.loads(out)
    assert code == 2 and data["error"] == "InvalidSpec"
    assert data["problems"][0]["field"] == "spec.trafic" and data["problems"][0]["line"] == 12


def test_plan_detailed_exitcode(spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plan", str(spec_file), "--detailed-exitcode"], capsys)
    assert code == 2 and "create endpoint churn" in out
    assert run(["apply", str(spec_file), "--yes"], capsys)[0] == 0
    code, out, _ = run(["plan", str(spec_file), "--detailed-exitcode"], capsys)
    assert code == 0 and "No changes" in out
    spec_file.write_text(spec_file.read_text().replace("trafic", "traffic").replace("cpu: 2", "cpu: two"))
    assert run(["plan", str(spec_file), "--detailed-exitcode"], capsys)[0] == 1


def test_plan_json_is_stable(spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["plan", str(spec_file), "-o", "json"], capsys)
    data = json.loads(out)
    assert data["format_version"] == 1 and data["has_changes"] is True
    assert data["actions"][0]["action"] == "create_endpoint"
    assert data["actions"][0]["versions"]["stable"]["instance_type"] == "fake.small"
    assert set(data) >= {
        "deployment",
        "target",
        "exists",
        "traffic",
        "mirror",
        "capabilities",
        "actions",
    }


def test_apply_status_invoke_destroy(
    spec_file: Path, capsys: pytest.CaptureFixture[str], fake_target: FakeCloud
) -> None:
    code, out, _ = run(["apply", str(spec_file), "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["changed"] is True
    code, out, _ = run(["status", str(spec_file), "-o", "json"], capsys)
    data: dict[str, Any] = json.loads(out)
    assert data["exists"] and data["in_sync"] and data["traffic"] == {"stable": 90, "candidate": 10}
    code, out, _ = run(
        ["invoke", str(spec_file), "-d", '{"instances": [[1, 2]]}', "--version", "candidate"],
        capsys,
    )
    assert code == 0 and json.loads(out) == {"predictions": [0]}
    code, out, err = run(["destroy", str(spec_file)], capsys)
    assert code == 2 and "--yes" in err  # no terminal: refuses to guess
    assert "churn" in fake_target.endpoints
    code, out, _ = run(["destroy", str(spec_file), "--yes"], capsys)
    assert code == 0 and fake_target.endpoints == {}


def test_error_exit_codes(
    spec_file: Path, capsys: pytest.CaptureFixture[str], fake_target: FakeCloud
) -> None:
    from cloudserve.errors import AuthError

    fake_target.inject("observe", AuthError("no credentials found", hint="run aws configure"))
    code, _, err = run(["status", str(spec_file)], capsys)
    assert code == 6 and "no credentials found" in err and "Traceback" not in err


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["schema"], capsys)
    assert code == 0 and json.loads(out)["$id"].endswith("cloudserve-v1.schema.json")


def test_real_entrypoint_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: cloudserve/v1\nkind: Deployment\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cloudserve", "validate", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "'metadata' is required" in proc.stderr


def test_lazy_commands_resolve() -> None:
    import importlib

    import click

    from cloudserve.cli import LAZY_COMMANDS

    for name, (target, _help) in LAZY_COMMANDS.items():
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command), name


def test_every_verb_names_the_spec_default_and_every_option_has_help() -> None:
    """Issue 18 item 3 (part): `[SPEC]` says it defaults to cloudserve.yaml, and no option
    is bare in --help."""
    import click

    from cloudserve.cli import cli

    ctx = click.Context(cli)
    seen = 0

    def walk(group: click.Group, prefix: str = "") -> None:
        nonlocal seen
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + name + " ")
                continue
            seen += 1
            if any(isinstance(p, click.Argument) and p.name == "spec" for p in cmd.params):
                assert "default: cloudserve.yaml" in (cmd.help or ""), prefix + name
            bare = [p.name for p in cmd.params if isinstance(p, click.Option) and not p.help]
            assert not bare, (prefix + name, bare)

    walk(cli)
    assert seen >= 15


def test_usage_errors_are_json_when_json_is_asked_and_schema_takes_output(
    spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18 item 3 (part): `-o json` holds for usage errors too; `schema -o json` works."""
    code, out, _ = run(["invoke", str(spec_file), "-o", "json", "--bogus"], capsys)
    assert code == 2 and json.loads(out) == {
        "error": "UsageError",
        "message": "No such option '--bogus'.",
        "hint": "see --help",
    }
    code, out, _ = run(["schema", "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["title"]


def test_progress_on_a_pipe_drops_only_the_periodic_waiting_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """A ")" at the end of a line once hid the rollout's baking notice in CI logs."""
    from cloudserve.cli import _progress_printer

    show = _progress_printer()  # capsys's stderr is not a terminal
    show("step 1/2 (create endpoint churn): waiting (12s)")
    show("  baking 10s; metric gates read the last 60s, the shortest window (per minute)")
    show("step 1/2 (create endpoint churn): done")
    err = capsys.readouterr().err
    assert "waiting (12s)" not in err
    assert "baking 10s" in err and "done" in err
