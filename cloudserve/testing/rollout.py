"""Helpers for testing rollouts against an emulator without waiting for real.

Pass ``sleep=clock.sleep, clock=clock`` to :func:`cloudserve.executor.apply` (and to
``cloudserve.rollout.control.resume``): bake times and polls then advance simulated time
instead of the wall clock. Raise :class:`Killed` from a sleep hook to stand for the process
being killed mid-rollout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from cloudserve import tags as T
from cloudserve.errors import Conflict, RolloutFailed
from cloudserve.executor import ApplyResult, apply
from cloudserve.planner import make_plan
from cloudserve.provider import Provider
from cloudserve.rollout.record import Lease, RolloutRecord
from cloudserve.rollout.steps import step_splits
from cloudserve.spec.models import Deployment


class SimulatedClock:
    """Simulated time: sleeping advances it; nothing waits for real."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds

    @property
    def slept(self) -> float:
        """Total simulated seconds slept."""
        return sum(self.naps)


class Killed(BaseException):
    """Stands for the process being killed: only ``finally`` blocks run after it."""


# --- the rollout conformance suite ---------------------------------------------------------
CANARY = {
    "strategy": "canary",
    "steps": [10, 50, 100],
    "bake": "10m",
    "gates": [{"metric": "error_rate", "max": 0.01}, {"metric": "latency_p99_ms", "max": 300}],
}
BAKE = 600.0
FeedMetrics = Callable[[str, str, int, int, float], None]


class RolloutConformance:
    """Canary, rollback, resume and the lease on a target, on simulated time.

    Inherit in a target's tests and supply the fixtures ``provider`` and ``make_spec`` (as for
    :class:`cloudserve.testing.conformance.ProviderConformance`) and ``feed_metrics``:
    ``feed_metrics(deployment, version, requests, errors, latency_ms)`` puts that traffic
    into the target's metric store (CloudWatch, Cloud Monitoring, Azure Monitor...) so the
    gates read it through the provider's real ``metrics()``.
    """

    deployment = "rollout-check"

    @pytest.fixture
    def provider(self) -> Provider:
        raise NotImplementedError("the target's test class supplies a `provider` fixture")

    @pytest.fixture
    def make_spec(self) -> Callable[..., Deployment]:
        raise NotImplementedError("the target's test class supplies a `make_spec` fixture")

    @pytest.fixture
    def feed_metrics(self) -> FeedMetrics:
        raise NotImplementedError("the target's test class supplies a `feed_metrics` fixture")

    @pytest.fixture
    def clock(self) -> SimulatedClock:
        return SimulatedClock()

    @pytest.fixture
    def specs(
        self, provider: Provider, make_spec: Callable[..., Deployment], clock: SimulatedClock
    ) -> tuple[Deployment, Deployment]:
        """(deployed: stable 100%, candidate at 0% — applied; promoted: candidate 100%)."""
        versions = {"stable": "a", "candidate": "b"}
        base = make_spec(self.deployment, versions, {"stable": 100, "candidate": 0}, rollout=CANARY)
        self.run(provider, base, clock)
        return base, make_spec(self.deployment, versions, {"stable": 0, "candidate": 100}, rollout=CANARY)

    @staticmethod
    def run(
        provider: Provider,
        spec: Deployment,
        clock: SimulatedClock,
        sleep: Callable[[float], None] | None = None,
    ) -> ApplyResult:
        return apply(spec, provider, sleep=sleep or clock.sleep, clock=clock, poll_interval=30)

    def feed(self, feed_metrics: FeedMetrics, candidate_errors: int) -> None:
        feed_metrics(self.deployment, "stable", 1000, 2, 40.0)
        feed_metrics(self.deployment, "candidate", 1000, candidate_errors, 40.0)

    def traffic(self, provider: Provider) -> dict[str, int]:
        observed = provider.observe(self.deployment)
        assert observed is not None
        return {k: v for k, v in observed.traffic.items() if v}

    def tags(self, provider: Provider) -> dict[str, str]:
        observed = provider.observe(self.deployment)
        assert observed is not None
        return observed.tags

    def test_plan_says_the_controller_moves_traffic(
        self, specs: tuple[Deployment, Deployment], provider: Provider
    ) -> None:
        plan = make_plan(specs[1], provider)
        assert plan.rollout_mode == "client"
        assert (
            plan.rollout_reason == f"canary 10% -> 50% -> 100% by cloudserve's controller on {provider.name}"
        )

    def test_healthy_canary_passes_every_step(
        self,
        specs: tuple[Deployment, Deployment],
        provider: Provider,
        feed_metrics: FeedMetrics,
        clock: SimulatedClock,
    ) -> None:
        self.feed(feed_metrics, candidate_errors=2)
        started = clock.now
        result = self.run(provider, specs[1], clock)
        assert result.rollout is not None and result.rollout.state == "done"
        assert [s.traffic["candidate"] for s in result.rollout.steps] == [10, 50, 100]
        assert all(g.verdict == "pass" for s in result.rollout.steps[:2] for g in s.gates)
        assert self.traffic(provider) == {"candidate": 100}
        assert clock.now - started >= 2 * BAKE  # baked at 10% and at 50%
        assert not [k for k in self.tags(provider) if k.startswith((T.ROLLOUT, T.LEASE))]
        assert not make_plan(specs[1], provider).has_changes

    def test_unhealthy_canary_rolls_back_at_the_first_step(
        self,
        specs: tuple[Deployment, Deployment],
        provider: Provider,
        feed_metrics: FeedMetrics,
        clock: SimulatedClock,
    ) -> None:
        self.feed(feed_metrics, candidate_errors=200)
        with pytest.raises(RolloutFailed) as info:
            self.run(provider, specs[1], clock)
        text = str(info.value)
        assert "step 1 (candidate 10%, stable 90%)" in text
        assert "error_rate <= 0.01: fail, saw 0.2 (threshold 0.01) over 600s, 1000 requests" in text
        assert self.traffic(provider) == {"stable": 100}
        record = RolloutRecord.from_tags(self.tags(provider))
        assert record is not None and record.state == "rolledback" and "error_rate" in record.reason
        with pytest.raises(RolloutFailed, match="was rolled back"):  # the same spec is not retried blindly
            self.run(provider, specs[1], clock)

    def test_killed_rollout_resumes_from_the_recorded_step(
        self,
        specs: tuple[Deployment, Deployment],
        provider: Provider,
        feed_metrics: FeedMetrics,
        clock: SimulatedClock,
    ) -> None:
        self.feed(feed_metrics, candidate_errors=2)

        at_50: list[float] = []  # when the recorded step first read 1 (50%)

        def dying_sleep(seconds: float) -> None:
            # Killed half-way through the bake at 50%, judged by the record rather than by a
            # fixed amount of sleep: on a real (or rehearsed) clock under load, the gate at 10%
            # may wait longer for enough requests before the step moves.
            if not at_50:
                record = RolloutRecord.from_tags(self.tags(provider))
                if record is not None and record.step == 1:
                    at_50.append(clock.slept)
            elif clock.slept >= at_50[0] + BAKE / 2:
                raise Killed
            clock.sleep(seconds)

        with pytest.raises(Killed):
            self.run(provider, specs[1], clock, sleep=dying_sleep)
        record = RolloutRecord.from_tags(self.tags(provider))
        assert record is not None and (record.state, record.step) == ("running", 1)
        splits = step_splits(record.previous, record.target, list(record.steps))
        assert (
            self.traffic(provider)
            == {k: v for k, v in splits[1].items() if v}
            == {"stable": 50, "candidate": 50}
        )
        result = self.run(provider, specs[1], clock)
        assert result.rollout is not None and result.rollout.state == "done"
        assert [s.step for s in result.rollout.steps] == [2, 3]  # resumed, not restarted
        assert self.traffic(provider) == {"candidate": 100}

    def test_concurrent_apply_is_refused(
        self, specs: tuple[Deployment, Deployment], provider: Provider, clock: SimulatedClock
    ) -> None:
        other = Lease("ci-runner-7-4242", int(clock.now + BAKE))
        provider.write_tags(self.deployment, {T.LEASE: other.encode()})
        with pytest.raises(Conflict, match=r"another cloudserve process \(ci-runner-7-4242\) holds"):
            self.run(provider, specs[1], clock)
        assert self.traffic(provider) == {"stable": 100}
        assert self.tags(provider)[T.LEASE] == other.encode()  # their lease is left alone

    def test_largest_record_and_lease_fit_the_targets_tags(
        self, specs: tuple[Deployment, Deployment], provider: Provider
    ) -> None:
        """The longest record cloudserve writes (100 linear steps, 32-character version names,
        a reason at its cap) and a lease pass the target's tag rules, leave most tags to the
        user, and read back intact."""
        long_a, long_b = "a" * 25 + "-stable", "b" * 22 + "-candidate"
        record = RolloutRecord(
            state="rolledback",
            step=98,
            steps=tuple(range(1, 101)),
            spec_hash="f" * 64,
            previous={long_a: 100, long_b: 0},
            target={long_a: 0, long_b: 100},
            new_versions=(long_b,),
            reason="step 1 (candidate 10%, stable 90%): error_rate <= 0.01: fail, saw 0.2 " * 5,
        ).with_()
        written = {**record.to_tags(), T.LEASE: Lease("ci-runner-7-4242", int(time.time()) + 900).encode()}
        provider.write_tags(self.deployment, written)
        stored = self.tags(provider)
        kept = {k: v for k, v in written.items() if v is not None}
        assert {k: stored.get(k) for k in kept} == kept
        assert len([k for k in stored if k.startswith((T.ROLLOUT, T.LEASE))]) <= 20
        back = RolloutRecord.from_tags(stored)
        assert back is not None
        assert (back.state, back.steps, back.step, back.previous, back.target, back.new_versions) == (
            record.state,
            record.steps,
            record.step,
            record.previous,
            record.target,
            record.new_versions,
        )
        assert back.reason == record.reason[:147].rstrip() + "..."  # clipped to 150, marked
