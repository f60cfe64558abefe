"""The conformance suite every target runs, as abstract pytest classes (like fsspec's).

A target's tests subclass :class:`ProviderConformance` and supply three fixtures:

- ``provider``: a ready :class:`~cloudserve.provider.Provider` (emulator, tmp dirs, ...);
- ``make_spec``: ``make_spec(name, versions={version: model_key}, traffic={...})`` returning
  a :class:`~cloudserve.spec.models.Deployment` for that target, where ``model_key`` is
  ``"a"`` or ``"b"``: two different models the target can deploy;
- ``predictions`` (optional): ``predictions(model_key, instances)`` -> the model's own
  answers, for targets that really serve models; without it the invoke test is skipped.

and may override :meth:`ProviderConformance.assert_nothing_left` to look for leftovers
(files, cloud resources) after a destroy, and set ``per_version_invoke = False`` when the
target cannot send a request to one version while others share the traffic (Vertex AI's
predict routes by the split alone): the suite then expects NotSupported in that case and
invokes each version by name once it holds all the traffic.

The suite drives the provider the way the core does, through ``cloudserve.executor.apply``
and ``cloudserve.planner.make_plan``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudserve import tags as T
from cloudserve.desired import build_desired
from cloudserve.errors import NotSupported
from cloudserve.executor import apply
from cloudserve.planner import make_plan
from cloudserve.provider import Operation, Provider, Status
from cloudserve.spec.models import Deployment

MakeSpec = Callable[..., Deployment]
Predictions = Callable[[str, list[list[float]]], list[Any]]

SAMPLE_INSTANCES: list[list[float]] = [
    [5.1, 3.5, 1.4, 0.2],
    [6.7, 3.0, 5.2, 2.3],
    [5.9, 3.0, 4.2, 1.5],
]
_NAMES = itertools.count(1)


def wait(op: Operation, polls: int = 10_000) -> None:
    """Poll an operation to completion (emulators finish quickly; no sleeping here)."""
    for _ in range(polls):
        if op.poll():
            return
    raise AssertionError(f"operation {op.description!r} did not finish after {polls} polls")


def _nonzero(split: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in split.items() if v}


def apply_spec(provider: Provider, deployment: Deployment) -> None:
    """Apply as ``cloudserve apply`` does (emulators finish at once; no sleeping)."""
    apply(deployment, provider, sleep=lambda _s: None)


def pending_changes(provider: Provider, deployment: Deployment) -> list[str]:
    """What an apply would still do, as the core's plan describes it."""
    return [a.describe() for a in make_plan(deployment, provider).actions]


class ProviderConformance:
    """Inherit in a target's tests; supply ``provider`` and ``make_spec`` fixtures."""

    per_version_invoke = True  # False: a version is addressable only while it has 100%

    @pytest.fixture
    def provider(self) -> Provider:
        raise NotImplementedError("the target's test class supplies a `provider` fixture")

    @pytest.fixture
    def make_spec(self) -> MakeSpec:
        raise NotImplementedError("the target's test class supplies a `make_spec` fixture")

    @pytest.fixture
    def predictions(self) -> Predictions | None:
        return None

    @pytest.fixture
    def instances(self) -> list[list[float]]:
        """Rows the test models accept; the default fits four numeric features (iris)."""
        return SAMPLE_INSTANCES

    @pytest.fixture
    def name(self, provider: Provider) -> Iterator[str]:
        """A fresh deployment name per test; whatever the test leaves is destroyed."""
        name = f"conf-{os.getpid() % 10_000}-{next(_NAMES)}"
        yield name
        if provider.observe(name) is not None:
            self.finish(provider.delete_endpoint(name))

    def apply(self, provider: Provider, deployment: Deployment) -> None:
        """How the suite applies a spec; a live run waits for real (cloudserve.testing.live)."""
        apply_spec(provider, deployment)

    def finish(self, op: Operation) -> None:
        """How the suite waits for one operation; see :meth:`apply`."""
        wait(op)

    def assert_nothing_left(self, provider: Provider, name: str) -> None:
        """Targets override this to look for leftovers beyond the endpoint itself."""

    # --- the tests ----------------------------------------------------------------------
    def test_create_and_read_back(self, provider: Provider, make_spec: MakeSpec, name: str) -> None:
        spec = make_spec(
            name,
            versions={"stable": "a", "candidate": "b"},
            traffic={"stable": 90, "candidate": 10},
        )
        self.apply(provider, spec)
        desired = build_desired(spec, provider)
        observed = provider.observe(name)
        assert observed is not None
        assert observed.status is Status.READY
        assert set(observed.versions) == {"stable", "candidate"}
        for vname, want in desired.versions.items():
            assert observed.versions[vname].config_hash == want.config_hash
            assert observed.versions[vname].status is Status.READY
        assert _nonzero(observed.traffic) == {"stable": 90, "candidate": 10}
        assert observed.owned
        assert observed.tags[T.DEPLOYMENT] == name
        for key, value in desired.tags.items():
            if not T.is_internal(key):
                assert observed.tags.get(key) == value, key

    def test_split_traffic(self, provider: Provider, make_spec: MakeSpec, name: str) -> None:
        spec = make_spec(
            name,
            versions={"stable": "a", "candidate": "b"},
            traffic={"stable": 100, "candidate": 0},
        )
        self.apply(provider, spec)
        for split in ({"stable": 50, "candidate": 50}, {"stable": 0, "candidate": 100}):
            self.finish(provider.set_traffic(name, split, {}))
            observed = provider.observe(name)
            assert observed is not None
            assert _nonzero(observed.traffic) == _nonzero(split)

    def test_reapply_makes_no_change(self, provider: Provider, make_spec: MakeSpec, name: str) -> None:
        spec = make_spec(
            name,
            versions={"stable": "a", "candidate": "b"},
            traffic={"stable": 90, "candidate": 10},
        )
        self.apply(provider, spec)
        assert pending_changes(provider, spec) == []
        self.apply(provider, spec)
        assert pending_changes(provider, spec) == []

    def test_replace_on_immutable_change(
        self,
        provider: Provider,
        make_spec: MakeSpec,
        name: str,
        predictions: Predictions | None,
        instances: list[list[float]],
    ) -> None:
        before = make_spec(name, versions={"stable": "a"}, traffic={"stable": 100})
        self.apply(provider, before)
        after = make_spec(name, versions={"stable": "b"}, traffic={"stable": 100})
        old_hash = build_desired(before, provider).versions["stable"].config_hash
        new_hash = build_desired(after, provider).versions["stable"].config_hash
        assert old_hash != new_hash
        changes = pending_changes(provider, after)
        assert any("stable" in c and ("replace" in c or "config" in c) for c in changes), changes
        self.apply(provider, after)
        observed = provider.observe(name)
        assert observed is not None
        assert observed.versions["stable"].config_hash == new_hash
        assert pending_changes(provider, after) == []
        if predictions is not None:
            result = provider.invoke(name, {"instances": instances}, version="stable")
            assert result.body["predictions"] == predictions("b", instances)

    def test_list_endpoints_names_what_exists(
        self, provider: Provider, make_spec: MakeSpec, name: str
    ) -> None:
        assert name not in provider.list_endpoints()
        self.apply(provider, make_spec(name, versions={"stable": "a"}, traffic={"stable": 100}))
        assert name in provider.list_endpoints()
        self.finish(provider.delete_endpoint(name))
        assert name not in provider.list_endpoints()

    def test_destroy_leaves_nothing(self, provider: Provider, make_spec: MakeSpec, name: str) -> None:
        spec = make_spec(name, versions={"stable": "a"}, traffic={"stable": 100})
        self.apply(provider, spec)
        assert provider.observe(name) is not None
        self.finish(provider.delete_endpoint(name))
        assert provider.observe(name) is None
        self.assert_nothing_left(provider, name)

    def test_invoke_returns_real_predictions(
        self,
        provider: Provider,
        make_spec: MakeSpec,
        name: str,
        predictions: Predictions | None,
        instances: list[list[float]],
    ) -> None:
        if predictions is None:
            pytest.skip("this target does not serve real models")
        spec = make_spec(
            name,
            versions={"stable": "a", "candidate": "b"},
            traffic={"stable": 90, "candidate": 10},
        )
        self.apply(provider, spec)
        result = provider.invoke(name, {"instances": instances})
        assert result.version in ("stable", "candidate")
        assert result.body["predictions"] == predictions(
            {"stable": "a", "candidate": "b"}[result.version], instances
        )
        for version, key in (("stable", "a"), ("candidate", "b")):
            if not self.per_version_invoke:
                with pytest.raises(NotSupported):
                    provider.invoke(name, {"instances": instances}, version="candidate")
                self.finish(provider.set_traffic(name, {version: 100}, {}))
            result = provider.invoke(name, {"instances": instances}, version=version)
            assert result.status_code == 200
            assert result.version == version
            assert result.body["predictions"] == predictions(key, instances)

    def test_add_and_remove_a_version(self, provider: Provider, make_spec: MakeSpec, name: str) -> None:
        one = make_spec(name, versions={"stable": "a"}, traffic={"stable": 100})
        self.apply(provider, one)
        two = make_spec(
            name, versions={"stable": "a", "candidate": "b"}, traffic={"stable": 100, "candidate": 0}
        )
        assert any("candidate" in c for c in pending_changes(provider, two))
        self.apply(provider, two)
        observed = provider.observe(name)
        assert observed is not None and set(observed.versions) == {"stable", "candidate"}
        assert pending_changes(provider, two) == []
        self.apply(provider, one)
        observed = provider.observe(name)
        assert observed is not None and set(observed.versions) == {"stable"}
        assert _nonzero(observed.traffic) == {"stable": 100}
        assert pending_changes(provider, one) == []

    def test_the_rollout_record_survives_a_settings_update(
        self, provider: Provider, make_spec: MakeSpec, name: str
    ) -> None:
        """Every key of the record (head, steps, chunked -from/-to/-new/-why) and the lease
        round-trip through the target's tags, are never shown as a change, and are kept when
        the user's labels change (update_endpoint)."""
        from cloudserve.rollout.record import Lease, RolloutRecord

        versions, traffic = {"stable": "a", "candidate": "b"}, {"stable": 100, "candidate": 0}
        spec = make_spec(name, versions=versions, traffic=traffic)
        self.apply(provider, spec)
        record = RolloutRecord(
            state="paused",
            step=7,
            steps=tuple(range(1, 101)),
            spec_hash=build_desired(spec, provider).spec_hash,
            previous={"stable": 100, "candidate": 0},
            target={"stable": 37, "candidate": 63},
            new_versions=("candidate",),
            reason="gate error_rate: 0.031 > 0.01 over 300 s (candidate 412 requests, stable 3,980) " * 2,
            updated=1_700_000_000,
        )
        written = {k: v for k, v in record.to_tags().items() if v is not None}
        compact = RolloutRecord.from_tags(written)  # as compact as the record keeps it (hash, reason)
        assert compact is not None
        record = compact
        lease = Lease(holder="conformance-host-1234", expires=1_700_000_600)
        provider.write_tags(name, {**written, T.LEASE: lease.encode()})
        tags = provider.read_tags(name)
        assert tags is not None and RolloutRecord.from_tags(tags) == record
        assert Lease.decode(tags.get(T.LEASE)) == lease
        assert not [c for c in pending_changes(provider, spec) if "settings" in c]

        metadata = spec.metadata.model_copy(
            update={"labels": {**spec.metadata.labels, "owner": "ml-platform"}}
        )
        relabelled = spec.model_copy(update={"metadata": metadata})
        self.finish(provider.update_endpoint(build_desired(relabelled, provider)))
        tags = provider.read_tags(name)
        assert tags is not None and tags.get("owner") == "ml-platform"
        assert RolloutRecord.from_tags(tags) == record
        assert Lease.decode(tags.get(T.LEASE)) == lease

    def test_capabilities_and_metrics_keep_their_promises(
        self, provider: Provider, make_spec: MakeSpec, name: str
    ) -> None:
        """Every Feature is declared (an unsupported one with its reason), and metrics()
        answers one VersionMetrics per version asked for, with counts that cannot be negative."""
        from cloudserve.provider import Feature, Support, VersionMetrics

        capabilities = provider.capabilities()
        assert set(capabilities) == set(Feature)
        for feature, capability in capabilities.items():
            assert capability.feature is feature
            if capability.support is Support.UNSUPPORTED:
                assert capability.reason, f"{feature} is unsupported without a reason"
        spec = make_spec(
            name, versions={"stable": "a", "candidate": "b"}, traffic={"stable": 50, "candidate": 50}
        )
        self.apply(provider, spec)
        try:
            answer = provider.metrics(name, ["stable", "candidate"], 300.0)
        except NotSupported:
            return  # a target without metrics says so; gates then refuse to run on it
        assert set(answer) == {"stable", "candidate"}
        for version, metrics in answer.items():
            assert isinstance(metrics, VersionMetrics), version
            assert metrics.requests >= 0 and metrics.errors >= 0 and metrics.client_errors >= 0
            assert metrics.errors <= metrics.requests or metrics.requests == 0
            for latency in (metrics.latency_p50_ms, metrics.latency_p99_ms):
                assert latency is None or latency >= 0

    def test_a_plan_price_means_one_replica(self, provider: Provider, make_spec: MakeSpec, name: str) -> None:
        """plan_note prices one replica on every target; the planner multiplies by the
        minimum replicas, so `plan` shows the same kind of number on every cloud."""
        from cloudserve.spec.models import Replicas

        spec = make_spec(name, versions={"stable": "a"}, traffic={"stable": 100})
        compute = spec.spec.compute.model_copy(update={"replicas": Replicas(min=2, max=3)})
        spec = spec.model_copy(update={"spec": spec.spec.model_copy(update={"compute": compute})})
        desired = build_desired(spec, provider)
        unit = provider.plan_note(desired, desired.versions["stable"]).hourly_price_usd
        plan = make_plan(spec, provider)
        (create,) = [a for a in plan.actions if a.key == "create_endpoint"]
        note = create.version_notes["stable"]
        assert note.hourly_price_usd == unit
        if unit is None:
            assert note.replicas is None and note.hourly_price_at_min_usd is None
        else:
            assert unit >= 0 and note.replicas == 2
            assert note.hourly_price_at_min_usd == pytest.approx(2 * unit)
