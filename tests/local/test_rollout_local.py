"""Rollouts on the local target, for real: server processes, loopback load, wall-clock bakes.

The core's controller is tested on a simulated clock against the in-memory target
(tests/core/test_rollout.py). Here the same controller drives a real local endpoint
while a bounded load generator keeps requests flowing, so the gates read the server's
own windowed metrics and every claim is checked against what callers actually saw
(the X-Cloudserve-Version header of each answer, failed or not).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cloudserve import api
from cloudserve import tags as T
from cloudserve.errors import Conflict, RolloutFailed
from cloudserve.local.provider import LocalProvider
from cloudserve.rollout.record import Lease, RolloutRecord, holder_id
from cloudserve.rollout.steps import step_splits
from cloudserve.testing.conformance import SAMPLE_INSTANCES

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FIRST_STEP = 10
ROLLOUT: dict[str, Any] = {
    "strategy": "canary",
    "steps": [FIRST_STEP, 50, 100],
    "bake": "2s",
    "gates": [{"metric": "error_rate", "max": 0.05, "min_requests": 20, "window": "3s"}],
}
POLL = 0.5
BAD_HANDLER = """
def load(model_dir):
    return None


def predict(model, instances):
    raise RuntimeError("the bad version fails every request")
"""


# --- a bounded loopback load generator ------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic() when the request left
    status: int | str  # HTTP status, or the exception's name
    version: str | None  # X-Cloudserve-Version of the answer


@dataclass
class Load:
    """A few threads with one requests.Session each, posting to 127.0.0.1 until stopped,
    the per-thread request cap is reached or the deadline passes: it always ends. Each
    thread is paced (at most ``rate`` requests/s) so the load stays modest on a shared
    machine and lasts as long as the slowest rollout here needs."""

    url: str
    threads: int = 3
    rate: float = 150.0
    cap_per_thread: int = 10_000
    seconds: float = 60.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        deadline = time.monotonic() + self.seconds
        self._workers = [threading.Thread(target=self._run, args=(deadline,)) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    def _run(self, deadline: float) -> None:
        import requests

        body = {"instances": [SAMPLE_INSTANCES[0]]}
        mine = self.answers  # list.append is atomic: the threads share one list
        with requests.Session() as session:
            for _ in range(self.cap_per_thread):
                if self._stop.is_set() or time.monotonic() > deadline:
                    break
                sent = time.monotonic()
                try:
                    resp = session.post(self.url, json=body, timeout=10)
                    mine.append(Answer(sent, resp.status_code, resp.headers.get("X-Cloudserve-Version")))
                except Exception as exc:  # every failure is counted, none is hidden
                    mine.append(Answer(sent, type(exc).__name__, None))
                self._stop.wait(max(0.0, sent + 1 / self.rate - time.monotonic()))

    def wait_for(self, count: int) -> None:
        """Until about ``count`` answers have come back (or the load has ended)."""
        while len(self.answers) < count and any(w.is_alive() for w in self._workers):
            time.sleep(0.05)


# --- the target, instrumented ------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    started: float
    finished: float
    traffic: dict[str, int]


class RecordingProvider(LocalProvider):
    """The local target, noting when each traffic change was made and each gate read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shifts: list[Shift] = []

    def set_traffic(self, name: str, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> Any:
        started = time.monotonic()
        op = super().set_traffic(name, traffic, mirror)
        self.shifts.append(Shift(started, time.monotonic(), dict(traffic)))
        return op


@pytest.fixture
def provider(local_provider: LocalProvider) -> Iterator[RecordingProvider]:
    """Same state root as ``local_provider``, whose teardown stops every server left."""
    yield RecordingProvider({"state_dir": str(local_provider.root)}, start_timeout=60)


@pytest.fixture
def bad_model(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "handler.py").write_text(BAD_HANDLER)
    return {"uri": str(folder), "framework": "custom", "format": "handler", "handler": "handler.py"}


def spec_doc(
    name: str, root: Path, models: dict[str, Any], candidate: dict[str, Any] | None, **rollout: Any
) -> dict[str, Any]:
    """Only ``stable`` at 100% without a candidate; with one, everything to the candidate."""
    versions: dict[str, Any] = {"stable": {"model": {"uri": str(models["a_path"])}}}
    traffic = {"stable": 100}
    if candidate is not None:
        versions["candidate"] = {"model": candidate}
        traffic = {"stable": 0, "candidate": 100}
    return {
        "metadata": {"name": name},
        "spec": {
            "target": "local",
            "versions": versions,
            "traffic": traffic,
            "rollout": {**ROLLOUT, **rollout},
        },
        "targets": {"local": {"state_dir": str(root)}},
    }


def deploy_stable(provider: RecordingProvider, name: str, models: dict[str, Any]) -> str:
    """The starting point of every rollout here: a running endpoint serving ``stable``."""
    api.apply(spec_doc(name, provider.root, models, None), provider=provider)
    observed = provider.observe(name)
    assert observed is not None and observed.url
    return observed.url + "/invocations"


def good_model(models: dict[str, Any]) -> dict[str, Any]:
    return {"uri": str(models["b_path"])}


def live(provider: RecordingProvider, name: str) -> dict[str, int]:
    observed = provider.observe(name)
    assert observed is not None
    return {k: v for k, v in observed.traffic.items() if v}


# --- (a) a healthy canary ----------------------------------------------------------------------


def test_healthy_canary_passes_every_step_and_ends_at_the_spec_split(
    provider: RecordingProvider, models: dict[str, Any]
) -> None:
    url = deploy_stable(provider, "healthy", models)
    spec = spec_doc("healthy", provider.root, models, good_model(models))
    with Load(url) as load:
        load.wait_for(50)
        result = api.apply(spec, provider=provider, poll_interval=POLL)
    rollout = result.rollout
    assert rollout is not None and rollout.state == "done", rollout
    assert [s.traffic["candidate"] for s in rollout.steps] == [10, 50, 100]
    for step in rollout.steps[:-1]:  # the baked steps each passed a conclusive gate
        assert [g.verdict.value for g in step.gates] == ["pass"]
        assert step.gates[0].requests is not None and step.gates[0].requests >= 20
        assert step.gates[0].window_seconds == 3
    assert live(provider, "healthy") == {"candidate": 100}
    assert [s.traffic for s in provider.shifts] == [s.traffic for s in rollout.steps]
    statuses = Counter(a.status for a in load.answers)
    assert statuses == {200: len(load.answers)}, statuses
    assert {a.version for a in load.answers} == {"stable", "candidate"}
    observed = provider.observe("healthy")
    assert observed is not None and T.ROLLOUT not in observed.tags and T.LEASE not in observed.tags
    assert api.apply(spec, provider=provider, poll_interval=POLL).applied == []


# --- (b) a bad canary under load rolls back ----------------------------------------------------


def binomial_ceiling(p: float, n: int, sigmas: float = 4.0) -> float:
    """The share a Binomial(n, p) stays under except with odds of about 1 in 30,000."""
    return p + sigmas * math.sqrt(p * (1 - p) / n)


def test_bad_canary_under_load_rolls_back_and_only_the_first_step_saw_it(
    provider: RecordingProvider, models: dict[str, Any], bad_model: dict[str, Any]
) -> None:
    url = deploy_stable(provider, "bad", models)
    spec = spec_doc("bad", provider.root, models, bad_model)
    with Load(url) as load:
        load.wait_for(50)
        with pytest.raises(RolloutFailed) as info:
            api.apply(spec, provider=provider, poll_interval=POLL)
        settled = time.monotonic()
        load.wait_for(len(load.answers) + 50)  # and traffic keeps flowing afterwards

    # Traffic went 100 -> 90/10 -> 100 on stable, and the new version was removed.
    assert [s.traffic for s in provider.shifts] == [
        {"stable": 90, "candidate": 10},
        {"stable": 100},
    ]
    canary_on, rolled_back = provider.shifts[0], provider.shifts[1]
    assert live(provider, "bad") == {"stable": 100}
    observed = provider.observe("bad")
    assert observed is not None and set(observed.versions) == {"stable"}

    # Callers: every failure came from the bad version; the stable one never failed.
    failed = [a for a in load.answers if a.status != 200]
    assert failed and {(a.status, a.version) for a in failed} == {(500, "candidate")}
    assert all(a.status == 200 for a in load.answers if a.version == "stable")
    # Only requests sent while the canary was live could reach it, at the first step's share.
    during = [a for a in load.answers if canary_on.started <= a.sent <= rolled_back.finished]
    bad = [a for a in load.answers if a.version == "candidate"]
    assert all(canary_on.started <= a.sent <= rolled_back.finished for a in bad)
    assert len(bad) / len(during) <= binomial_ceiling(FIRST_STEP / 100, len(during))
    assert all(a.version == "stable" and a.status == 200 for a in load.answers if a.sent > settled)

    # The reason: which gate, the value, the threshold, the window, the step.
    err = info.value
    assert err.exit_code == 3
    message = str(err)
    assert message.startswith("rollout rolled back: step 1 (candidate 10%, stable 90%): ")
    assert "gate error_rate <= 0.05: fail, saw 1 (threshold 0.05) over 3s" in message
    details = err.to_dict()["rollout"]
    assert isinstance(details, dict) and details["state"] == "rolledback" and details["failed_step"] == 1
    failure = details["failure"]
    assert failure["gate"] == "error_rate <= 0.05" and failure["value"] == 1.0
    assert failure["threshold"] == 0.05 and failure["window_seconds"] == 3
    assert failure["requests"] >= 20

    # Anyone can see it afterwards: status shows the record and its reason.
    status = api.status(spec, provider=provider)
    assert status.rollout is not None and status.rollout["state"] == "rolledback"
    assert "step 1 (candidate 10%, stable 90%)" in str(status.rollout["reason"])
    assert "error_rate <= 0.05: fail, saw 1" in str(status.rollout["reason"])
    assert status.lease is None and status.traffic == {"stable": 100}
    with pytest.raises(RolloutFailed, match="was rolled back"):  # not retried blindly
        api.apply(spec, provider=provider, poll_interval=POLL)


# --- (c) killed mid-way, resumed; (d) a concurrent apply is refused ------------------------------

_APPLY = """
import sys
from cloudserve import api
api.apply(sys.argv[1], poll_interval=float(sys.argv[2]), progress=lambda m: print(m, flush=True))
"""


def apply_in_subprocess(spec_path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", _APPLY, str(spec_path), str(POLL)], stdout=out, stderr=out, env=env
        )


def wait_until(condition: Any, proc: subprocess.Popen[bytes], log: Path, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail if the process ends first."""
    deadline = time.monotonic() + 120  # a safety stop, not a timing assertion
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        if proc.poll() is not None:
            pytest.fail(f"apply ended (rc {proc.returncode}) before {what}:\n{log.read_text()}")
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}:\n{log.read_text()}")


def write_spec(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML
    return path


def test_rollout_killed_mid_way_resumes_from_the_recorded_step(
    provider: RecordingProvider, models: dict[str, Any], tmp_path: Path
) -> None:
    url = deploy_stable(provider, "resumed", models)
    spec = write_spec(
        tmp_path / "resumed.yaml",
        # A bake long enough that a loaded machine still catches step 2 before it ends.
        spec_doc("resumed", provider.root, models, good_model(models), bake="8s"),
    )
    log = tmp_path / "apply.log"
    with Load(url) as load:
        load.wait_for(50)
        proc = apply_in_subprocess(spec, log)
        try:

            def baking_step_two() -> RolloutRecord | None:
                observed = provider.observe("resumed")
                record = RolloutRecord.from_tags(observed.tags) if observed else None
                traffic = live(provider, "resumed")
                return record if record and record.step == 1 and traffic.get("candidate") == 50 else None

            wait_until(baking_step_two, proc, log, "the bake of step 2")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

        # What the kill left behind: a running record at step 2, traffic it explains,
        # and the dead process's lease.
        observed = provider.observe("resumed")
        assert observed is not None
        record = RolloutRecord.from_tags(observed.tags)
        assert record is not None and (record.state, record.step) == ("running", 1), log.read_text()
        splits = step_splits(record.previous, record.target, list(record.steps))
        at_kill = {k: v for k, v in observed.traffic.items() if v}
        assert (
            at_kill
            == {k: v for k, v in splits[record.step].items() if v}
            == {
                "stable": 50,
                "candidate": 50,
            }
        )
        lease = Lease.decode(observed.tags.get(T.LEASE))
        assert lease is not None and lease.holder.endswith(f"-{proc.pid}") and lease.holder_gone()
        status = api.status(spec, provider=provider)
        assert status.rollout is not None and status.rollout["step"] == 2

        # The next apply (another process would do the same) carries on from step 2.
        result = api.apply(spec, provider=provider, poll_interval=POLL)
    rollout = result.rollout
    assert rollout is not None and rollout.state == "done"
    assert [s.step for s in rollout.steps] == [2, 3]  # resumed, not restarted
    assert [s.traffic for s in provider.shifts[-2:]] == [splits[1], splits[2]]
    assert live(provider, "resumed") == {"candidate": 100}
    assert all(a.status == 200 for a in load.answers)


def test_concurrent_apply_during_a_rollout_is_refused_naming_the_holder(
    provider: RecordingProvider, models: dict[str, Any], tmp_path: Path
) -> None:
    deploy_stable(provider, "busy", models)
    # No gates and a long bake: the rollout sits at its first step while we try.
    doc = spec_doc("busy", provider.root, models, good_model(models), bake="60s", gates=[])
    spec = write_spec(tmp_path / "busy.yaml", doc)
    log = tmp_path / "apply.log"
    proc = apply_in_subprocess(spec, log)
    try:

        def leased() -> Lease | None:
            observed = provider.observe("busy")
            at_first_step = observed is not None and observed.traffic.get("candidate") == 10
            return Lease.decode(observed.tags.get(T.LEASE)) if observed and at_first_step else None

        lease = wait_until(leased, proc, log, "the rollout's lease")
        holder = f"{holder_id().rpartition('-')[0]}-{proc.pid}"
        assert lease.holder == holder
        shifts = len(provider.shifts)
        with pytest.raises(Conflict) as info:
            api.apply(spec, provider=provider, poll_interval=POLL)
        # Refused while the rollout still runs (not queued behind it), naming the holder.
        assert proc.poll() is None
        assert f"another cloudserve process ({holder}) holds this deployment's lease" in str(info.value)
        assert info.value.exit_code == 5 and "rollout status" in (info.value.hint or "")
        assert len(provider.shifts) == shifts  # it changed nothing
        status = api.status(spec, provider=provider)
        assert status.lease is not None and status.lease["holder"] == holder
        assert status.rollout is not None and status.rollout["state"] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert live(provider, "busy") == {"stable": 90, "candidate": 10}  # still the step it was at
