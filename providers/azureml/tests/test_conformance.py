"""The Azure ML target passes the shared conformance suite against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from cloudserve_azureml.provider import AzureMLProvider
from cloudserve_azureml.testing import AzureMLEmulator

from cloudserve.provider import Provider
from cloudserve.testing.conformance import MakeSpec, Predictions, ProviderConformance


class TestAzureMLConformance(ProviderConformance):
    @pytest.fixture
    def provider(self, provider: AzureMLProvider) -> Provider:
        return provider

    @pytest.fixture
    def make_spec(self, make_spec: MakeSpec) -> MakeSpec:
        return make_spec

    @pytest.fixture
    def predictions(self, predictions: Any) -> Predictions:
        return predictions  # type: ignore[no-any-return]

    @pytest.fixture(autouse=True)
    def _emulator(self, azure: AzureMLEmulator) -> None:
        self.azure = azure

    def assert_nothing_left(self, provider: Provider, name: str) -> None:
        leftovers = [
            rid
            for rid in self.azure.resource_ids()
            if f"/onlineEndpoints/{name}".lower() in rid.lower() or "autoscalesettings" in rid.lower()
        ]
        assert leftovers == []
        archived = [
            r
            for r in self.azure.state.resources.values()
            if r["type"].endswith("/models") and r["name"].startswith(name)
        ]
        assert all(r["properties"].get("isArchived") for r in archived)
