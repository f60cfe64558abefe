"""The SageMaker target passes the shared conformance suite on the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from cloudserve_sagemaker.provider import SageMakerProvider
from cloudserve_sagemaker.testing import SageMakerEmulator

from cloudserve.provider import Provider
from cloudserve.testing.conformance import MakeSpec, Predictions, ProviderConformance


class TestSageMakerConformance(ProviderConformance):
    @pytest.fixture
    def provider(self, provider: SageMakerProvider) -> Provider:
        return provider

    @pytest.fixture
    def make_spec(self, make_spec: MakeSpec) -> MakeSpec:
        return make_spec

    @pytest.fixture
    def predictions(self, predictions: Any) -> Predictions:
        return predictions  # type: ignore[no-any-return]

    @pytest.fixture(autouse=True)
    def _emulator(self, emulator: SageMakerEmulator) -> SageMakerEmulator:
        self.aws = emulator
        return emulator

    def assert_nothing_left(self, provider: Provider, name: str) -> None:
        backend = self.aws.backend
        assert name not in backend.endpoints
        assert not [c for c in backend.endpoint_configs if c.startswith(name)]
        assert not [m for m in backend._models if m.startswith(name)]
        scaling = self.aws.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="sagemaker"
        )
        assert not [t for t in scaling["ScalableTargets"] if f"endpoint/{name}/" in t["ResourceId"]]
