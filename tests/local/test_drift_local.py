"""Drift monitoring on the local target, for real: the spec's ``monitoring.drift`` becomes
a schedule inside the endpoint's server process, which judges its own capture log.

The lifecycle test drives a real server through the public API: the schedule is
created with the endpoint, read back (an unchanged spec plans nothing), changed in place
(a threshold change is one update_endpoint, and the hash matches after), run now over a
few hundred real requests in which exactly one feature is shifted (that feature, and
only that one, drifts; the webhook, a loopback server here, gets the alert; the report
is on disk), and destroyed with the process. The schedule's own clock (runs firing in
the background thread, windows since the previous run) is tested in-process below.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from cloudserve import api
from cloudserve.desired import build_desired
from cloudserve.local.client import ServerClient
from cloudserve.local.process import ServerInfo, pid_alive
from cloudserve.local.provider import LocalProvider
from cloudserve.local.state import state_dir
from cloudserve.monitor.command import EXIT_DRIFT, monitor
from cloudserve.serving.capture import CaptureWriter
from cloudserve.serving.drift_schedule import DriftSchedule, ScheduleError
from cloudserve.spec.loader import load_one
from cloudserve.testing.webhook import webhook_receiver

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
MEANS = np.array([5.8, 3.0, 3.8, 1.2])
STDS = np.array([0.8, 0.4, 1.7, 0.75])
SHIFTED = "petal_length"
REQUESTS = 300
ROWS_PER_REQUEST = 5


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback webhook that records every JSON body posted to it."""
    with webhook_receiver("/drift") as received:
        yield received


def baseline_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(MEANS, STDS, size=(n, len(COLUMNS)))


def write_baseline(folder: Path) -> Path:
    path = folder / "data" / "train.csv"
    path.parent.mkdir(parents=True)
    rows = baseline_rows(np.random.default_rng(1), 5000)
    lines = [",".join(COLUMNS)] + [",".join(f"{v:.4f}" for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_spec(folder: Path, model: Path, state_root: Path, webhook: str, threshold: float) -> Path:
    """A spec file whose baseline is relative to its own folder, as users write them."""
    spec = folder / "deployment.yaml"
    spec.write_text(
        f"""apiVersion: cloudserve/v1
kind: Deployment
metadata: {{name: drifty}}
spec:
  target: local
  versions:
    stable: {{model: {{uri: "{model}"}}}}
  traffic: {{stable: 100}}
  capture: {{sample_percent: 100}}
  monitoring:
    drift:
      baseline: ./data/train.csv
      schedule: hourly
      threshold: {threshold}
      alert: {{webhook: "{webhook}"}}
targets:
  local: {{state_dir: "{state_root}"}}
"""
    )
    return spec


def admin_client(provider: LocalProvider, name: str) -> ServerClient:
    state = state_dir(provider.root, name)
    info = ServerInfo.read(state)
    assert info is not None
    return ServerClient(info.host, info.port, state.token())


# --- the lifecycle on a real server ----------------------------------------------------------


@pytest.mark.slow
def test_schedule_created_read_back_changed_run_and_destroyed(
    tmp_path: Path,
    state_root: Path,
    models: dict[str, Any],
    local_provider: LocalProvider,
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = hook
    baseline = write_baseline(tmp_path)
    spec = write_spec(tmp_path, models["a_path"], state_root, url, threshold=0.2)

    # Created: the plan says so, and apply starts the schedule with the endpoint.
    first = api.plan(str(spec), provider=local_provider)
    assert [a.key for a in first.actions] == ["create_endpoint"]
    assert any("drift schedule" in op for op in first.actions[0].operations)
    api.apply(str(spec), provider=local_provider)
    client = admin_client(local_provider, "drifty")
    schedule = client.admin("GET", "/monitoring")
    assert schedule["config"]["baseline"] == str(baseline.resolve())  # relative to the spec's folder
    assert schedule["config"]["schedule"] == "hourly" and schedule["config"]["threshold"] == 0.2
    assert schedule["next_run"] is not None and schedule["last_run"] is None
    assert url not in json.dumps(schedule)  # the webhook URL is a secret on chat services

    # Read back: the observed hash is the desired one, so an unchanged spec plans nothing.
    desired = build_desired(load_one(str(spec)), local_provider)
    observed = local_provider.observe("drifty")
    assert observed is not None and observed.monitoring_hash == desired.monitoring_hash
    assert not api.plan(str(spec), provider=local_provider).has_changes

    # Changed in place: a new threshold is one update_endpoint on the same process.
    pid = int(observed.details["pid"])
    spec = write_spec(tmp_path, models["a_path"], state_root, url, threshold=0.3)
    change = api.plan(str(spec), provider=local_provider)
    assert [a.key for a in change.actions] == ["update_endpoint"]
    assert "monitoring" in [c.field for c in change.actions[0].changes]
    api.apply(str(spec), provider=local_provider)
    desired = build_desired(load_one(str(spec)), local_provider)
    observed = local_provider.observe("drifty")
    assert observed is not None and observed.monitoring_hash == desired.monitoring_hash
    assert int(observed.details["pid"]) == pid
    assert client.admin("GET", "/monitoring")["config"]["threshold"] == 0.3
    assert not api.plan(str(spec), provider=local_provider).has_changes

    # Run now over real traffic: one feature shifted by 1.5 std, the rest from the baseline.
    rows = baseline_rows(np.random.default_rng(2), REQUESTS * ROWS_PER_REQUEST)
    rows[:, COLUMNS.index(SHIFTED)] += 1.5 * STDS[COLUMNS.index(SHIFTED)]
    for chunk in np.split(rows, REQUESTS):
        answer = local_provider.invoke("drifty", {"instances": chunk.round(4).tolist()})
        assert answer.status_code == 200
    run = client.admin("POST", "/monitoring/run", {})
    assert run["status"] == "drift" and run["rows"] == REQUESTS * ROWS_PER_REQUEST
    assert run["drifted_features"] == [SHIFTED]
    assert {n: f["status"] for n, f in run["features"].items()} == {
        c: "drift" if c == SHIFTED else "ok" for c in COLUMNS
    }
    assert run["alert"] == "sent"
    assert [[f["name"] for f in body["drifted_features"]] for body in received] == [[SHIFTED]]
    report = Path(run["report"])
    assert report.parent == state_dir(state_root, "drifty").path / "drift"
    assert json.loads((report / "report.json").read_text())["drifted_features"] == [SHIFTED]
    assert "<html" in (report / "report.html").read_text()[:200].lower()
    assert client.admin("GET", "/monitoring")["last_run"]["report"] == str(report)

    # The same verdict from the CLI, reading the deployment's capture folder through --spec.
    cli = CliRunner().invoke(monitor, ["run", "--spec", str(spec), "-o", "json"])
    assert cli.exit_code == EXIT_DRIFT, cli.output
    assert json.loads(cli.output)["drifted_features"] == [SHIFTED]

    # A killed server comes back with its schedule, keeping the cadence of the last run.
    os.kill(pid, signal.SIGKILL)
    for _ in range(500):
        if not pid_alive(pid):
            break
        time.sleep(0.01)
    stopped = local_provider.observe("drifty")
    assert stopped is not None and stopped.monitoring_hash == desired.monitoring_hash
    api.apply(str(spec), provider=local_provider)
    client = admin_client(local_provider, "drifty")
    resumed = client.admin("GET", "/monitoring")
    assert resumed["active"] and resumed["config"]["threshold"] == 0.3
    assert resumed["last_run"]["report"] == str(report)
    next_run = datetime.fromisoformat(resumed["next_run"]) - datetime.fromisoformat(run["run_at"])
    assert abs(next_run.total_seconds() - 3600) < 0.001  # one interval after the last run
    pid = int(client.state()["pid"])

    # Destroyed: the schedule goes with the process and the state directory.
    assert api.destroy(str(spec), provider=local_provider).deleted
    assert not pid_alive(pid)
    assert not state_dir(state_root, "drifty").path.exists()
    assert local_provider.observe("drifty") is None


@pytest.mark.slow
def test_drift_is_a_plan_time_problem_without_capture_or_baseline(
    tmp_path: Path, state_root: Path, models: dict[str, Any], local_provider: LocalProvider
) -> None:
    spec = write_spec(tmp_path, models["a_path"], state_root, "http://127.0.0.1:9/x", threshold=0.2)
    text = spec.read_text().replace("  capture: {sample_percent: 100}\n", "")
    spec.write_text(text.replace("schedule: hourly", "schedule: every tuesday"))
    with pytest.raises(Exception) as caught:
        api.plan(str(spec), provider=local_provider)
    message = str(caught.value) + str(getattr(caught.value, "problems", ""))
    assert "does not exist" in message  # no data/train.csv written
    assert "every tuesday" in message
    assert "spec.capture" in message


# --- the schedule's clock, in-process --------------------------------------------------------


def _config(baseline: Path, **extra: Any) -> dict[str, Any]:
    return {"baseline": str(baseline), "schedule": "hourly", "hash": "h1", **extra}


def _capture(writer: CaptureWriter, rows: np.ndarray) -> None:
    for row in rows:
        writer.record("stable", False, {"instances": [row.round(4).tolist()]}, {"predictions": [0]}, 1.0)


def test_each_run_judges_the_window_since_the_previous_one(tmp_path: Path) -> None:
    baseline = write_baseline(tmp_path)
    writer = CaptureWriter(tmp_path / "state" / "capture", 100)
    schedule = DriftSchedule(tmp_path / "state", lambda: writer)
    schedule.configure(_config(baseline))
    try:
        _capture(writer, baseline_rows(np.random.default_rng(3), 200))
        first = schedule.run_now()  # no previous run: one interval back; flushes the buffer
        assert first["status"] == "ok" and first["rows"] == 200
        second = schedule.run_now()
        assert second["status"] == "empty_window" and second["rows"] == 0
        assert second["since"] == first["run_at"]
        assert schedule.run_now(window="1h")["rows"] == 200  # an explicit window looks back
        assert len([p for p in (tmp_path / "state" / "drift").iterdir() if p.is_dir()]) == 3
    finally:
        schedule.close()


def test_the_background_thread_runs_on_schedule_and_stops(tmp_path: Path) -> None:
    baseline = write_baseline(tmp_path)
    writer = CaptureWriter(tmp_path / "state" / "capture", 100)
    schedule = DriftSchedule(tmp_path / "state", lambda: writer)
    schedule.configure(_config(baseline, schedule="1s"))
    assert schedule.run_now()["rows"] == 0  # marks the start of the next window
    _capture(writer, baseline_rows(np.random.default_rng(4), 50))
    latest = tmp_path / "state" / "drift" / "latest.json"

    def rows_judged() -> int:
        return int(json.loads(latest.read_text())["rows"])

    deadline = time.monotonic() + 30
    while rows_judged() != 50 and time.monotonic() < deadline:
        time.sleep(0.1)
    schedule.close()
    assert rows_judged() == 50  # judged by the thread, with nobody asking
    assert not schedule.status()["active"]


def test_a_restarted_schedule_keeps_the_cadence_of_the_recorded_last_run(tmp_path: Path) -> None:
    baseline = write_baseline(tmp_path)
    now = [1_000_000.0]
    schedule = DriftSchedule(tmp_path / "state", lambda: None, clock=lambda: now[0])
    schedule.configure(_config(baseline))
    assert schedule.next_run == now[0] + 3600  # first run one interval after start
    schedule.run_now()
    schedule.close()
    now[0] += 600
    again = DriftSchedule(tmp_path / "state", lambda: None, clock=lambda: now[0])
    again.configure(_config(baseline))
    assert again.next_run == now[0] - 600 + 3600
    now[0] += 7 * 3600  # down for hours: run at once, over everything since the last run
    again.configure(_config(baseline))
    assert again.next_run == now[0]
    again.close()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"baseline": "relative.csv"}, "absolute path"),
        ({"baseline": "/x.csv", "schedule": "every tuesday"}, "schedule"),
        ({"baseline": "/x.csv", "method": "magic"}, "method"),
        ({"baseline": "/x.csv", "threshold": "high"}, "monitoring"),
        ({"baseline": "/x.csv", "surprise": 1}, "unknown"),
        ([1, 2], "object"),
    ],
)
def test_bad_configs_are_refused_and_leave_the_schedule_as_it_was(
    tmp_path: Path, config: Any, message: str
) -> None:
    baseline = write_baseline(tmp_path)
    schedule = DriftSchedule(tmp_path / "state", lambda: None)
    schedule.configure(_config(baseline))
    with pytest.raises(ScheduleError, match=message):
        schedule.configure(config)
    assert schedule.config is not None and schedule.config.hash == "h1"
    schedule.close()
