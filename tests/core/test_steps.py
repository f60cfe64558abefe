"""The one step runner every cloud provider uses, and its retry rule (cloudserve.steps)."""

from __future__ import annotations

from typing import Any

import pytest

from cloudserve.errors import Throttled
from cloudserve.steps import Context, Pending, StepOperation


class FakeLongRunning(Pending):
    def __init__(self, value: Any, polls: int, faults: list[Exception] | None = None) -> None:
        self.value, self.polls, self.faults, self.asked = value, polls, faults or [], 0

    def done(self) -> bool:
        self.asked += 1
        if self.faults:
            raise self.faults.pop(0)
        self.polls -= 1
        return self.polls < 0

    def result(self) -> Any:
        return self.value


def pending(what: str, result: Any) -> Pending | None:
    return result if isinstance(result, Pending) else None


def poll_like_the_core(op: StepOperation) -> int:
    """Poll until done, retrying a Throttled poll as the executor does; the retries seen."""
    retries = 0
    for _ in range(100):
        try:
            if op.poll():
                return retries
        except Throttled:
            retries += 1
    raise AssertionError("never finished")


def test_a_step_that_raised_runs_again_and_the_ones_before_do_not() -> None:
    ran: list[str] = []
    faults = [Throttled("429 on deploy")]

    def step(name: str) -> Any:
        def run(context: Context) -> str:
            ran.append(name)
            if name == "deploy" and faults:
                raise faults.pop(0)
            return f"{name} done"

        return run

    op = StepOperation("create", [(n, step(n)) for n in ("upload", "deploy", "traffic")], pending=pending)
    assert poll_like_the_core(op) == 1
    assert ran == ["upload", "deploy", "deploy", "traffic"]  # nothing skipped, nothing repeated
    assert op.context == {"upload": "upload done", "deploy": "deploy done", "traffic": "traffic done"}


def test_a_long_running_result_is_waited_on_and_a_failed_wait_is_asked_again() -> None:
    upload = FakeLongRunning("models/7", polls=2, faults=[Throttled("429 polling")])
    started: list[str] = []

    def start_upload(context: Context) -> Pending:
        started.append("upload")
        return upload

    def deploy(context: Context) -> str:
        started.append("deploy")
        return f"deployed {context['upload']}"

    op = StepOperation("create", [("upload", start_upload), ("deploy", deploy)], pending=pending)
    assert op.remaining == ["upload", "deploy"]
    with pytest.raises(Throttled):  # the first poll starts the upload; asking about it fails
        op.poll()
    assert op.remaining == ["upload", "deploy"]  # still waited on, not started anew or skipped
    assert poll_like_the_core(op) == 0
    assert started == ["upload", "deploy"]  # the upload was not started twice
    assert op.context["deploy"] == "deployed models/7" and upload.asked == 4


def test_steps_added_while_running_and_errors_translated_by_the_guard() -> None:
    import contextlib

    @contextlib.contextmanager
    def guard(what: str) -> Any:
        try:
            yield
        except KeyError as exc:
            raise Throttled(f"{what}: {exc}") from exc

    calls = {"n": 0}

    def flaky(context: Context) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError("sdk error")

    op = StepOperation("delete", [("list", lambda ctx: ["m1", "m2"])], guard=guard)
    op.then("delete models", lambda ctx: [op.then(f"delete {m}", flaky) for m in ctx["list"]])
    assert poll_like_the_core(op) == 1 and calls["n"] == 3
    assert set(op.context) == {"list", "delete models", "delete m1", "delete m2"}
    with pytest.raises(Throttled, match="x: 'sdk error'"):
        StepOperation("d", [("x", lambda ctx: {}["sdk error"])], guard=guard).poll()
