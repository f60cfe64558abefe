"""The instance catalog engine every target uses: one row type and one smallest-fit rule.

Each target ships a dated catalog of the sizes it sells (its provider's ``catalog.json``,
with sources) and turns it into :class:`Offer` rows; :func:`smallest_fit` picks the size a
portable ``compute`` block means there. A row's price is one instance for one hour, on
demand: the planner multiplies by the replicas, so a price means the same on every target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Offer:
    """One size a target sells, as a portable size is matched against it."""

    name: str
    vcpu: float
    memory_gib: float
    hourly_usd: float  # one instance for an hour, on demand, at the catalog's date and region
    accelerator: str | None = None  # in the target's own naming
    accelerator_count: int = 0
    burstable: bool = False  # never chosen: CPU credits run out under steady load

    def fits(self, cpu: float, memory_mib: float, accelerator: str | None, count: int) -> bool:
        """At least the vCPUs and memory; exactly the accelerator asked for (none when none is
        asked), at least ``count`` of it."""
        if self.burstable or self.vcpu < cpu or self.memory_gib * 1024 < memory_mib:
            return False
        if accelerator is None:
            return self.accelerator is None
        return self.accelerator == accelerator and self.accelerator_count >= count


def smallest_fit(
    offers: Iterable[Offer], cpu: float, memory_mib: float, accelerator: str | None = None, count: int = 0
) -> Offer | None:
    """The cheapest offer that fits (ties: fewer vCPUs, less memory, then by name), or None."""
    fitting = [o for o in offers if o.fits(cpu, memory_mib, accelerator, count)]
    return min(fitting, key=lambda o: (o.hourly_usd, o.vcpu, o.memory_gib, o.name), default=None)


def find(offers: Iterable[Offer], name: str, *, ignore_case: bool = False) -> Offer | None:
    """The offer named ``name`` (Azure's SKU names are case-insensitive)."""
    key = name.lower() if ignore_case else name
    return next((o for o in offers if (o.name.lower() if ignore_case else o.name) == key), None)
