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

from cloudserve.errors import InvalidSpec
from cloudserve.spec.models import Compute


@dataclass(frozen=True)
class InstanceType:
    type: str
    vcpu: int
    memory_gib: float
    gpu: str | None
    gpu_count: int
    gpu_memory_gib: float
    price_per_hour: float
    burstable: bool


@dataclass(frozen=True)
class Catalog:
    as_of: str
    region: str
    source: str
    instances: tuple[InstanceType, ...]

    def get(self, name: str) -> InstanceType | None:
        return next((i for i in self.instances if i.type == name), None)

    def smallest_fit(self, compute: Compute) -> InstanceType:
        """The cheapest non-burstable instance with at least the requested resources."""
        accel = compute.accelerator
        fits = [
            i
            for i in self.instances
            if not i.burstable
            and i.vcpu >= compute.cpu
            and i.memory_gib * 1024 >= compute.memory
            and (accel is None or (i.gpu == accel.type and i.gpu_count >= accel.count))
            and (accel is not None or i.gpu is None)
        ]
        if not fits:
            want = f"{compute.cpu:g} vCPU, {compute.memory:g} MiB"
            if accel:
                want += f", {accel.count} x {accel.type}"
            known = sorted({i.gpu for i in self.instances if i.gpu})
            raise InvalidSpec(
                f"no SageMaker real-time instance in the catalog ({self.as_of}) fits {want}",
                hint="set compute.instance_type.sagemaker explicitly; accelerators known: "
                + ", ".join(known),
            )
        return min(fits, key=lambda i: (i.price_per_hour, i.vcpu, i.memory_gib))


@cache
def load_catalog() -> Catalog:
    raw: dict[str, Any] = json.loads(
        resources.files("cloudserve_sagemaker").joinpath("catalog.json").read_text()
    )
    return Catalog(
        as_of=raw["as_of"],
        region=raw["region"],
        source=raw["source"],
        instances=tuple(InstanceType(**row) for row in raw["instances"]),
    )
