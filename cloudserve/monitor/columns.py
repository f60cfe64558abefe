"""The two shapes a column takes inside the engine, and how raw values become them.

A numeric column is its finite values as float64 (NaN, infinities and unparseable
values count as missing); a categorical column is only ever needed as counts per
category, so it is reduced to a ``{category: count}`` mapping as soon as it is read and
never held value by value. Category keys are canonical strings, so that ``1``, ``1.0``
and ``"1"`` from CSV, Parquet and JSON captures all land on the same category.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Kind = Literal["numeric", "categorical"]

#: A numeric baseline column with at most this many distinct values is treated as
#: categorical (flags, counts of children, ratings): binning a handful of values into
#: quantile bins or comparing CDF areas over them says less than comparing frequencies.
DISCRETE_MAX_DISTINCT = 10


@dataclass(frozen=True)
class NumericColumn:
    """Finite values of a numeric column, in no particular order, and how many were missing."""

    values: NDArray[np.float64]
    nulls: int
    #: Of ``nulls``, the values that were present but not numbers (``"abc"``, ``true``).
    invalid: int = 0
    #: One such value as text (cut short), to say what the window held instead.
    example: str = ""

    @property
    def rows(self) -> int:
        return int(self.values.size) + self.nulls


@dataclass(frozen=True)
class CategoricalColumn:
    """Counts per canonical category key, and how many values were missing."""

    counts: Mapping[str, int] = field(default_factory=dict)
    nulls: int = 0

    @property
    def rows(self) -> int:
        return sum(self.counts.values()) + self.nulls


ColumnData = NumericColumn | CategoricalColumn


def category_key(value: object) -> str | None:
    """The canonical category of one raw value, or None when it counts as missing."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    text = str(value)
    return text if text != "" else None


def numeric_value(value: object) -> float | None:
    """One raw value as a finite float, or None when it is missing or not a number."""
    if value is None or isinstance(value, bool | np.bool_):
        return None
    try:
        if isinstance(value, int | float | np.integer | np.floating):
            number = float(value)  # an int of 400 digits overflows a float
        elif isinstance(value, str):
            number = float(value)
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def looks_numeric(values: Iterable[object]) -> bool:
    """Whether every present value is a number (or a numeric string, as CSV gives them).

    Strings such as ``"nan"`` or ``"inf"`` parse as numbers and so do not make a column
    categorical; they are then counted as missing like any non-finite value.
    """
    seen = False
    for value in values:
        if value is None or value == "":
            continue
        if isinstance(value, bool | np.bool_):
            return False
        if isinstance(value, int | float | np.integer | np.floating):
            seen = True
            continue
        if not isinstance(value, str):
            return False
        try:
            float(value)
        except ValueError:
            return False
        seen = True
    return seen


def numeric_from_values(values: Iterable[object]) -> NumericColumn:
    """Coerce raw Python values to a numeric column; what does not parse is missing."""
    parsed: list[float] = []
    total = invalid = 0
    example = ""
    for value in values:
        total += 1
        number = numeric_value(value)
        if number is not None:
            parsed.append(number)
        elif not _absent(value):
            invalid += 1
            if not example:
                example = repr(value[: EXAMPLE_CHARS + 1] if isinstance(value, str) else value)
    finite = np.array(parsed, dtype=np.float64)
    if len(example) > EXAMPLE_CHARS:
        example = f"{example[:EXAMPLE_CHARS]}\u2026"
    return NumericColumn(values=finite, nulls=total - int(finite.size), invalid=invalid, example=example)


#: Longest example of a non-numeric value quoted in a message.
EXAMPLE_CHARS = 60


def _absent(value: object) -> bool:
    """Missing rather than wrong: None, empty text, NaN and infinities."""
    if value is None or value == "":
        return True
    if isinstance(value, float | np.floating):
        return not math.isfinite(float(value))
    if isinstance(value, str):
        try:
            float(value)  # "nan", "inf", "1e999": numbers, just not finite ones
        except ValueError:
            return False
        return True
    return False


def categorical_from_values(values: Iterable[object]) -> CategoricalColumn:
    """Count raw Python values by canonical category."""
    counter: Counter[str] = Counter()
    nulls = 0
    for value in values:
        key = category_key(value)
        if key is None:
            nulls += 1
        else:
            counter[key] += 1
    return CategoricalColumn(counts=dict(counter), nulls=nulls)


def merge_counts(pairs: Iterable[tuple[object, int]]) -> tuple[dict[str, int], int]:
    """Fold (raw value, count) pairs into canonical counts plus a missing count."""
    counts: dict[str, int] = {}
    nulls = 0
    for value, count in pairs:
        key = category_key(value)
        if key is None:
            nulls += int(count)
        else:
            counts[key] = counts.get(key, 0) + int(count)
    return counts, nulls


def finite_only(values: NDArray[np.float64]) -> NumericColumn:
    """Drop NaN and infinities from a float array, counting them as missing."""
    mask = np.isfinite(values)
    if mask.all():
        return NumericColumn(values=values, nulls=0)
    kept = values[mask]
    return NumericColumn(values=kept, nulls=int(values.size - kept.size))
