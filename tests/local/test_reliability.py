"""Reliability of the local target under load, process death and concurrent applies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cloudserve.desired import build_desired
from cloudserve.errors import Conflict
from cloudserve.local.process import pid_alive
from cloudserve.local.provider import LocalProvider
from cloudserve.provider import Status
from cloudserve.testing.conformance import SAMPLE_INSTANCES, MakeSpec, pending_changes, wait

pytestmark = pytest.mark.slow


def pid_of(provider: LocalProvider, name: str) -> int:
    observed = provider.observe(name)
    assert observed is not None
    return int(observed.details["pid"])


THREADS = 4
REQUESTS_PER_THREAD = 300
HARD_CAP_SECONDS = 90.0  # a safety stop for a wedged server, not a timing assertion
SHIFTS = [
    {"stable": 100, "candidate": 0},
    {"stable": 50, "candidate": 50},
    {"stable": 0, "candidate": 100},
    {"stable": 100, "candidate": 0},
]


def _client_loop(url: str, results: list[Any], done: list[int], deadline: float) -> None:
    import requests

    body = {"instances": [SAMPLE_INSTANCES[0]]}
    with requests.Session() as session:
        for _ in range(REQUESTS_PER_THREAD):
            if time.monotonic() > deadline:
                results.append(("timeout", None))
                return
            try:
                resp = session.post(url, json=body, timeout=30)
                results.append((resp.status_code, resp.headers.get("X-Cloudserve-Version")))
            except Exception as exc:  # any failure is what this test counts
                results.append((type(exc).__name__, None))
            done[0] += 1


def test_load_through_traffic_shifts_has_zero_failures(
    local_provider: LocalProvider, make_spec: MakeSpec
) -> None:
    spec = make_spec("load", versions={"stable": "a", "candidate": "b"}, traffic=SHIFTS[0])
    wait(local_provider.create_endpoint(build_desired(spec, local_provider)))
    observed = local_provider.observe("load")
    assert observed is not None and observed.url
    results: list[Any] = []
    done = [0]
    deadline = time.monotonic() + HARD_CAP_SECONDS
    threads = [
        threading.Thread(target=_client_loop, args=(observed.url + "/invocations", results, done, deadline))
        for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    total = THREADS * REQUESTS_PER_THREAD
    # Shift at fixed shares of the requests served, so every split sees real load.
    for step, split in enumerate(SHIFTS[1:], 1):
        while done[0] < total * step // len(SHIFTS) and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        wait(local_provider.set_traffic("load", split, {}))
    for thread in threads:
        thread.join()
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: total}, statuses
    answered = Counter(version for _, version in results)
    assert set(answered) == {"stable", "candidate"}, answered


def test_killed_server_is_reported_stopped_and_brought_back(
    local_provider: LocalProvider, make_spec: MakeSpec, predictions: Any
) -> None:
    spec = make_spec("phoenix", versions={"stable": "a"}, traffic={"stable": 100})
    desired = build_desired(spec, local_provider)
    wait(local_provider.create_endpoint(desired))
    token = (local_provider.root / "phoenix" / "token").read_text()
    pid = pid_of(local_provider, "phoenix")
    os.kill(pid, signal.SIGKILL)
    for _ in range(500):  # wait for the kernel to take it down
        if not pid_alive(pid):
            break
        time.sleep(0.01)
    observed = local_provider.observe("phoenix")
    assert observed is not None
    assert observed.status is Status.STOPPED
    assert observed.versions["stable"].config_hash == desired.versions["stable"].config_hash
    assert any("create" in change for change in pending_changes(local_provider, spec))
    wait(local_provider.create_endpoint(desired))
    observed = local_provider.observe("phoenix")
    assert observed is not None and observed.status is Status.READY
    assert pid_of(local_provider, "phoenix") != pid
    assert (local_provider.root / "phoenix" / "token").read_text() == token
    result = local_provider.invoke("phoenix", {"instances": SAMPLE_INSTANCES})
    assert result.body["predictions"] == predictions("a", SAMPLE_INSTANCES)


_HOLDER = """
import sys
from cloudserve.local.provider import LocalProvider
provider = LocalProvider({"state_dir": sys.argv[1]})
with provider.lock("locked"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_second_lock_holder_waits_then_is_refused_naming_the_holder(state_root: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(state_root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        provider = LocalProvider({"state_dir": str(state_root)})
        with pytest.raises(Conflict) as info, provider.lock("locked", timeout=0.3):
            pass
        assert f"pid {holder.pid}" in str(info.value)
        # A waiter that is still waiting when the holder finishes gets the lock.
        acquired = threading.Event()

        def wait_for_lock() -> None:
            with provider.lock("locked", timeout=60):
                acquired.set()

        waiter = threading.Thread(target=wait_for_lock)
        waiter.start()
        assert not acquired.wait(0.3)
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        waiter.join(60)
        assert acquired.is_set()
    finally:
        holder.kill()
        holder.wait()


def test_two_concurrent_applies_serialize(local_provider: LocalProvider, make_spec: MakeSpec) -> None:
    from cloudserve import api

    spec = make_spec(
        "twice", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 90, "candidate": 10}
    )
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        provider = LocalProvider({"state_dir": str(local_provider.root)})
        try:
            results.append(api.apply(spec, provider=provider))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert sorted(r.changed for r in results) == [False, True]  # the second found nothing to do
    observed = local_provider.observe("twice")
    assert observed is not None and observed.status is Status.READY
    assert {k: v for k, v in observed.traffic.items() if v} == {"stable": 90, "candidate": 10}
