"""The ``targets.toy`` block: imports only pydantic and the core, as settings modules must."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cloudserve.spec.targets import TargetSettings


class ToySettings(TargetSettings):
    target = "toy"

    zone: Literal["north", "south"] = Field(default="north", description="Where the toy cloud runs it.")
    size: str = Field(default="toy.small", description="The toy cloud's instance type.")
    hourly_usd: float = Field(default=0.25, ge=0, description="What one replica costs per hour.")
