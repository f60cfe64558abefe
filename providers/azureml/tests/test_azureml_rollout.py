"""Progressive delivery on the Azure ML emulator (issue 7, item 6), on a simulated clock.

Azure ML's safe rollout for managed online endpoints is a traffic split moved by hand, so
the core's controller moves the endpoint's ``traffic`` step by step, reads its gates from
Azure Monitor metrics (fed here with :meth:`AzureMLEmulator.record_requests`) and keeps its
record and lease in endpoint tags, which the emulator checks against ARM's tag limits on
every write. Sleeping advances the clock; nothing in these tests waits for real.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cloudserve_azureml.provider import AzureMLProvider
from cloudserve_azureml.testing import AzureMLEmulator

from cloudserve import tags as T
from cloudserve.errors import CloudServeError
from cloudserve.executor import ApplyResult, apply
from cloudserve.planner import make_plan
from cloudserve.provider import Provider, Support
from cloudserve.spec.models import Deployment
from cloudserve.testing.rollout import FeedMetrics, RolloutConformance
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


def run(spec: Deployment, provider: AzureMLProvider, clock: Clock, **kw: Any) -> ApplyResult:
    kw.setdefault("sleep", clock.sleep)
    return apply(spec, provider, clock=clock, poll_interval=30, **kw)


def traffic(azure: AzureMLEmulator) -> dict[str, int]:
    """The endpoint's split as Azure holds it (a deployment without traffic is absent)."""
    endpoint = azure.endpoint(NAME)
    assert endpoint is not None
    split = {"stable": 0, "candidate": 0}
    split.update({k: int(v) for k, v in endpoint["properties"]["traffic"].items()})
    return split


def tags(azure: AzureMLEmulator) -> dict[str, str]:
    endpoint = azure.endpoint(NAME)
    assert endpoint is not None
    return dict(endpoint["tags"])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def specs(make_spec: MakeSpec, provider: AzureMLProvider, clock: Clock) -> tuple[Deployment, Deployment]:
    """(deployed: stable 100%, candidate 0%; promoted: candidate 100%), the first applied."""
    versions = {"stable": "a", "candidate": "b"}
    base = make_spec(NAME, versions, {"stable": 100, "candidate": 0}, rollout=CANARY)
    run(base, provider, clock)
    return base, make_spec(NAME, versions, {"stable": 0, "candidate": 100}, rollout=CANARY)


def feed(azure: AzureMLEmulator, candidate_errors: int) -> None:
    """1000 requests per deployment in Azure Monitor, 40 ms each; 2 stable 5xx."""
    azure.record_requests(NAME, "stable", 998, latency_ms=40)
    azure.record_requests(NAME, "stable", 2, status=500, latency_ms=40)
    azure.record_requests(NAME, "candidate", 1000 - candidate_errors, latency_ms=40)
    azure.record_requests(NAME, "candidate", candidate_errors, status=500, latency_ms=40)


def test_plan_says_the_controller_moves_traffic_and_why(
    specs: tuple[Deployment, Deployment], provider: AzureMLProvider
) -> None:
    plan = make_plan(specs[1], provider)
    assert plan.rollout_mode == "client"
    assert plan.rollout_reason == "canary 10% -> 50% -> 100% by cloudserve's controller on azureml"
    rollout = plan.capabilities["rollout"]
    assert rollout.support is Support.EMULATED
    assert rollout.reason.startswith("Azure ML has no canary with metric gates")


# --- the record and lease as ARM tags ----------------------------------------------------------


def test_emulator_enforces_arm_tag_limits(
    specs: tuple[Deployment, Deployment], provider: AzureMLProvider, azure: AzureMLEmulator
) -> None:
    """Through the real client: at most 50 tags, names up to 512 characters without
    < > % & \\ ? /, values up to 256 characters."""
    current = tags(azure)
    bad = [
        {T.ROLLOUT: "x" * 257},
        {"k" * 513: "v"},
        *({f"cloudserve{c}rollout": "v"} for c in "<>%&\\?/"),
        {f"k{i}": "v" for i in range(51 - len(current))},
    ]
    for extra in bad:
        with pytest.raises(CloudServeError, match=r"[Tt]ag"):
            provider.write_tags(NAME, extra)
    assert tags(azure) == current
    fits = {"k" * 512: "v" * 256, **{f"k{i}": "v" for i in range(49 - len(current))}}
    provider.write_tags(NAME, fits)
    assert len(tags(azure)) == 50


class TestAzureMLRolloutConformance(RolloutConformance):
    """Canary, rollback at step 1, resume after a kill and the lease, against the emulator."""

    @pytest.fixture
    def provider(self, provider: AzureMLProvider) -> Provider:
        return provider

    @pytest.fixture
    def make_spec(self, make_spec: MakeSpec) -> MakeSpec:
        return make_spec

    @pytest.fixture
    def feed_metrics(self, azure: AzureMLEmulator) -> FeedMetrics:
        def feed(name: str, version: str, requests: int, errors: int, latency_ms: float) -> None:
            azure.record_requests(name, version, requests - errors, latency_ms=latency_ms)
            azure.record_requests(name, version, errors, status=500, latency_ms=latency_ms)

        return feed
