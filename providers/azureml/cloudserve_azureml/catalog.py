"""The dated catalog of Azure ML managed online endpoint SKUs, and the smallest fit.

Shipped in the package (catalog.json names its sources and date) so `plan` can show an
instance type and an hourly price offline. ``compute.instance_type.azureml`` overrides it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cloudserve.errors import InvalidSpec
from cloudserve.spec.models import Compute


@dataclass(frozen=True)
class Sku:
    name: str
    vcpu: int
    memory_gib: float
    gpu: str | None
    gpu_count: int
    hourly_usd: float


@cache
def catalog() -> tuple[str, tuple[Sku, ...]]:
    """(as-of date, SKUs) from catalog.json."""
    data = json.loads((Path(__file__).resolve().parent / "catalog.json").read_text())
    return data["as_of"], tuple(Sku(**s) for s in data["skus"])


def find(name: str) -> Sku | None:
    return next((s for s in catalog()[1] if s.name.lower() == name.lower()), None)


def smallest_fit(compute: Compute) -> Sku:
    """The cheapest SKU with at least the asked vCPU, memory and accelerators."""
    want_gpu = compute.accelerator.type if compute.accelerator else None
    want_count = compute.accelerator.count if compute.accelerator else 0
    fits = [
        s
        for s in catalog()[1]
        if s.vcpu >= compute.cpu
        and s.memory_gib * 1024 >= compute.memory
        and s.gpu == want_gpu
        and s.gpu_count >= want_count
    ]
    if not fits:
        what = f"{compute.cpu:g} vCPU, {compute.memory / 1024:g} GiB"
        if want_gpu:
            what += f", {want_count}x {want_gpu}"
        gpus = sorted({s.gpu for s in catalog()[1] if s.gpu})
        raise InvalidSpec(
            f"no Azure ML managed online SKU in cloudserve's catalog fits {what}",
            hint=f"set compute.instance_type.azureml explicitly; catalogued accelerators: {', '.join(gpus)}",
            target="azureml",
        )
    return min(fits, key=lambda s: (s.hourly_usd, s.vcpu, s.memory_gib))
