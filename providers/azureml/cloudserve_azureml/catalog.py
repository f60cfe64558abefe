"""The dated catalog of Azure ML managed online endpoint SKUs, and the smallest fit.

Shipped in the package (catalog.json names its sources and date) so `plan` can show an
instance type and an hourly price offline. ``compute.instance_type.azureml`` overrides it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from cloudserve.catalog import Offer
from cloudserve.catalog import find as find_offer
from cloudserve.catalog import smallest_fit as cheapest_fit
from cloudserve.errors import InvalidSpec
from cloudserve.spec.models import Compute


@cache
def catalog() -> tuple[str, tuple[Offer, ...]]:
    """(as-of date, SKUs) from catalog.json."""
    data = json.loads((Path(__file__).resolve().parent / "catalog.json").read_text())
    skus = tuple(
        Offer(s["name"], s["vcpu"], s["memory_gib"], s["hourly_usd"], s["gpu"], s["gpu_count"])
        for s in data["skus"]
    )
    return data["as_of"], skus


def find(name: str) -> Offer | None:
    return find_offer(catalog()[1], name, ignore_case=True)  # Azure SKU names ignore case


def smallest_fit(compute: Compute) -> Offer:
    """The cheapest SKU with at least the asked vCPU, memory and accelerators."""
    want_gpu = compute.accelerator.type if compute.accelerator else None
    want_count = compute.accelerator.count if compute.accelerator else 0
    best = cheapest_fit(catalog()[1], compute.cpu, compute.memory, want_gpu, want_count)
    if best is None:
        what = f"{compute.cpu:g} vCPU, {compute.memory / 1024:g} GiB"
        if want_gpu:
            what += f", {want_count}x {want_gpu}"
        gpus = sorted({s.accelerator for s in catalog()[1] if s.accelerator})
        raise InvalidSpec(
            f"no Azure ML managed online SKU in cloudserve's catalog fits {what}",
            hint=f"set compute.instance_type.azureml explicitly; catalogued accelerators: {', '.join(gpus)}",
            target="azureml",
        )
    return best
