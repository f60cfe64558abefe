"""The dated catalog of SageMaker real-time inference instance types shipped in the package.

Portable sizes (cpu, memory, accelerator) resolve to the cheapest instance that fits, so
one spec means the same thing on every target; ``compute.instance_type.sagemaker`` is the
escape hatch. The catalog carries its date and source because prices drift: ``plan``
shows them as estimates, never as a quote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cloudserve.catalog import Offer, find, smallest_fit
from cloudserve.errors import InvalidSpec
from cloudserve.spec.models import Compute


@dataclass(frozen=True)
class Catalog:
    as_of: str
    region: str
    source: str
    instances: tuple[Offer, ...]

    def get(self, name: str) -> Offer | None:
        return find(self.instances, name)

    def smallest_fit(self, compute: Compute) -> Offer:
        """The cheapest non-burstable instance with at least the requested resources."""
        accel = compute.accelerator
        best = smallest_fit(
            self.instances,
            compute.cpu,
            compute.memory,
            accel.type if accel else None,
            accel.count if accel else 0,
        )
        if best is None:
            want = f"{compute.cpu:g} vCPU, {compute.memory:g} MiB"
            if accel:
                want += f", {accel.count} x {accel.type}"
            known = sorted({i.accelerator for i in self.instances if i.accelerator})
            raise InvalidSpec(
                f"no SageMaker real-time instance in the catalog ({self.as_of}) fits {want}",
                hint="set compute.instance_type.sagemaker explicitly; accelerators known: "
                + ", ".join(known),
            )
        return best


@cache
def load_catalog() -> Catalog:
    raw: dict[str, Any] = json.loads(
        resources.files("cloudserve_sagemaker").joinpath("catalog.json").read_text()
    )
    return Catalog(
        as_of=raw["as_of"],
        region=raw["region"],
        source=raw["source"],
        instances=tuple(_offer(row) for row in raw["instances"]),
    )


def _offer(row: dict[str, Any]) -> Offer:
    return Offer(
        name=row["type"],
        vcpu=row["vcpu"],
        memory_gib=row["memory_gib"],
        hourly_usd=row["price_per_hour"],
        accelerator=row["gpu"],
        accelerator_count=row["gpu_count"],
        burstable=row["burstable"],
    )
