"""Progressive delivery on the SageMaker emulator: cloudserve's controller and SageMaker's own
deployment guardrails, on a simulated clock (sleeping advances it; nothing really waits).

Gate metrics are injected into the emulator's CloudWatch store as SageMaker would publish
them per variant; the rollout record and lease travel in endpoint tags that the emulator
checks against SageMaker's tag rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve import tags as T
from cloudserve.errors import Conflict, RolloutFailed
from cloudserve.executor import ApplyResult, apply
from cloudserve.planner import make_plan
from cloudserve.rollout.record import Lease, RolloutRecord
from cloudserve.rollout.steps import step_splits
from cloudserve.spec.models import Deployment

CANARY = {
    "strategy": "canary",
    "steps": [10, 50, 100],
    "bake": "10m",
    "gates": [{"metric": "error_rate", "max": 0.01}, {"metric": "latency_p99_ms", "max": 300}],
}


class Clock:
    """Simulated time for the controller's bake and the waits on SageMaker's states."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Killed(BaseException):
    """Stands for the process being killed: only finally blocks run after it."""


@pytest.fixture
def clock() -> Clock:
    return Clock()


def run(spec: Deployment, provider: SageMakerProvider, clock: Clock, **kw: Any) -> ApplyResult:
    kw.setdefault("sleep", clock.sleep)
    return apply(spec, provider, clock=clock, poll_interval=30, **kw)


def healthy(emulator: SageMakerEmulator, variant: str) -> None:
    emulator.put_variant_metrics(
        "churn", variant, invocations=1000, errors_5xx=2, latencies_ms=[20.0] * 50 + [40.0] * 5
    )


def broken(emulator: SageMakerEmulator, variant: str) -> None:
    emulator.put_variant_metrics("churn", variant, invocations=1000, errors_5xx=200, latencies_ms=[20.0] * 20)


def weights(emulator: SageMakerEmulator) -> dict[str, float]:
    variants = emulator.backend.endpoints["churn"].production_variants
    return {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in variants}


# --- cloudserve's controller: a traffic shift between two variants -------------------------------
@pytest.fixture
def two_variants(make_spec: Callable[..., Deployment]) -> Callable[..., Deployment]:
    def spec(traffic: dict[str, int], **rollout: Any) -> Deployment:
        return make_spec("churn", {"stable": "a", "candidate": "b"}, traffic, rollout={**CANARY, **rollout})

    return spec


@pytest.fixture
def deployed(
    two_variants: Callable[..., Deployment], provider: SageMakerProvider, clock: Clock
) -> Callable[..., Deployment]:
    run(two_variants({"stable": 100, "candidate": 0}), provider, clock)
    return lambda **rollout: two_variants({"stable": 0, "candidate": 100}, **rollout)


def test_plan_names_the_client_controller_for_a_traffic_shift(
    deployed: Callable[..., Deployment], provider: SageMakerProvider
) -> None:
    plan = make_plan(deployed(), provider)
    assert plan.rollout_mode == "client"
    assert "canary 10% -> 50% -> 100% by cloudserve's controller on sagemaker" in plan.rollout_reason


def test_healthy_canary_passes_every_step(
    deployed: Callable[..., Deployment],
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    clock: Clock,
) -> None:
    healthy(emulator, "stable")
    healthy(emulator, "candidate")
    result = run(deployed(), provider, clock)
    assert result.rollout.state == "done"
    assert [s.traffic["candidate"] for s in result.rollout.steps] == [10, 50, 100]
    assert all(g.verdict == "pass" for s in result.rollout.steps[:2] for g in s.gates)
    assert weights(emulator) == {"stable": 0.0, "candidate": 100.0}
    observed = provider.observe("churn")
    assert observed is not None and observed.traffic == {"stable": 0, "candidate": 100}
    assert T.ROLLOUT not in observed.tags and T.LEASE not in observed.tags
    assert not run(deployed(), provider, clock).changed


def test_unhealthy_canary_rolls_back_at_the_first_step(
    deployed: Callable[..., Deployment],
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    clock: Clock,
) -> None:
    healthy(emulator, "stable")
    broken(emulator, "candidate")
    with pytest.raises(RolloutFailed) as info:
        run(deployed(), provider, clock)
    text = str(info.value)
    assert "step 1 (candidate 10%, stable 90%)" in text
    assert "error_rate <= 0.01: fail, saw 0.2 (threshold 0.01) over 600s, 1000 requests" in text
    assert weights(emulator) == {"stable": 100.0, "candidate": 0.0}
    observed = provider.observe("churn")
    assert observed is not None
    record = RolloutRecord.from_tags(observed.tags)
    assert record is not None and record.state == "rolledback" and "error_rate" in record.reason
    with pytest.raises(RolloutFailed, match="was rolled back"):
        run(deployed(), provider, clock)


def test_killed_rollout_resumes_from_the_recorded_step(
    deployed: Callable[..., Deployment],
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    clock: Clock,
) -> None:
    healthy(emulator, "stable")
    healthy(emulator, "candidate")

    def dying_sleep(seconds: float) -> None:
        if weights(emulator).get("candidate") == 50.0 and seconds == 30:  # baking step 2
            raise Killed
        clock.sleep(seconds)

    with pytest.raises(Killed):
        run(deployed(), provider, clock, sleep=dying_sleep)
    observed = provider.observe("churn")
    assert observed is not None
    record = RolloutRecord.from_tags(observed.tags)
    assert record is not None and record.state == "running" and record.step == 1
    assert observed.traffic in step_splits(record.previous, record.target, list(record.steps))
    # the killed process never released its lease; the next apply from the same holder resumes
    before = provider.aws.calls["sagemaker:update_endpoint_weights_and_capacities"]
    result = run(deployed(), provider, clock)
    assert result.rollout.state == "done"
    assert [s.step for s in result.rollout.steps] == [2, 3]  # resumed, not restarted
    assert provider.aws.calls["sagemaker:update_endpoint_weights_and_capacities"] == before + 1
    assert weights(emulator) == {"stable": 0.0, "candidate": 100.0}


def test_concurrent_apply_is_refused(
    deployed: Callable[..., Deployment],
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    clock: Clock,
) -> None:
    provider.write_tags("churn", {T.LEASE: Lease("ci-runner-7-4242", int(clock.now + 600)).encode()})
    with pytest.raises(Conflict, match=r"another cloudserve process \(ci-runner-7-4242\) holds"):
        run(deployed(), provider, clock)
    assert weights(emulator) == {"stable": 100.0, "candidate": 0.0}


def test_record_and_lease_tags_follow_sagemaker_tag_rules(
    deployed: Callable[..., Deployment],
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    clock: Clock,
) -> None:
    healthy(emulator, "stable")
    broken(emulator, "candidate")
    with pytest.raises(RolloutFailed):
        run(deployed(), provider, clock)  # leaves the longest record: a reason in base32
    sm = emulator.client("sagemaker")
    arn = sm.describe_endpoint(EndpointName="churn")["EndpointArn"]
    tags = sm.list_tags(ResourceArn=arn)["Tags"]
    assert len({t["Key"] for t in tags}) == len(tags) <= 50  # AddTags overwrote, never duplicated
    assert any(t["Key"].startswith(T.ROLLOUT + "-why") for t in tags)
    # the emulator refuses what SageMaker refuses, so these tags passed its rules
    with pytest.raises(Exception, match="failed to satisfy constraint"):
        provider.write_tags("churn", {T.ROLLOUT: "x" * 257})
    with pytest.raises(Exception, match="failed to satisfy constraint"):
        provider.write_tags("churn", {T.LEASE: "holder#1"})
    with pytest.raises(Exception, match="at most 50"):
        provider.write_tags("churn", {f"k{i}": "v" for i in range(50)})
