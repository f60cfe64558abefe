"""Progressive delivery on the SageMaker emulator: cloudserve's controller and SageMaker's own
deployment guardrails, on a simulated clock (sleeping advances it; nothing really waits).

Gate metrics are injected into the emulator's CloudWatch store as SageMaker would publish
them per variant; the rollout record and lease travel in endpoint tags that the emulator
checks against SageMaker's tag rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.settings import SageMakerSettings
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve import tags as T
from cloudserve.errors import RolloutFailed
from cloudserve.executor import ApplyResult, apply
from cloudserve.planner import make_plan
from cloudserve.provider import Provider
from cloudserve.rollout.record import RolloutRecord
from cloudserve.spec.models import Deployment
from cloudserve.testing.rollout import FeedMetrics, RolloutConformance
from cloudserve.testing.rollout import SimulatedClock as Clock

CANARY = {
    "strategy": "canary",
    "steps": [10, 50, 100],
    "bake": "10m",
    "gates": [{"metric": "error_rate", "max": 0.01}, {"metric": "latency_p99_ms", "max": 300}],
}


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


# --- SageMaker's deployment guardrails: a new model for one live version ------------------------
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]


@pytest.fixture
def one_version(make_spec: Callable[..., Deployment]) -> Callable[..., Deployment]:
    """``stable`` on two instances, canary 50% -> 100% (one instance of the new fleet)."""

    def spec(model: str, **rollout: Any) -> Deployment:
        return make_spec(
            "churn",
            {"stable": model},
            compute={"replicas": {"min": 2, "max": 2}},
            rollout={**CANARY, "steps": [50, 100], **rollout},
        )

    return spec


def alarms(emulator: SageMakerEmulator) -> list[str]:
    found = emulator.client("cloudwatch").describe_alarms(AlarmNamePrefix="cloudserve-churn-")
    return [a["AlarmName"] for a in found["MetricAlarms"]]


def test_plan_chooses_guardrails_only_where_they_fit(
    one_version: Callable[..., Deployment], provider: SageMakerProvider, clock: Clock
) -> None:
    from cloudserve_sagemaker.native import plan_native

    run(one_version("a"), provider, clock)
    plan = make_plan(one_version("b"), provider)
    assert plan.rollout_mode == "native"
    assert plan.rollout_reason.startswith(
        "SageMaker deployment guardrails: blue/green canary of 1 of 2 instances for 600s, then the rest"
    )
    assert "error_rate > 0.01, latency_p99_ms > 300, over 600s" in plan.rollout_reason

    def why_not(spec: Deployment) -> str:
        plan = make_plan(spec, provider)
        # declined by guardrails, a lone model swap is not stepped by the controller either
        assert plan.rollout_mode == "none" and "replaced at once" in plan.rollout_reason
        assert plan.observed is not None
        reason = plan_native(plan.desired, plan.observed, [a.key for a in plan.actions])
        assert isinstance(reason, str)
        return reason

    assert "one canary then the rest" in why_not(one_version("b", steps=[10, 50, 100]))
    assert "only absolute upper bounds" in why_not(
        one_version("b", gates=[{"metric": "error_rate", "max_over_stable": 0.01}])
    )
    assert "cannot pause" in why_not(one_version("b", on_failure="pause"))
    assert "allows 1-50% of the variant" in why_not(one_version("b", steps=[60, 100]))


def test_healthy_native_canary_completes(
    one_version: Callable[..., Deployment],
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    clock: Clock,
    predictions: Callable[[str, list[list[float]]], list[Any]],
) -> None:
    run(one_version("a"), provider, clock)
    result = run(one_version("b"), provider, clock)
    assert result.plan.rollout_mode == "native" and result.rollout is None
    sent = emulator.state.deployment_configs["churn"]
    routing = sent["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 600,
        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
    }
    names = [a["AlarmName"] for a in sent["AutoRollbackConfiguration"]["Alarms"]]
    assert names == [
        "cloudserve-churn-stable-gate1-error_rate",
        "cloudserve-churn-stable-gate2-latency_p99_ms",
    ]
    assert provider.aws.calls["cloudwatch:put_metric_alarm"] == 2
    assert alarms(emulator) == []  # the gates' alarms are gone once the rollout is done
    answer = provider.invoke("churn", {"instances": ROWS})
    assert answer.body == {"predictions": predictions("b", ROWS)}
    assert not run(one_version("b"), provider, clock).changed


def test_a_shown_native_plan_is_applied_by_another_provider_instance(
    one_version: Callable[..., Deployment],
    provider: SageMakerProvider,
    settings: SageMakerSettings,
    emulator: SageMakerEmulator,
    clock: Clock,
) -> None:
    """Plan-time calls keep no state (interface v2): the guardrails decision travels on the
    plan, so a plan made by one provider object is applied as shown by another (as the CLI's
    shown plan and a CI job's are)."""
    run(one_version("a"), provider, clock)
    shown = make_plan(one_version("b"), provider)
    assert shown.rollout_mode == "native" and shown.desired.native is not None
    other = SageMakerProvider(settings)
    try:
        result = run(shown.desired.deployment, other, clock, shown=shown)
    finally:
        other.close()
    assert result.plan is shown
    routing = emulator.state.deployment_configs["churn"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing["Type"] == "CANARY"


def test_native_canary_with_an_alarm_in_alarm_rolls_back_with_the_reason(
    one_version: Callable[..., Deployment],
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    clock: Clock,
    predictions: Callable[[str, list[list[float]]], list[Any]],
) -> None:
    run(one_version("a"), provider, clock)

    def alarm_trips(seconds: float) -> None:  # the new fleet misbehaves while SageMaker bakes it
        if emulator.status("churn") == "Updating" and "churn" in emulator.state.deployment_configs:
            emulator.set_alarm("cloudserve-churn-stable-gate1-error_rate", "ALARM", "error rate 0.2 > 0.01")
        clock.sleep(seconds)

    with pytest.raises(RolloutFailed) as info:
        run(one_version("b"), provider, clock, sleep=alarm_trips)
    text = str(info.value)
    assert "rollout rolled back by SageMaker (version stable's new model, gate error_rate <= 0.01)" in text
    assert "CloudWatch alarm cloudserve-churn-stable-gate1-error_rate is in ALARM" in text
    assert info.value.exit_code == 3
    rollout = info.value.details["rollout"]
    assert isinstance(rollout, dict) and rollout["mode"] == "native" and rollout["state"] == "rolledback"
    # SageMaker restored the old fleet; the user sees the old model, and the record says why
    assert provider.invoke("churn", {"instances": ROWS}).body == {"predictions": predictions("a", ROWS)}
    observed = provider.observe("churn")
    assert observed is not None
    record = RolloutRecord.from_tags(observed.tags)
    assert record is not None and record.state == "rolledback" and "is in ALARM" in record.reason
    assert alarms(emulator) == []
    assert len(emulator.backend.endpoint_configs) == 1  # the rolled-back config was cleaned up
    with pytest.raises(RolloutFailed, match="was rolled back"):
        run(one_version("b"), provider, clock)


def test_destroy_removes_gate_alarms_a_killed_rollout_left(
    one_version: Callable[..., Deployment],
    provider: SageMakerProvider,
    emulator: SageMakerEmulator,
    clock: Clock,
) -> None:
    run(one_version("a"), provider, clock)
    emulator.set_alarm("cloudserve-churn-stable-gate1-error_rate", "OK")
    emulator.set_alarm("someone-elses-alarm", "OK")
    op = provider.delete_endpoint("churn")
    while not op.poll():
        pass
    names = [a["AlarmName"] for a in emulator.client("cloudwatch").describe_alarms()["MetricAlarms"]]
    assert names == ["someone-elses-alarm"]


def test_steps_map_onto_traffic_routing_exactly_or_not_at_all() -> None:
    from cloudserve_sagemaker.native import _routing

    assert _routing([25, 50, 75, 100], 300, 4) == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 300,
        "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
    }
    assert _routing([30, 60, 90, 100], 60, 10)["LinearStepSize"]["Value"] == 3  # type: ignore[index]
    assert _routing([10, 100], 60, 10)["CanarySize"]["Value"] == 1  # type: ignore[index]
    assert "not a whole number" in str(_routing([25, 50, 75, 100], 60, 2))
    assert "equal linear steps" in str(_routing([10, 20, 50, 100], 60, 10))
    assert "WaitIntervalInSeconds limit" in str(_routing([50, 100], 7200, 2))


class TestSageMakerRolloutConformance(RolloutConformance):
    """Client-side canary between two variants: steps, rollback, resume after a kill, lease."""

    @pytest.fixture
    def provider(self, provider: SageMakerProvider) -> Provider:
        return provider

    @pytest.fixture
    def make_spec(self, make_spec: Callable[..., Deployment]) -> Callable[..., Deployment]:
        return make_spec

    @pytest.fixture
    def feed_metrics(self, emulator: SageMakerEmulator) -> FeedMetrics:
        def feed(name: str, version: str, requests: int, errors: int, latency_ms: float) -> None:
            emulator.put_variant_metrics(
                name, version, invocations=requests, errors_5xx=errors, latencies_ms=[latency_ms] * 20
            )

        return feed
