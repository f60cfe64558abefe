"""The local target passes the shared conformance suite, against real server processes."""

from __future__ import annotations

from typing import Any

import pytest

from cloudserve.local.provider import LocalProvider
from cloudserve.provider import Provider
from cloudserve.testing.conformance import MakeSpec, Predictions, ProviderConformance


@pytest.mark.slow
class TestLocalConformance(ProviderConformance):
    @pytest.fixture
    def provider(self, local_provider: LocalProvider) -> Provider:
        return local_provider

    @pytest.fixture
    def make_spec(self, make_spec: MakeSpec) -> MakeSpec:
        return make_spec

    @pytest.fixture
    def predictions(self, predictions: Any) -> Predictions:
        return predictions  # type: ignore[no-any-return]

    def assert_nothing_left(self, provider: Provider, name: str) -> None:
        assert isinstance(provider, LocalProvider)
        assert not (provider.root / name).exists()
