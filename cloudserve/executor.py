"""Carry out a plan: each action in order, each waited on, each failure located.

Apply is idempotent: it re-plans from what the target reports, so the same spec applied
twice changes nothing the second time, and an apply that failed part-way converges on
the next run from wherever it stopped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cloudserve import tags as T
from cloudserve.errors import CloudServeError, Conflict
from cloudserve.planner import Action, Plan, make_plan
from cloudserve.provider import Operation, Provider
from cloudserve.rollout.controller import ProgressFn, RolloutResult
from cloudserve.spec.models import Deployment
from cloudserve.waiting import Backoff, call_with_retry, wait_for

if TYPE_CHECKING:
    from cloudserve.rollout.gates import CallableGate

DEFAULT_TIMEOUT = 3600.0


@dataclass
class ApplyResult:
    plan: Plan
    applied: list[Action] = field(default_factory=list)
    seconds: float = 0.0
    rollout: RolloutResult | None = None  # when a progressive rollout ran

    @property
    def changed(self) -> bool:
        return bool(self.applied)

    def __repr__(self) -> str:
        what = "; ".join(a.describe() for a in self.applied) or "no changes"
        rollout = f", rollout {self.rollout.state}" if self.rollout is not None else ""
        where = f"{self.plan.deployment} on {self.plan.target}"
        return f"<ApplyResult {where}: {what}{rollout} in {self.seconds:.1f}s>"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "deployment": self.plan.deployment,
            "target": self.plan.target,
            "changed": self.changed,
            "applied": [a.to_dict() for a in self.applied],
            "seconds": round(self.seconds, 3),
        }
        if self.rollout is not None:
            out["rollout"] = self.rollout.to_dict()
        return out


@contextlib.contextmanager
def deployment_lock(provider: Provider, name: str) -> Iterator[None]:
    """The target's own exclusive lock for a deployment, where it has one."""
    lock = getattr(provider, "lock", None)
    if lock is None:
        yield
        return
    with lock(name):
        yield


def run_action(provider: Provider, plan: Plan, action: Action) -> Operation:
    desired = plan.desired
    if action.key == "create_endpoint":
        return provider.create_endpoint(desired)
    if action.key == "delete_endpoint":
        return provider.delete_endpoint(desired.name)
    if action.key == "create_version":
        return provider.create_version(desired, desired.versions[action.subject])
    if action.key == "replace_version":
        return provider.replace_version(desired, desired.versions[action.subject])
    if action.key == "update_version":
        return provider.update_version(desired, desired.versions[action.subject])
    if action.key == "delete_version":
        return provider.delete_version(desired, action.subject)
    if action.key == "set_traffic":
        return provider.set_traffic(desired.name, desired.traffic, desired.mirror)
    if action.key == "update_endpoint":
        return provider.update_endpoint(desired)
    raise ValueError(f"unknown action {action.key}")


def _run_step(
    provider: Provider,
    plan: Plan,
    action: Action,
    step: str,
    deadline: float,
    progress: ProgressFn | None,
    sleep: Callable[[float], None] | None,
) -> None:
    def say(message: str) -> None:
        if progress:
            progress(f"{step}: {message}")

    op = call_with_retry(
        lambda: run_action(provider, plan, action),
        sleep=sleep,
        on_retry=lambda e, d: say(f"{type(e).__name__}, retrying in {d:.1f}s"),
    )
    wait_for(
        op,
        timeout=max(1.0, deadline - time.monotonic()),
        sleep=sleep,
        backoff=Backoff(base=1.0, cap=30.0),
        on_wait=lambda s: say(f"waiting ({s:.0f}s)"),
    )


def execute(
    provider: Provider,
    plan: Plan,
    *,
    actions: list[Action] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: ProgressFn | None = None,
    sleep: Callable[[float], None] | None = None,
) -> list[Action]:
    """Run ``actions`` (default: all of the plan's) in order; returns those applied."""
    todo = plan.actions if actions is None else actions
    done: list[Action] = []
    deadline = time.monotonic() + timeout
    for index, action in enumerate(todo, 1):
        step = f"step {index}/{len(todo)} ({action.describe()})"
        if progress:
            progress(f"{step}: started")
        try:
            _run_step(provider, plan, action, step, deadline, progress, sleep)
        except CloudServeError as exc:
            exc.message = f"{step} failed: {exc.message}"
            exc.args = (exc.message,)
            raise
        done.append(action)
        if progress:
            progress(f"{step}: done")
    return done


def _fingerprint(plan: Plan) -> tuple[Any, ...]:
    """What a plan promises: its actions with their field changes, and how traffic moves."""
    actions = tuple(
        (a.key, a.subject, tuple((c.field, repr(c.before), repr(c.after)) for c in a.changes))
        for a in plan.actions
    )
    native = plan.desired.native.description if plan.desired.native else None
    return plan.desired.spec_hash, plan.rollout_mode, native, actions


def _check_unmoved(shown: Plan, fresh: Plan) -> None:
    if _fingerprint(shown) == _fingerprint(fresh):
        return
    then = "; ".join(a.describe() for a in shown.actions) or "no changes"
    now = "; ".join(a.describe() for a in fresh.actions) or "no changes"
    raise Conflict(
        f"{shown.deployment} on {shown.target} changed since the plan was shown: it planned "
        f"[{then}]; it would now do [{now}]. Nothing was changed",
        hint="run plan (or apply) again and review the new plan",
        target=shown.target,
    )


def apply(
    deployment: Deployment,
    provider: Provider,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: ProgressFn | None = None,
    sleep: Callable[[float], None] | None = None,
    python_gates: Sequence[CallableGate] = (),
    poll_interval: float = 15.0,
    clock: Callable[[], float] | None = None,
    shown: Plan | None = None,
) -> ApplyResult:
    """Plan and carry out; traffic changes go through the rollout controller when the
    spec's rollout asks for steps (see :mod:`cloudserve.rollout.flow`). With ``shown`` (a
    plan a person or CI has seen), that plan is carried out as it is, once a fresh look at the
    target under the lock finds that it would plan the same: otherwise Conflict, and nothing
    changes."""
    from cloudserve.rollout.flow import run_with_rollout

    start = time.monotonic()
    with deployment_lock(provider, deployment.name):
        plan = make_plan(deployment, provider)
        if shown is not None:
            _check_unmoved(shown, plan)
            plan = shown
        applied, rollout = run_with_rollout(
            provider,
            plan,
            lambda actions: execute(
                provider, plan, actions=actions, timeout=timeout, progress=progress, sleep=sleep
            ),
            python_gates=python_gates,
            poll_interval=poll_interval,
            sleep=sleep,
            clock=clock,
            progress=progress,
        )
        if applied and plan.desired.tags.get(T.SPEC_HASH):
            call_with_retry(
                lambda: provider.write_tags(deployment.name, {T.SPEC_HASH: plan.desired.spec_hash}),
                sleep=sleep,
            )
    return ApplyResult(plan, applied, time.monotonic() - start, rollout)
