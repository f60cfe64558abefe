"""The live acceptance run on SageMaker (``cloudserve.testing.live``).

Off unless ``CLOUDSERVE_LIVE=sagemaker``; then ``CLOUDSERVE_LIVE_TARGETS`` names a YAML file
with ``targets: {sagemaker: {region, role_arn, bucket}}`` and ``CLOUDSERVE_LIVE_BUDGET_USD``
confirms the ceiling the run prints. ``CLOUDSERVE_LIVE_REHEARSAL=1`` runs it on the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cloudserve_sagemaker.provider import SageMakerProvider

from cloudserve.provider import Provider
from cloudserve.spec.models import SageMakerSettings
from cloudserve.testing import live

pytestmark = live.mark("sagemaker")


@pytest.fixture
def live_provider(request: pytest.FixtureRequest) -> Iterator[Provider]:
    if live.rehearsal():
        yield request.getfixturevalue("provider")
        return
    settings = SageMakerSettings.model_validate(live.account_targets()["sagemaker"])
    provider = SageMakerProvider(settings)
    try:
        yield provider
    finally:
        provider.close()


class _SageMaker:
    target = "sagemaker"

    @pytest.fixture
    def provider(self, live_provider: Provider) -> Provider:
        return live_provider

    @pytest.fixture
    def predictions(self, predictions: Any) -> Any:
        return predictions


class TestLiveConformance(_SageMaker, live.LiveConformance):
    pass


class TestLiveRollout(_SageMaker, live.LiveRolloutConformance):
    pass


class TestLiveDrift(_SageMaker, live.LiveDriftCheck):
    pass
