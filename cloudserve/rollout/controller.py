"""The client-side rollout controller: steps, bake time, gates, rollback, resume.

Every decision is recorded on the endpoint (see :mod:`cloudserve.rollout.record`) before
the traffic it implies is set, so a process killed at any point leaves a split that the
spec and the record explain, and any process can resume, promote or abort it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudserve import tags as T
from cloudserve.errors import Conflict, RolloutFailed, bounded
from cloudserve.provider import DesiredEndpoint, Provider, VersionMetrics
from cloudserve.rollout.gates import (
    CallableGate,
    GateContext,
    GateResult,
    Verdict,
    combine,
    evaluate_callable,
    evaluate_http_gate,
    evaluate_metric_gate,
)
from cloudserve.rollout.record import STATE_WORDS, Lease, RolloutRecord, clear_record_tags, holder_id
from cloudserve.rollout.steps import growing, step_splits
from cloudserve.spec.models import Rollout
from cloudserve.waiting import call_with_retry, wait_for

ProgressFn = Callable[[str], None]  # one line of progress for a person watching

DEFAULT_POLL = 15.0
MIN_WINDOW = 60.0


@dataclass
class StepResult:
    step: int
    traffic: dict[str, int]
    gates: list[GateResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "traffic": self.traffic, "gates": [g.to_dict() for g in self.gates]}


@dataclass
class RolloutResult:
    state: str  # done | rolledback | paused | aborted | promoted
    previous: dict[str, int]
    target: dict[str, int]
    steps: list[StepResult] = field(default_factory=list)
    failure: GateResult | None = None
    failed_step: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "previous": self.previous,
            "target": self.target,
            "steps": [s.to_dict() for s in self.steps],
            "failure": self.failure.to_dict() if self.failure else None,
            "failed_step": self.failed_step,
            "reason": self.reason,
        }


class RolloutController:
    """Moves one deployment's traffic from ``previous`` to the spec's split, step by step."""

    def __init__(
        self,
        provider: Provider,
        desired: DesiredEndpoint,
        *,
        python_gates: Sequence[CallableGate] = (),
        poll_interval: float = DEFAULT_POLL,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        progress: ProgressFn | None = None,
        holder: str | None = None,
    ) -> None:
        self.provider = provider
        self.desired = desired
        self.spec: Rollout = desired.deployment.spec.rollout
        self.python_gates = list(python_gates)
        self.poll = poll_interval
        self.sleep = sleep or time.sleep
        self.clock = clock or time.time
        self.progress = progress or (lambda _m: None)
        self.holder = holder or holder_id()
        self.name = desired.name

    # --- lease ---------------------------------------------------------------------------
    def acquire(self, tags: Mapping[str, str]) -> None:
        check_lease(tags, self.holder, self.clock())
        self.renew()

    def renew(self) -> None:
        lease = Lease(self.holder, int(self.clock() + self.spec.lease))
        call_with_retry(
            lambda: self.provider.write_tags(self.name, {T.LEASE: lease.encode()}), sleep=self.sleep
        )
        self._renewed = self.clock()

    def _keep_lease(self) -> None:
        """Renew once a third of the lease has passed: often enough to never lapse while we
        run, rarely enough that polling does not write a tag every time."""
        if self.clock() - getattr(self, "_renewed", 0.0) >= self.spec.lease / 3:
            self.renew()

    def release(self) -> None:
        call_with_retry(lambda: self.provider.write_tags(self.name, {T.LEASE: None}), sleep=self.sleep)

    # --- running ---------------------------------------------------------------------------
    def start(self, previous: Mapping[str, int], new_versions: Sequence[str] = ()) -> RolloutResult:
        record = RolloutRecord(
            state="running",
            step=0,
            steps=tuple(self.spec.step_percents()),
            spec_hash=self.desired.spec_hash,
            previous=dict(previous),
            target=dict(self.desired.traffic),
            new_versions=tuple(new_versions),
        )
        return self.run(record)

    def run(self, record: RolloutRecord) -> RolloutResult:
        splits = step_splits(record.previous, record.target, list(record.steps))
        result = RolloutResult("running", record.previous, record.target)
        if record.state in ("abort", "promote"):  # asked of a controller that has since died
            return self._obey(record, result, record.state)
        for index in range(min(record.step, len(splits) - 1), len(splits)):
            record = record.with_(state="running", step=index)
            self._write(record)  # the record first, then the traffic it explains
            self._set_traffic(splits[index])
            self.progress(f"rollout step {index + 1}/{len(splits)}: traffic {_fmt(splits[index])}")
            step = StepResult(index + 1, splits[index])
            result.steps.append(step)
            if index == len(splits) - 1:
                break
            try:
                outcome = self._bake_and_judge(record, step)
            except Exception as exc:  # retries are spent, or a bug: do not strand the canary
                return self._give_up(record, result, step, exc)
            if outcome is not None:
                return self._stop(record, result, outcome, step)
        self._write_tags(clear_record_tags())
        result.state = "done"
        self.progress("rollout done: traffic " + _fmt(record.target))
        return result

    def _bake_and_judge(self, record: RolloutRecord, step: StepResult) -> str | GateResult | None:
        """None to go on; a GateResult that failed; or a control request (pause/abort/promote)."""
        bake = self.spec.bake
        window = max(bake, MIN_WINDOW)
        started = self.clock()
        deadline_inconclusive = started + bake + max(bake, MIN_WINDOW) * 2
        if bake < MIN_WINDOW and any(g.metric and not g.window for g in self.spec.gates):
            self.progress(
                f"  baking {bake:g}s; metric gates read the last {MIN_WINDOW:g}s, the shortest "
                "window the targets' metrics resolve (they arrive per minute)"
            )
        while True:
            request = self._control_request()
            if request:
                return request
            elapsed = self.clock() - started
            if elapsed < bake:
                self._nap(min(self.poll, bake - elapsed))
                continue
            results = self.evaluate(step.traffic, window, record)
            step.gates = results
            failed = next((g for g in results if g.verdict is Verdict.FAIL), None)
            pending = next((g for g in results if g.verdict is Verdict.INCONCLUSIVE), None)
            if failed is not None or pending is None:  # decided: each gate's verdict, once
                for r in results:
                    self.progress("  " + r.describe())
                return failed
            if self.clock() >= deadline_inconclusive:
                return GateResult(
                    pending.gate,
                    Verdict.FAIL,
                    pending.value,
                    pending.threshold,
                    pending.window_seconds,
                    pending.requests,
                    detail=f"still inconclusive after {self.clock() - started:.0f}s: {pending.detail}",
                )
            self.progress(f"  waiting for data: {pending.describe()}")
            self._nap(self.poll)

    def _nap(self, seconds: float) -> None:
        self.sleep(max(0.0, seconds))
        self._keep_lease()

    def evaluate(self, traffic: Mapping[str, int], window: float, record: RolloutRecord) -> list[GateResult]:
        grow = growing(record.previous, record.target)
        shrink = [v for v in record.previous if v not in grow and record.previous.get(v, 0) > 0]
        names = sorted(set(grow) | set(shrink))
        reads: dict[float, dict[str, VersionMetrics]] = {}

        def read(seconds: float) -> tuple[dict[str, VersionMetrics], VersionMetrics, VersionMetrics]:
            """One metrics read per distinct window: a gate's own window is the one it judges."""
            if seconds not in reads:
                reads[seconds] = call_with_retry(
                    lambda: self.provider.metrics(self.name, names, seconds), sleep=self.sleep
                )
            got = reads[seconds]
            zero = VersionMetrics(0, 0)
            return got, combine([got.get(v, zero) for v in grow]), combine([got.get(v, zero) for v in shrink])

        results = [
            evaluate_http_gate(g.http)
            if g.http
            else evaluate_metric_gate(g, *read(g.window or window)[1:], g.window or window)
            for g in self.spec.gates
        ]
        if self.python_gates:
            metrics, _, stable_m = read(window)
            context = GateContext(
                self.name,
                record.step + 1,
                dict(traffic),
                {v: metrics.get(v, VersionMetrics(0, 0)) for v in grow},
                stable_m,
                window,
            )
            results += [evaluate_callable(g, context) for g in self.python_gates]
        return results

    def _stop(
        self, record: RolloutRecord, result: RolloutResult, outcome: str | GateResult, step: StepResult
    ) -> RolloutResult:
        if isinstance(outcome, str):
            return self._obey(record, result, outcome)
        result.failure, result.failed_step = outcome, step.step
        result.reason = f"step {step.step} ({_fmt(step.traffic)}): {outcome.describe()}"
        if self.spec.on_failure == "pause":
            self._write(record.with_(state="paused", reason=result.reason))
            result.state = "paused"
            return result
        self.rollback(record, result.reason)
        result.state = "rolledback"
        return result

    def _give_up(
        self, record: RolloutRecord, result: RolloutResult, step: StepResult, exc: Exception
    ) -> RolloutResult:
        """An error the rollout cannot get past, met while traffic is split: traffic back on
        the previous split and the record says why, so nothing is left "running" for every
        later apply to trip over. If even the rollback fails, the record stays running (a
        resume or abort can finish it) and the first error is raised, naming both."""
        why = bounded(f"{type(exc).__name__}: {exc}", limit=300)
        result.failed_step = step.step
        result.reason = f"step {step.step} ({_fmt(step.traffic)}): could not judge the gates: {why}"
        try:
            self.rollback(record, result.reason)
        except Exception as second:
            raise RolloutFailed(
                f"{result.reason}; rolling back failed too: {bounded(str(second), limit=300)}",
                hint="traffic may still be split; run `cloudserve rollout abort` once the target answers",
                details={"rollout": result.to_dict()},
            ) from exc
        result.state = "rolledback"
        return result

    def _obey(self, record: RolloutRecord, result: RolloutResult, request: str) -> RolloutResult:
        if request == "pause":
            result.state, result.reason = "paused", "paused by request"
        elif request == "abort":
            self.rollback(record, "aborted by request", state="aborted")
            result.state, result.reason = "aborted", "aborted by request"
        else:
            self.promote(record)
            result.state, result.reason = "promoted", "promoted by request"
        return result

    def promote(self, record: RolloutRecord) -> None:
        """All the way to the rollout's target split now; the record is done, so it goes."""
        self._set_traffic(record.target)
        self._write_tags(clear_record_tags())

    def rollback(self, record: RolloutRecord, reason: str, state: str = "rolledback") -> None:
        """Traffic back to the previous split at once; then remove versions this rollout added."""
        self._set_traffic(record.previous)
        self._write(record.with_(state=state, reason=reason))
        self.progress(f"rolled back to {_fmt(record.previous)}: {reason}")
        if not self.spec.keep_failed_version:
            for version in record.new_versions:
                if record.previous.get(version, 0) == 0:
                    op = call_with_retry(
                        lambda v=version: self.provider.delete_version(self.desired, v),  # type: ignore[misc]
                        sleep=self.sleep,
                    )
                    wait_for(op, timeout=3600, sleep=self.sleep)

    def _control_request(self) -> str | None:
        tags = call_with_retry(lambda: self.provider.read_tags(self.name), sleep=self.sleep)
        record = RolloutRecord.from_tags(tags) if tags is not None else None
        if record and record.state in ("paused", "abort", "promote"):
            return {"paused": "pause"}.get(record.state, record.state)
        return None

    def _set_traffic(self, split: Mapping[str, int]) -> None:
        mirror = self.desired.mirror
        op = call_with_retry(lambda: self.provider.set_traffic(self.name, split, mirror), sleep=self.sleep)
        wait_for(op, timeout=3600, sleep=self.sleep)

    def _write(self, record: RolloutRecord) -> None:
        self._write_tags(record.with_().to_tags())

    def _write_tags(self, tags: Mapping[str, str | None]) -> None:
        call_with_retry(lambda: self.provider.write_tags(self.name, tags), sleep=self.sleep)


def check_lease(tags: Mapping[str, str], holder: str, now: float | None = None) -> None:
    lease = Lease.decode(tags.get(T.LEASE))
    if lease is not None and lease.active(now) and lease.holder != holder and not lease.holder_gone():
        left = lease.expires - (time.time() if now is None else now)
        raise Conflict(
            f"another cloudserve process ({lease.holder}) holds this deployment's lease for "
            f"{left:.0f}s more; refusing to change it at the same time",
            hint="wait for it to finish, or check it with `cloudserve rollout status`",
        )


def rollout_failed(result: RolloutResult) -> RolloutFailed:
    verb = STATE_WORDS.get(result.state, result.state)
    hint = (
        "run `cloudserve rollout resume`, `promote` or `abort`"
        if result.state == "paused"
        else "fix the new version and change the spec, or run `cloudserve rollout abort` to clear the record"
    )
    return RolloutFailed(f"rollout {verb}: {result.reason}", hint=hint, details={"rollout": result.to_dict()})


def _fmt(split: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}%" for k, v in sorted(split.items()) if v) or "none"
