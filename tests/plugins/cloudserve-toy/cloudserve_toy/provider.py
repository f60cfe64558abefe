"""The toy target: cloudserve's in-memory FakeProvider under another name, with its own
settings (zone, size, price) and its own plan-time rule."""

from __future__ import annotations

from typing import Any

from cloudserve.provider import DesiredEndpoint, DesiredVersion, PlanNote
from cloudserve.testing.fake import FakeCloud, FakeProvider
from cloudserve_toy.settings import ToySettings

CLOUD = FakeCloud()  # one toy cloud per process: plan and apply see the same endpoints


class ToyProvider(FakeProvider):
    name = "toy"

    def __init__(
        self, settings: Any = None, *, offline: bool = False, cloud: FakeCloud | None = None
    ) -> None:
        super().__init__(settings or ToySettings(), offline=offline, cloud=cloud or CLOUD)
        self.toy: ToySettings = self.settings

    def validate(self, desired: DesiredEndpoint) -> list[str]:
        problems = list(super().validate(desired))
        settings = ToySettings.of(desired.deployment)
        if settings.zone == "south" and desired.deployment.spec.compute.replicas.min > 1:
            problems.append("targets.toy.zone: the south zone runs one replica at most")
        return problems

    def resolve_instance_type(self, deployment: Any) -> str | None:
        return ToySettings.of(deployment).size

    def plan_note(self, desired: DesiredEndpoint, version: DesiredVersion) -> PlanNote:
        return PlanNote(instance_type=version.instance_type, hourly_price_usd=self.toy.hourly_usd)
