"""The local server as the provider runs it: a process driven by a state directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

AUTH = {"X-Cloudserve-Token": "secret-token"}


def start(state_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    (state_dir / "server.json").unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloudserve.serving.local_server",
            "--state-dir",
            str(state_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(state_dir / "server.log", "ab"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    while not (state_dir / "server.json").exists():
        assert proc.poll() is None, (state_dir / "server.log").read_text()
        assert time.monotonic() < deadline, "no server.json"
        time.sleep(0.05)
    info = json.loads((state_dir / "server.json").read_text())
    assert info["pid"] == proc.pid and info["host"] == "127.0.0.1" and info["started_at"] > 0
    return proc, f"http://127.0.0.1:{info['port']}"


@pytest.mark.slow
def test_state_dir_lifecycle(tmp_path: Path, models_dir: Path, rows: list[Any]) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "token").write_text("secret-token\n")
    os.chmod(state / "token", 0o600)
    (tmp_path / "broken.skops").write_bytes(b"junk")
    versions = {
        "stable": {
            "config_hash": "1",
            "model": {"uri": "joblib/model.joblib", "trust_pickle": True},
            "image": None,
            "env": {},
            "base_dir": str(models_dir),
        },
        "broken": {
            "config_hash": "2",
            "model": {"uri": str(tmp_path / "broken.skops")},
            "image": None,
            "env": {},
            "base_dir": None,
        },
        "canary": {
            "config_hash": "3",
            "model": {"uri": str(models_dir / "skops")},
            "image": None,
            "env": {},
            "base_dir": None,
        },
    }
    doc = {
        "name": "churn",
        "versions": versions,
        "traffic": {"stable": 100},
        "mirror": {},
        "tags": {},
        "capture": None,
    }
    (state / "endpoint.json").write_text(json.dumps(doc))

    proc, url = start(state)
    try:
        assert requests.get(url + "/ping", timeout=10).status_code == 200
        st = requests.get(url + "/_cloudserve/state", headers=AUTH, timeout=10).json()
        assert st["versions"]["broken"]["status"] == "failed"
        assert "not a readable skops" in st["versions"]["broken"]["error"]
        assert st["versions"]["stable"]["status"] == "ready" and st["pid"] == proc.pid
        split = {"traffic": {"stable": 50, "canary": 50}, "mirror": {}}
        assert requests.put(url + "/_cloudserve/traffic", json=split, headers=AUTH, timeout=10).ok
        answer = requests.post(url + "/invocations", json={"instances": rows}, timeout=10)
        assert answer.ok and answer.headers["x-cloudserve-version"] in ("stable", "canary")
    finally:
        proc.kill()
        proc.wait(10)

    # Killed from outside: server.json is left behind; a restart restores the last state.
    assert (state / "server.json").exists()
    proc, url = start(state)
    try:
        st = requests.get(url + "/_cloudserve/state", headers=AUTH, timeout=10).json()
        assert st["traffic"] == {"stable": 50, "canary": 50}
        stop = requests.post(url + "/_cloudserve/shutdown", headers=AUTH, timeout=10)
        assert stop.ok
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (state / "server.json").exists()


def test_refuses_to_start_without_token(tmp_path: Path) -> None:
    (tmp_path / "endpoint.json").write_text("{}")
    result = subprocess.run(
        [sys.executable, "-m", "cloudserve.serving.local_server", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot start" in result.stderr
