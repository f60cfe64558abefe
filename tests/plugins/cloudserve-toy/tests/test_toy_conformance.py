"""The toy target passes cloudserve's conformance suite, as any plugin's tests would run it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cloudserve_toy.provider import ToyProvider
from cloudserve_toy.settings import ToySettings

from cloudserve.provider import Provider
from cloudserve.spec.models import Deployment
from cloudserve.testing.conformance import MakeSpec, ProviderConformance
from cloudserve.testing.fake import FakeCloud


class TestToyConformance(ProviderConformance):
    @pytest.fixture
    def provider(self) -> Provider:
        return ToyProvider(ToySettings(zone="north"), cloud=FakeCloud())

    @pytest.fixture
    def make_spec(self, tmp_path: Path) -> MakeSpec:
        for key in ("a", "b"):
            (tmp_path / f"model-{key}.joblib").write_bytes(f"model {key}".encode())

        def make(
            name: str, versions: dict[str, str], traffic: dict[str, int] | None = None, **_: Any
        ) -> Deployment:
            return Deployment.model_validate(
                {
                    "metadata": {"name": name},
                    "spec": {
                        "target": "toy",
                        "versions": {
                            v: {
                                "model": {
                                    "uri": str(tmp_path / f"model-{k}.joblib"),
                                    "framework": "sklearn",
                                    "trust_pickle": True,
                                }
                            }
                            for v, k in versions.items()
                        },
                        "traffic": traffic,
                    },
                    "targets": {"toy": {"zone": "north"}},
                }
            )

        return make
