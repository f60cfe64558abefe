"""How apply hands a traffic change to the rollout controller, and resumes one in flight."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cloudserve.errors import Conflict, NotSupported, RolloutFailed
from cloudserve.planner import Action, Plan
from cloudserve.provider import Provider
from cloudserve.rollout.controller import (
    ProgressFn,
    RolloutController,
    RolloutResult,
    check_lease,
    rollout_failed,
)
from cloudserve.rollout.gates import CallableGate
from cloudserve.rollout.record import STATE_WORDS, RolloutRecord, clear_record_tags
from cloudserve.rollout.steps import growing

BEFORE = ("create_version", "replace_version", "update_version")
AFTER = ("delete_version", "update_endpoint")


def needs_controller(plan: Plan) -> bool:
    """A client-side rollout runs when the spec asks for steps, traffic moves towards some
    version, and the target does not carry the rollout out natively."""
    if plan.observed is None or plan.rollout_mode != "client":
        return False
    return any(a.key == "set_traffic" for a in plan.actions) and bool(
        growing(plan.observed.traffic, plan.desired.traffic)
    )


def check_record(plan: Plan, record: RolloutRecord | None) -> RolloutRecord | None:
    """The record to resume, None to start afresh; raises where a person must decide."""
    if record is None:
        return None
    same = plan.desired.spec_hash.startswith(record.spec_hash)
    where = f"rollout of {plan.deployment}"
    if record.state == "paused" and same:
        raise Conflict(
            f"{where} is paused at step {record.step + 1}: {record.reason or 'by request'}",
            hint="run `cloudserve rollout resume`, `promote` or `abort`",
        )
    if record.state in ("rolledback", "aborted") and same:
        # The record keeps the same spec from being retried blindly; the hint says what
        # each way forward does, since `rollout abort` on a finished rollout clears it.
        hint = (
            "fix the new version and change the spec; or, to retry this same spec, clear the "
            "record with `cloudserve rollout abort`"
            if record.state == "rolledback"
            else "it was aborted on request; to apply this same spec again, clear the record "
            "with `cloudserve rollout abort` (it clears a finished rollout), or change the spec"
        )
        raise RolloutFailed(
            f"{where} of this spec was {STATE_WORDS.get(record.state, record.state)}: {record.reason}",
            hint=hint,
            details={"rollout": record.to_dict()},
        )
    if record.state in ("running", "promote", "abort") and same:
        return record
    return None


def run_with_rollout(
    provider: Provider,
    plan: Plan,
    execute: Callable[[list[Action]], list[Action]],
    *,
    python_gates: Sequence[CallableGate] = (),
    poll_interval: float = 15.0,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    progress: ProgressFn | None = None,
) -> tuple[list[Action], RolloutResult | None]:
    """Apply ``plan``; traffic moves through the controller when the spec asks for it."""
    observed = plan.observed
    controller = RolloutController(
        provider,
        plan.desired,
        python_gates=python_gates,
        poll_interval=poll_interval,
        sleep=sleep,
        clock=clock,
        progress=progress,
    )
    if observed is not None:
        check_lease(observed.tags, controller.holder, controller.clock())
    record = RolloutRecord.from_tags(observed.tags) if observed else None
    resume = check_record(plan, record)
    if python_gates and plan.rollout_mode == "native":
        raise NotSupported(
            f"Python gates cannot run inside {provider.name}'s native rollout ({plan.rollout_reason})",
            hint="express the check as a metric or http gate in the spec, or drop the Python gates",
        )
    if resume is None and not needs_controller(plan):
        if record is not None and observed is not None and plan.actions:
            provider.write_tags(plan.deployment, clear_record_tags())  # superseded by this spec
        return execute(plan.actions), None
    assert observed is not None
    controller.acquire(observed.tags)
    try:
        before = [a for a in plan.actions if a.key in BEFORE]
        after = [a for a in plan.actions if a.key in AFTER]
        done = execute(before)
        if resume is not None:
            progress and progress(f"resuming the rollout at step {resume.step + 1}")
            result = controller.run(resume)
        else:
            previous = record.previous if record is not None else dict(observed.traffic)
            new = [a.subject for a in before if a.key == "create_version"]
            result = controller.start(previous, new)
        traffic = [a for a in plan.actions if a.key == "set_traffic"]
        if result.state == "paused" and result.failure is None:
            return done, result  # paused by a person: not a failure; traffic waits at the step
        if result.state not in ("done", "promoted"):
            raise rollout_failed(result)
        done += traffic + execute(after)
        return done, result
    finally:
        controller.release()
