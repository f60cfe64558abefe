"""The one catalog engine: smallest fit and what a row's price means, for every target."""

from __future__ import annotations

import pytest

from cloudserve.catalog import Offer, find, smallest_fit

OFFERS = (
    Offer("small", 2, 4, 0.10),
    Offer("burst", 2, 8, 0.05, burstable=True),
    Offer("big", 8, 32, 0.40),
    Offer("gpu-1", 4, 16, 0.90, "t4", 1),
    Offer("gpu-4", 16, 64, 3.00, "t4", 4),
    Offer("Mixed-Case", 4, 8, 0.20),
)


@pytest.mark.parametrize(
    ("cpu", "memory_mib", "accelerator", "count", "expected"),
    [
        (1, 1024, None, 0, "small"),  # burstable is never chosen, however cheap
        (2, 4096, None, 0, "small"),
        (2, 6000, None, 0, "Mixed-Case"),
        (6, 1024, None, 0, "big"),
        (1, 1024, "t4", 1, "gpu-1"),  # a GPU only when asked, and then never a CPU size
        (1, 1024, "t4", 2, "gpu-4"),
        (1, 1024, "a100", 1, None),
        (64, 1024, None, 0, None),
    ],
)
def test_smallest_fit(
    cpu: float, memory_mib: float, accelerator: str | None, count: int, expected: str | None
) -> None:
    best = smallest_fit(OFFERS, cpu, memory_mib, accelerator, count)
    assert (best.name if best else None) == expected


def test_find_and_the_bundled_catalogs_are_rows_of_one_type() -> None:
    assert find(OFFERS, "mixed-case") is None and find(OFFERS, "mixed-case", ignore_case=True) is not None
    from cloudserve_azureml import catalog as azure
    from cloudserve_sagemaker.catalog import load_catalog
    from cloudserve_vertex import catalog as vertex

    rows = [*load_catalog().instances, *azure.catalog()[1], *vertex.offers()]
    assert rows and all(type(row) is Offer and row.hourly_usd >= 0 for row in rows)
