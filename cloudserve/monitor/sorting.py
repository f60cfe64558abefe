"""Sorting a numeric column, once, as fast as the installed libraries allow.

Every numeric statistic works on sorted values, and sorting is most of the engine's time:
on a million doubles numpy's sort takes ~62 ms on the 2-core CI machine, polars' ~31 ms
(one thread each; polars' Rust sort beats numpy's here, where numpy does not dispatch
its AVX-512 sort). So polars sorts when it is installed -- the ``monitor`` extra
installs it -- and numpy otherwise. Both get finite float64 values (``columns.finite_only``
drops NaN), so both give the same array.
"""

from __future__ import annotations

import numpy as np

from cloudserve.monitor.stats import FloatArray

#: Below this many values numpy's sort is as quick and needs no hand-over.
POLARS_MIN = 50_000


def sort_values(values: FloatArray) -> FloatArray:
    """``values`` sorted ascending, as a new array (possibly read-only)."""
    if values.size < POLARS_MIN:
        return np.sort(values)
    try:
        import polars as pl
    except ImportError:
        return np.sort(values)
    # Single-threaded: the engine already sorts one column per core.
    ordered: FloatArray = pl.Series(values=values).sort(multithreaded=False).to_numpy()
    return ordered
