"""The local target's settings: the ``targets.local`` block of a spec."""

from __future__ import annotations

from pydantic import Field

from cloudserve.spec.targets import TargetSettings


class LocalSettings(TargetSettings):
    target = "local"

    host: str = Field(default="127.0.0.1", description="Bind address. Only change to expose it deliberately.")
    port: int | None = Field(default=None, ge=0, le=65535, description="Fixed port; a free one when omitted.")
    state_dir: str | None = Field(
        default=None,
        description=(
            "Where endpoints record pid and port. Default ~/.cloudserve/local; a deployment "
            "there belongs to the spec folder that created it."
        ),
    )
