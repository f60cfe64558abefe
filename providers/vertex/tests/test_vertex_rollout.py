"""Progressive delivery on the Vertex AI emulator (issue 7, item 6), on a simulated clock.

Vertex AI has no canary of its own, so the core's controller moves ``trafficSplit`` step by
step, reads the gates from Cloud Monitoring (fed here with
:meth:`VertexEmulator.record_predictions`) and keeps its record and lease in endpoint
labels, which the emulator checks against Vertex AI's label rules on every write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.testing import VertexEmulator

from cloudserve.errors import ProviderError
from cloudserve.executor import ApplyResult, apply
from cloudserve.provider import Feature, Provider, Support
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


def _traffic_patches(emulator: VertexEmulator, since: int) -> int:
    return sum(n for call, n in emulator.call_counts(since).items() if call.endswith("=trafficSplit"))


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


class TestVertexRolloutConformance(RolloutConformance):
    """Canary, rollback at step 1, resume after a kill and the lease, against the emulator."""

    @pytest.fixture
    def provider(self, provider: VertexProvider) -> Provider:
        return provider

    @pytest.fixture
    def make_spec(self, make_spec: MakeSpec) -> MakeSpec:
        return make_spec

    @pytest.fixture
    def feed_metrics(self, emulator: VertexEmulator) -> FeedMetrics:
        def feed(name: str, version: str, requests: int, errors: int, latency_ms: float) -> None:
            emulator.record_predictions(name, version, count=requests, errors=errors, latency_ms=latency_ms)

        return feed


def test_vertex_declares_why_the_rollout_is_emulated(provider: VertexProvider) -> None:
    rollout = provider.capabilities()[Feature.ROLLOUT]
    assert rollout.support is Support.EMULATED and rollout.reason.startswith("Vertex AI has no canary")
