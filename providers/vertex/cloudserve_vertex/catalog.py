"""Vertex AI prediction machine types, accelerators, prices and prebuilt containers.

The data lives in ``catalog.json`` beside this module, dated and with its sources named,
so `plan` can show a machine type and an hourly price without calling any cloud API and
a reviewer can see where each number came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cloudserve.catalog import Offer
from cloudserve.catalog import smallest_fit as cheapest_fit
from cloudserve.errors import InvalidSpec
from cloudserve.spec.models import Deployment, ModelSpec

GIB_PER_MIB = 1 / 1024


@dataclass(frozen=True)
class MachineType:
    name: str
    vcpu: float
    memory_gib: float
    hourly_usd: float
    bundled_accelerator: str | None = None  # g2/a2 machine types come with their GPUs
    bundled_count: int = 0

    @property
    def family(self) -> str:
        return self.name.split("-", 1)[0]


@dataclass(frozen=True)
class Choice:
    """A resolved machine: what goes into ``dedicatedResources.machineSpec``."""

    machine_type: str
    accelerator_type: str | None
    accelerator_count: int
    hourly_usd: float | None


@cache
def data() -> dict[str, Any]:
    text = resources.files("cloudserve_vertex").joinpath("catalog.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def machine_types() -> dict[str, MachineType]:
    out: dict[str, MachineType] = {}
    for row in data()["machine_types"]:
        accel = row.get("accelerator") or {}
        out[row["name"]] = MachineType(
            name=row["name"],
            vcpu=row["vcpu"],
            memory_gib=row["memory_gib"],
            hourly_usd=row["hourly_usd"],
            bundled_accelerator=accel.get("type"),
            bundled_count=accel.get("count", 0),
        )
    return out


def vertex_accelerator(portable: str) -> str:
    """``nvidia-t4`` -> ``NVIDIA_TESLA_T4``; Vertex's own enum names pass through."""
    names: dict[str, str] = data()["accelerator_names"]
    if portable in names:
        return names[portable]
    if portable.upper() in names.values():
        return portable.upper()
    raise InvalidSpec(
        f"accelerator {portable!r} is not offered for Vertex AI prediction",
        hint=f"use one of {', '.join(sorted(names))}",
        target="vertex",
    )


def _price(machine: MachineType, accel: str | None, count: int) -> float:
    price = machine.hourly_usd
    if accel and not machine.bundled_accelerator:
        price += data()["attachable_accelerators"][accel]["hourly_usd"] * count
    return round(price, 4)


@cache
def offers() -> tuple[Offer, ...]:
    """Every machine type as the core catalog engine matches sizes against it: bare, with its
    own GPUs (A2/G2), or once per attachable GPU and count it takes (N1), priced together."""
    out: list[Offer] = []
    attachable: dict[str, Any] = data()["attachable_accelerators"]
    for m in machine_types().values():
        if m.bundled_accelerator is not None:
            out.append(
                Offer(m.name, m.vcpu, m.memory_gib, m.hourly_usd, m.bundled_accelerator, m.bundled_count)
            )
            continue
        out.append(Offer(m.name, m.vcpu, m.memory_gib, m.hourly_usd))
        for accel, spec in attachable.items():
            if m.family in spec["families"]:
                out += [
                    Offer(m.name, m.vcpu, m.memory_gib, _price(m, accel, count), accel, count)
                    for count in spec["counts"]
                ]
    return tuple(out)


def smallest_fit(cpu: float, memory_mib: float, accelerator: str | None, count: int) -> Choice:
    """The cheapest machine type with at least the asked vCPUs, memory and accelerators."""
    accel = vertex_accelerator(accelerator) if accelerator else None
    # On Vertex the GPU count is part of the request and must be one the machine takes: 3 T4s
    # are refused, not rounded up to 4 (the engine's "at least" would pick 4).
    exact = [o for o in offers() if o.accelerator is None or o.accelerator_count == count]
    best = cheapest_fit(exact, cpu, memory_mib, accel, count if accel else 0)
    if best is None:
        memory_gib = memory_mib * GIB_PER_MIB
        want = f"{cpu:g} vCPU, {memory_gib:g} GiB" + (f", {count}x {accel}" if accel else "")
        raise InvalidSpec(
            f"no Vertex AI prediction machine type in the catalog fits {want}",
            hint="lower the size, or name one with compute.instance_type.vertex",
            target="vertex",
        )
    return Choice(best.name, best.accelerator, best.accelerator_count, best.hourly_usd)


def choose(deployment: Deployment) -> Choice:
    """The machine for a deployment: ``compute.instance_type.vertex`` wins over the size."""
    compute = deployment.spec.compute
    accel = compute.accelerator
    override = compute.instance_type.get("vertex")
    if override:
        machine = machine_types().get(override)
        if machine is None:
            # The catalog holds the prediction tables of "Configure compute resources for
            # prediction"; a type outside them is refused by Vertex AI at deploy time.
            raise InvalidSpec(
                f"compute.instance_type.vertex {override!r} is not a Vertex AI prediction machine type",
                hint=f"use one of {', '.join(machine_types())}",
                target="vertex",
            )
        accel_type = vertex_accelerator(accel.type) if accel else None
        count = accel.count if accel else 0
        _check_override_accelerator(machine, accel_type, count)
        if machine.bundled_accelerator:
            accel_type, count = machine.bundled_accelerator, machine.bundled_count
        return Choice(override, accel_type, count, _price(machine, accel_type, count))
    return smallest_fit(
        compute.cpu, compute.memory, accel.type if accel else None, accel.count if accel else 1
    )


def _check_override_accelerator(machine: MachineType, accel: str | None, count: int) -> None:
    """An explicit machine type with compute.accelerator: the GPU must be one it takes
    (N1 types attach T4/V100/P100/P4 in the listed counts; A2/G2 types come with their own
    GPU, at most as many as they carry). Refused rather than silently replaced."""
    if accel is None:
        return
    if machine.bundled_accelerator is not None:
        ok = accel == machine.bundled_accelerator and count <= machine.bundled_count
        offer = f"comes with {machine.bundled_count}x {machine.bundled_accelerator}"
    else:
        spec = data()["attachable_accelerators"].get(accel)
        ok = spec is not None and machine.family in spec["families"] and count in spec["counts"]
        offer = "takes " + (
            f"{accel} in counts {spec['counts']} on {'/'.join(spec['families'])} types"
            if spec
            else f"no attachable {accel}"
        )
    if not ok:
        raise InvalidSpec(
            f"compute.accelerator {count}x {accel} cannot run on compute.instance_type.vertex "
            f"{machine.name} (it {offer}; 'Configure compute resources for prediction', GPUs)",
            hint="drop compute.instance_type.vertex to let plan choose, or change the accelerator",
            target="vertex",
        )


# Vertex AI serves each prebuilt container from three multi-region Artifact Registry
# repositories (us, europe, asia). The SDK's own lookup
# (google.cloud.aiplatform.helpers.get_prebuilt_prediction_container_uri) takes the part of
# the location before the first dash and knows only those three; the other geographies
# get the nearest one here, as the "Prebuilt containers for prediction" page advises.
_NEAREST_REPOSITORY = {
    "northamerica": "us",
    "southamerica": "us",
    "me": "europe",
    "africa": "europe",
    "australia": "asia",
}


def container_repository(location: str) -> str:
    """The prebuilt-container repository (us, europe or asia) for a Vertex AI location."""
    geography = location.split("-", 1)[0]
    if geography in ("us", "europe", "asia"):
        return geography
    return _NEAREST_REPOSITORY.get(geography, "us")


def container_image(model: ModelSpec, location: str) -> str | None:
    """The prebuilt prediction container for a framework and version, from the repository
    nearest ``location``, or None."""
    table = data()["containers"]
    names: list[str] | None = table.get(model.framework)
    if not names or not model.framework_version:
        return None
    parts = model.framework_version.split(".")
    wanted = f"{model.framework}-cpu.{'-'.join(parts[:2])}"
    if wanted in names:
        return str(table["image_template"]).format(repository=container_repository(location), name=wanted)
    return None


def container_versions(framework: str) -> list[str]:
    names: list[str] = data()["containers"].get(framework, [])
    return [n.split(".", 1)[1].replace("-", ".") for n in names]
