"""The Vertex AI target passes the shared conformance suite against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.testing import VertexEmulator

from cloudserve import tags as T
from cloudserve.errors import NotSupported
from cloudserve.provider import Provider
from cloudserve.testing.conformance import (
    MakeSpec,
    Predictions,
    ProviderConformance,
    apply_spec,
    wait,
)


class TestVertexConformance(ProviderConformance):
    @pytest.fixture
    def provider(self, provider: VertexProvider) -> Provider:
        return provider

    @pytest.fixture
    def make_spec(self, make_spec: MakeSpec) -> MakeSpec:
        return make_spec

    @pytest.fixture
    def predictions(self, predictions: Any) -> Predictions:
        return predictions  # type: ignore[no-any-return]

    @pytest.fixture(autouse=True)
    def _emulator(self, emulator: VertexEmulator) -> None:
        self.emulator = emulator

    def assert_nothing_left(self, provider: Provider, name: str) -> None:
        assert not [e for e in self.emulator.endpoints if e.endswith(f"/endpoints/{name}")]
        assert not [m for m in self.emulator.models.values() if m.labels.get(T.DEPLOYMENT) == name]

    def test_invoke_returns_real_predictions(  # type: ignore[override]
        self,
        provider: Provider,
        make_spec: MakeSpec,
        name: str,
        predictions: Predictions,
        instances: list[list[float]],
    ) -> None:
        """Vertex AI's predict has no per-deployed-model address: a version is invoked by
        name only while it holds all the traffic, and otherwise the call says so."""
        spec = make_spec(
            name, versions={"stable": "a", "candidate": "b"}, traffic={"stable": 90, "candidate": 10}
        )
        apply_spec(provider, spec)
        with pytest.raises(NotSupported, match="traffic split"):
            provider.invoke(name, {"instances": instances}, version="candidate")
        result = provider.invoke(name, {"instances": instances})
        assert result.version in ("stable", "candidate")
        key = {"stable": "a", "candidate": "b"}[result.version]
        assert result.body["predictions"] == predictions(key, instances)
        for version, key in (("stable", "a"), ("candidate", "b")):
            wait(provider.set_traffic(name, {version: 100}, {}))
            result = provider.invoke(name, {"instances": instances}, version=version)
            assert result.status_code == 200
            assert result.version == version
            assert result.body["predictions"] == predictions(key, instances)
