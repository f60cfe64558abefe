"""The engine's column sort gives numpy's answer, with or without polars."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cloudserve.monitor.sorting import POLARS_MIN, sort_values


def _column() -> np.ndarray:
    rng = np.random.default_rng(5)
    values = np.concatenate(
        [
            rng.normal(size=POLARS_MIN),
            rng.integers(-3, 3, size=POLARS_MIN).astype(np.float64),  # many ties
            [0.0, -0.0, 1e308, -1e308, 5e-324, -5e-324],
        ]
    )
    rng.shuffle(values)
    return values


@pytest.mark.parametrize("polars", [True, False])
def test_sorted_like_numpy(polars: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not polars:
        monkeypatch.setitem(sys.modules, "polars", None)  # import polars -> ImportError
    values = _column()
    before = values.copy()
    ordered = sort_values(values)
    assert ordered.dtype == np.float64
    assert np.array_equal(ordered, np.sort(values))
    assert np.array_equal(values, before)  # the input is left alone


def test_small_columns() -> None:
    assert sort_values(np.array([3.0, -1.0, 2.0])).tolist() == [-1.0, 2.0, 3.0]
    assert sort_values(np.empty(0)).size == 0
