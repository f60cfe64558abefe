"""Azure ML's settings: the ``targets.azureml`` block of a spec.

Imported by every spec that writes the block (``cloudserve validate`` included): pydantic and
the core only, never azure-ai-ml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cloudserve.spec.targets import TargetSettings


class AzureMLSettings(TargetSettings):
    target = "azureml"

    subscription_id: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    auth_mode: Literal["key", "aml_token", "aad_token"] = "key"
    offline: bool = Field(
        default=False,
        description="Build each version's image from a build context that carries every wheel, "
        "so Azure's image build needs no package index (fetched once, at apply, on this machine).",
    )
