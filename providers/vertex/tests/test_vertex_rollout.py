"""Progressive delivery on the Vertex AI emulator (issue 7, item 6), on a simulated clock.

Vertex AI has no canary of its own, so the core's controller moves ``trafficSplit`` step by
step, reads the gates from Cloud Monitoring (fed here with
:meth:`VertexEmulator.record_predictions`) and keeps its record and lease in endpoint
labels, which the emulator checks against Vertex AI's label rules on every write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from cloudserve_vertex import translate
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.testing import VertexEmulator

from cloudserve import tags as T
from cloudserve.errors import Conflict, ProviderError, RolloutFailed
from cloudserve.executor import ApplyResult, apply
from cloudserve.planner import make_plan
from cloudserve.provider import Support
from cloudserve.rollout.record import Lease, RolloutRecord, holder_id
from cloudserve.rollout.steps import step_splits
from cloudserve.spec.models import Deployment
from cloudserve.testing.rollout import Killed
from cloudserve.testing.rollout import SimulatedClock as Clock

MakeSpec = Callable[..., Deployment]
NAME = "churn"
CANARY = {
    "strategy": "canary",
    "steps": [10, 50, 100],
    "bake": "10m",
    "gates": [{"metric": "error_rate", "max": 0.01}, {"metric": "latency_p99_ms", "max": 300}],
}
BAKE = 600.0


def run(spec: Deployment, provider: VertexProvider, clock: Clock, **kw: Any) -> ApplyResult:
    return apply(spec, provider, sleep=clock.sleep, clock=clock, poll_interval=30, **kw)


def labels(emulator: VertexEmulator) -> dict[str, str]:
    endpoint = next(e for n, e in emulator.endpoints.items() if n.endswith(f"/endpoints/{NAME}"))
    return dict(endpoint.labels)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def specs(make_spec: MakeSpec, provider: VertexProvider, clock: Clock) -> tuple[Deployment, Deployment]:
    """(deployed: stable 100%, candidate 0%; promoted: candidate 100%), the first applied."""
    versions = {"stable": "a", "candidate": "b"}
    base = make_spec(NAME, versions, {"stable": 100, "candidate": 0}, rollout=CANARY)
    run(base, provider, clock)
    return base, make_spec(NAME, versions, {"stable": 0, "candidate": 100}, rollout=CANARY)


def feed(emulator: VertexEmulator, candidate_errors: int) -> None:
    """1000 predictions per version in Cloud Monitoring, 40 ms each."""
    emulator.record_predictions(NAME, "stable", count=1000, errors=2, latency_ms=40)
    emulator.record_predictions(NAME, "candidate", count=1000, errors=candidate_errors, latency_ms=40)


def test_plan_says_the_controller_moves_traffic(
    specs: tuple[Deployment, Deployment], provider: VertexProvider
) -> None:
    plan = make_plan(specs[1], provider)
    assert plan.rollout_mode == "client"
    assert plan.rollout_reason == "canary 10% -> 50% -> 100% by cloudserve's controller on vertex"
    rollout = plan.capabilities["rollout"]
    assert rollout.support is Support.EMULATED
    assert rollout.reason.startswith("Vertex AI has no canary")


def test_healthy_canary_passes_every_step(
    specs: tuple[Deployment, Deployment], provider: VertexProvider, emulator: VertexEmulator, clock: Clock
) -> None:
    feed(emulator, candidate_errors=2)
    result = run(specs[1], provider, clock)
    assert result.rollout.state == "done"
    assert [s.traffic["candidate"] for s in result.rollout.steps] == [10, 50, 100]
    assert all(g.verdict.value == "pass" for s in result.rollout.steps[:2] for g in s.gates)
    observed = provider.observe(NAME)
    assert observed is not None and observed.traffic == {"stable": 0, "candidate": 100}
    assert clock.slept >= 2 * BAKE  # baked at 10% and at 50%
    assert not [k for k in labels(emulator) if k.startswith((T.ROLLOUT, T.LEASE))]
    assert not make_plan(specs[1], provider).actions


def test_unhealthy_canary_rolls_back_at_the_first_step(
    specs: tuple[Deployment, Deployment], provider: VertexProvider, emulator: VertexEmulator, clock: Clock
) -> None:
    feed(emulator, candidate_errors=200)
    with pytest.raises(RolloutFailed) as info:
        run(specs[1], provider, clock)
    text = str(info.value)
    assert "step 1 (candidate 10%, stable 90%)" in text
    assert "error_rate <= 0.01: fail, saw 0.2 (threshold 0.01) over 600s, 1000 requests" in text
    observed = provider.observe(NAME)
    assert observed is not None and observed.traffic == {"stable": 100, "candidate": 0}
    record = RolloutRecord.from_tags(labels(emulator))
    assert record is not None and record.state == "rolledback" and "error_rate" in record.reason
    assert T.LEASE not in labels(emulator)
    with pytest.raises(RolloutFailed, match="was rolled back"):  # not retried blindly
        run(specs[1], provider, clock)


def test_killed_rollout_resumes_from_the_recorded_step(
    specs: tuple[Deployment, Deployment], provider: VertexProvider, emulator: VertexEmulator, clock: Clock
) -> None:
    feed(emulator, candidate_errors=2)

    def dying_sleep(seconds: float) -> None:
        if clock.slept >= BAKE + BAKE / 2:  # half-way through the bake at 50%
            raise Killed
        clock.sleep(seconds)

    with pytest.raises(Killed):
        apply(specs[1], provider, sleep=dying_sleep, clock=clock, poll_interval=30)
    record = RolloutRecord.from_tags(labels(emulator))
    assert record is not None and record.state == "running" and record.step == 1
    observed = provider.observe(NAME)
    assert observed is not None
    assert observed.traffic == {"stable": 50, "candidate": 50}
    assert observed.traffic in step_splits(record.previous, record.target, list(record.steps))
    assert T.LEASE not in labels(emulator)  # released on the way out (a SIGKILL would leave it)
    before = len(emulator.requests)
    result = run(specs[1], provider, clock)
    assert result.rollout.state == "done"
    assert [s.step for s in result.rollout.steps] == [2, 3]  # resumed, not restarted
    assert _traffic_patches(emulator, before) == 1  # 50% is already set; only 100% moves
    observed = provider.observe(NAME)
    assert observed is not None and observed.traffic == {"stable": 0, "candidate": 100}


def _traffic_patches(emulator: VertexEmulator, since: int) -> int:
    return sum(n for call, n in emulator.call_counts(since).items() if call.endswith("=trafficSplit"))


def test_concurrent_apply_is_refused(
    specs: tuple[Deployment, Deployment], provider: VertexProvider, emulator: VertexEmulator, clock: Clock
) -> None:
    other = Lease("ci-runner-7-4242", int(clock.now + 600))
    provider.write_tags(NAME, {T.LEASE: other.encode()})
    with pytest.raises(Conflict, match=r"another cloudserve process \(ci-runner-7-4242\) holds"):
        run(specs[1], provider, clock)
    observed = provider.observe(NAME)
    assert observed is not None and observed.traffic == {"stable": 100, "candidate": 0}
    assert labels(emulator)[T.LEASE] == other.encode()  # the holder's lease is left alone


# --- the record and lease as Vertex AI labels ----------------------------------------------------


def test_emulator_enforces_label_rules_on_endpoint_writes(
    specs: tuple[Deployment, Deployment], provider: VertexProvider, emulator: VertexEmulator
) -> None:
    """Straight to the API, past the provider's own check: the emulator refuses what Vertex
    AI refuses (keys and values of at most 63 lowercase letters, digits, '_' and '-', a key
    starting with a letter, at most 64 labels)."""
    from cloudserve_vertex.client import v1

    endpoint = provider.client.get_endpoint(provider.client.endpoint_name(NAME))
    current = dict(endpoint.labels)
    bad = [
        {"cloudserve-rollout": "x" * 64},
        {"x" * 64: "v"},
        {"cloudserve-rollout": "Running"},
        {"1rollout": "v"},
        {"cloudserve-rollout": "a=b"},
        {f"k{i}": "v" for i in range(65 - len(current))},
    ]
    for extra in bad:
        body = v1().Endpoint(name=endpoint.name, labels={**current, **extra})
        with pytest.raises(ProviderError, match="label"):
            provider.client.update_endpoint(body, ["labels"])
    assert labels(emulator) == current
    fits = {f"k{i}": "v" * 63 for i in range(64 - len(current))}
    provider.client.update_endpoint(v1().Endpoint(name=endpoint.name, labels={**current, **fits}), ["labels"])
    assert len(labels(emulator)) == 64


def test_largest_record_and_lease_fit_vertex_labels(
    specs: tuple[Deployment, Deployment], provider: VertexProvider, emulator: VertexEmulator
) -> None:
    """The longest record cloudserve writes (100 linear steps, long version names, a reason at
    its 150-character cap) and a lease pass the emulator's label rules with room to spare.
    (Before the steps had their own label, more than about five steps overflowed the head.)"""
    long_a, long_b = "a" * 20 + "-stable", "b" * 20 + "-candidate"
    record = RolloutRecord(
        state="rolledback",
        step=98,
        steps=tuple(range(1, 101)),  # linear, increment: 1
        spec_hash="f" * 64,
        previous={long_a: 100, long_b: 0},
        target={long_a: 0, long_b: 100},
        new_versions=(long_b,),
        reason="step 1 (candidate 10%, stable 90%): error_rate <= 0.01: FAIL, saw 0.2 " * 5,
    ).with_()
    tags = {**record.to_tags(), T.LEASE: Lease(holder_id(), int(time.time()) + 900).encode()}
    written = {k: v for k, v in tags.items() if v is not None}
    assert not translate.label_problems(written, "record")
    provider.write_tags(NAME, tags)  # through the emulator's rules
    stored = labels(emulator)
    assert {k: stored[k] for k in written} == written
    assert len(stored) <= translate.MAX_LABELS - 16  # user labels keep most of the 64
    back = RolloutRecord.from_tags(stored)
    assert back is not None
    assert (back.steps, back.step, back.previous, back.target, back.new_versions) == (
        record.steps,
        record.step,
        record.previous,
        record.target,
        record.new_versions,
    )
    assert back.reason == record.reason[:150]
