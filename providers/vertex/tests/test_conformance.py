"""The Vertex AI target passes the shared conformance suite against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.testing import VertexEmulator

from cloudserve import tags as T
from cloudserve.provider import Provider
from cloudserve.testing.conformance import MakeSpec, Predictions, ProviderConformance


class TestVertexConformance(ProviderConformance):
    per_version_invoke = False  # predict routes by trafficSplit; one deployed model can't be named

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
