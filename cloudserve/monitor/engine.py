"""Comparing a window of live data with a baseline profile, feature by feature.

How ``method: auto`` chooses, per column (``n`` is the smaller of the baseline's and
the window's count of present values):

============  ==========  ====================================================
kind          n <= 1000   n > 1000
============  ==========  ====================================================
numeric       ``ks``      ``wasserstein`` (normalised by the baseline's std)
categorical   ``chi2``    ``js`` (Jensen-Shannon distance of the frequencies)
============  ==========  ====================================================

Why: on small windows a distance is mostly sampling noise, and a test that accounts for
sample size (Kolmogorov-Smirnov, chi-square homogeneity) is the honest judge. On large
windows every test becomes significant for shifts nobody cares about (a 0.5% move in a
mean on a million rows has p ~ 0), so an effect size with a fixed threshold decides.
A numeric column with at most 10 distinct baseline values is categorical.

Thresholds: for distances (psi, js, wasserstein) drift is ``score >= threshold``, where
the Wasserstein score is the distance divided by the baseline's standard deviation (so
one threshold means the same on every scale: 0.1 is a tenth of a std); for
tests (ks, chi2) the score is the p-value and drift is ``p < threshold``. Defaults:
psi 0.2, js 0.1, wasserstein 0.1, ks and chi2 0.05. Under ``auto`` a global threshold
applies to the distances it picks, while the tests it picks for small windows keep
p < 0.05, because one number cannot be both a distance and a significance level.
A per-feature threshold always applies to whatever method that feature ended up with.

Every statistic is computed for every column anyway (for a numeric column they share
one sort of the window), and reported in ``statistics``; the method only picks which one
decides (except the KS p-value on samples over 10,000 values, computed only when ks
decides: scipy's exact Kolmogorov distribution can take a second per column there, for
a p-value that is ~0 anyway). On numeric columns psi, js and chi2 use the baseline's decile bins (open-ended,
so values outside the baseline's range still count); on categorical columns they use
the categories of both samples, new ones included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import numpy as np

from cloudserve.monitor.columns import CategoricalColumn, NumericColumn
from cloudserve.monitor.config import TEST_METHODS, Method
from cloudserve.monitor.profile import (
    BaselineProfile,
    CategoricalProfile,
    NumericProfile,
    load_or_build,
    worker_count,
)
from cloudserve.monitor.readers import Table, open_table
from cloudserve.monitor.result import DriftResult, FeatureResult, Histogram, Status
from cloudserve.monitor.sorting import sort_values
from cloudserve.monitor.stats import (
    KS_EXACT_MAX_N,
    FloatArray,
    bin_counts,
    chi2_two_sample,
    js_distance,
    ks_test,
    proportions,
    psi,
    wasserstein,
)

METHODS: tuple[str, ...] = get_args(Method)
DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.2,
    "js": 0.1,
    "wasserstein": 0.1,
    "ks": 0.05,
    "chi2": 0.05,
}
#: At or below this many values ``auto`` uses a significance test (see module docs).
AUTO_SMALL_SAMPLE = 1000
#: Floor of the baseline std used to normalise Wasserstein, so constant-ish columns
#: do not divide by zero (Evidently uses the same floor, which keeps decisions comparable).
STD_FLOOR = 1e-3
REPORT_BINS = 30
REPORT_TOP_CATEGORIES = 12
LISTED_NEW_CATEGORIES = 20


@dataclass(frozen=True)
class DriftOptions:
    """How to judge drift: the spec's ``method``, ``threshold``, ``thresholds``, ``features``."""

    method: Method = "auto"
    threshold: float | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    features: Sequence[str] | None = None


def choose_method(kind: str, n: int, requested: Method) -> tuple[str, str]:
    """The method for one column, and a note when the requested one could not be used."""
    if requested == "auto":
        if kind == "numeric":
            return ("ks" if n <= AUTO_SMALL_SAMPLE else "wasserstein"), ""
        return ("chi2" if n <= AUTO_SMALL_SAMPLE else "js"), ""
    if kind == "categorical" and requested in ("ks", "wasserstein"):
        fallback, _ = choose_method(kind, n, "auto")
        return (
            fallback,
            f"{requested} needs ordered values; used {fallback} for this categorical column",
        )
    return requested, ""


def threshold_for(name: str, method: str, options: DriftOptions) -> float:
    """Per-feature override, else the global threshold where it applies, else the default."""
    if name in options.thresholds:
        return float(options.thresholds[name])
    auto_test = options.method == "auto" and method in TEST_METHODS
    if options.threshold is not None and not auto_test:
        return float(options.threshold)
    return DEFAULT_THRESHOLDS[method]


def compare(
    profile: BaselineProfile,
    table: Table,
    options: DriftOptions | None = None,
    *,
    source: str = "",
) -> DriftResult:
    """Judge every watched feature of one window against the baseline profile."""
    options = options or DriftOptions()
    present = set(table.names)
    if options.features is not None:
        watched, extra = list(options.features), []
    else:
        # Baseline columns that could not be profiled keep their reason (unsupported,
        # empty) instead of reading as absent from the baseline.
        skipped = [n for n in profile.skipped if n in present and n not in profile.columns]
        watched = [*profile.columns, *skipped]
        known = set(watched)
        extra = [n for n in table.names if n not in known]

    def one(name: str) -> FeatureResult:
        return compare_feature(name, profile, table, present, options)

    with ThreadPoolExecutor(max_workers=worker_count(len(watched))) as pool:
        features = list(pool.map(one, watched))
    features += [_bare(name, "not_in_baseline", "column is not in the baseline") for name in extra]
    return DriftResult.build(
        features=features,
        method=options.method,
        baseline_source=profile.source,
        baseline_rows=profile.rows,
        current_source=source,
        current_rows=table.rows,
        notes=list(getattr(table, "notes", [])),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def compare_feature(
    name: str,
    profile: BaselineProfile,
    table: Table,
    present: set[str],
    options: DriftOptions,
) -> FeatureResult:
    """One feature's verdict; data problems become a status, never an exception."""
    baseline = profile.columns.get(name)
    if baseline is None:
        reason = profile.skipped.get(name, "not in baseline")
        status: Status = (
            "unsupported"
            if reason.startswith("unsupported")
            else "baseline_empty"
            if reason.startswith("empty")
            else "not_in_baseline"
        )
        return _bare(name, status, f"column {reason}")
    kind = "numeric" if isinstance(baseline, NumericProfile) else "categorical"
    if name not in present or baseline.count == 0:
        result = _counts_part(name, kind, baseline.count, baseline.nulls, 0, 0)
        result.current_null_fraction = None
        if name not in present and table.rows == 0:
            result.status, result.message = "no_data", "no rows in the current window"
        elif name not in present:
            result.status, result.message = "missing", "column is absent from the current window"
        else:
            result.status, result.message = "baseline_empty", "every baseline value is missing"
        return result
    if isinstance(baseline, NumericProfile):
        data = table.column(name, "numeric")
        assert isinstance(data, NumericColumn)
        return _numeric(name, baseline, data, options)
    counted = table.column(name, "categorical")
    assert isinstance(counted, CategoricalColumn)
    return _categorical(name, baseline, counted, options)


def _bare(name: str, status: Status, message: str, kind: str = "") -> FeatureResult:
    return FeatureResult(name=name, kind=kind, status=status, message=message)


def _no_data(
    name: str, kind: str, rows: int, base: FeatureResult, invalid: int = 0, example: str = ""
) -> FeatureResult:
    message = "no rows in the current window" if rows == 0 else f"all {rows} current values are missing"
    if rows and invalid:
        message = f"none of {rows} current values is a number ({invalid} not numeric, e.g. {example})"
    return FeatureResult(
        name=name,
        kind=kind,
        status="no_data",
        message=message,
        baseline_count=base.baseline_count,
        baseline_null_fraction=base.baseline_null_fraction,
        current_null_fraction=1.0 if rows else None,
        baseline_mean=base.baseline_mean,
        baseline_std=base.baseline_std,
    )


def _numeric(
    name: str, baseline: NumericProfile, data: NumericColumn, options: DriftOptions
) -> FeatureResult:
    base = _counts_part(name, "numeric", baseline.count, baseline.nulls, data.rows, data.nulls)
    # The profile's moments are exact even when its sketch is not, so they are used as is.
    base.baseline_mean, base.baseline_std = baseline.mean, baseline.std
    current = sort_values(data.values)
    if current.size == 0:
        return _no_data(name, "numeric", data.rows, base, data.invalid, data.example)
    base.current_mean, base.current_std = float(current.mean()), float(current.std())
    sketch = baseline.sketch
    n = min(baseline.count, int(current.size))
    decider, _ = choose_method("numeric", n, options.method)
    ks = ks_test(
        sketch,
        current,
        n_a=None if baseline.exact else baseline.count,
        p_value=decider == "ks" or max(baseline.count, current.size) <= KS_EXACT_MAX_N,
    )
    distance = wasserstein(sketch, current)
    current_bins = bin_counts(current, baseline.edges)
    expected, actual = proportions(baseline.bins), proportions(current_bins)
    chi2 = chi2_two_sample(baseline.bins, current_bins)
    statistics = {
        "ks": ks.statistic,
        "ks_p_value": ks.p_value,
        "wasserstein": distance,
        "wasserstein_normed": distance / max(baseline.std, STD_FLOOR),
        "psi": psi(expected, actual),
        "js": js_distance(expected, actual),
        "chi2": chi2.statistic,
        "chi2_p_value": chi2.p_value,
    }
    integer = baseline.integer and _whole(current)
    return _decide(base, statistics, n, options, _numeric_histogram(sketch, current, integer=integer))


def _categorical(
    name: str, baseline: CategoricalProfile, data: CategoricalColumn, options: DriftOptions
) -> FeatureResult:
    base = _counts_part(name, "categorical", baseline.count, baseline.nulls, data.rows, data.nulls)
    current_total = sum(data.counts.values())
    if current_total == 0:
        return _no_data(name, "categorical", data.rows, base)
    new = sorted((k for k in data.counts if k not in baseline.counts), key=lambda k: -data.counts[k])
    keys = [*baseline.counts, *new]
    expected_counts = np.array([baseline.counts.get(k, 0) for k in keys], dtype=np.int64)
    actual_counts = np.array([data.counts.get(k, 0) for k in keys], dtype=np.int64)
    expected, actual = proportions(expected_counts), proportions(actual_counts)
    chi2 = chi2_two_sample(expected_counts, actual_counts)
    statistics = {
        "psi": psi(expected, actual),
        "js": js_distance(expected, actual),
        "chi2": chi2.statistic,
        "chi2_p_value": chi2.p_value,
    }
    base.new_categories = new[:LISTED_NEW_CATEGORIES]
    base.new_category_shares = [data.counts[k] / current_total for k in base.new_categories]
    base.new_category_count = len(new)
    base.new_category_fraction = float(actual_counts[len(baseline.counts) :].sum() / current_total)
    n = min(baseline.count, current_total)
    histogram = _category_histogram(keys, expected, actual, new=len(new))
    return _decide(base, statistics, n, options, histogram)


def _counts_part(
    name: str, kind: str, base_count: int, base_nulls: int, rows: int, nulls: int
) -> FeatureResult:
    return FeatureResult(
        name=name,
        kind=kind,
        status="ok",
        baseline_count=base_count,
        current_count=rows - nulls,
        baseline_null_fraction=_fraction(base_nulls, base_count + base_nulls),
        current_null_fraction=_fraction(nulls, rows),
    )


def _fraction(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _decide(
    result: FeatureResult,
    statistics: dict[str, float],
    n: int,
    options: DriftOptions,
    histogram: Histogram,
) -> FeatureResult:
    method, note = choose_method(result.kind, n, options.method)
    threshold = threshold_for(result.name, method, options)
    if method in TEST_METHODS:
        score = statistics[f"{method}_p_value"]
        drifted = bool(score < threshold)
    else:
        score = statistics["wasserstein_normed" if method == "wasserstein" else method]
        drifted = bool(score >= threshold)
    result.method = method
    result.threshold = threshold
    result.score = score
    result.drifted = drifted
    result.status = "drift" if drifted else "ok"
    result.statistics = statistics
    result.histogram = histogram
    result.message = note
    return result


def _numeric_histogram(sketch: FloatArray, current: FloatArray, *, integer: bool = False) -> Histogram:
    """Equal-width bins over the central 99% of both samples; outliers join the end bins."""
    lo = min(_quantile(sketch, 0.005), _quantile(current, 0.005))
    hi = max(_quantile(sketch, 0.995), _quantile(current, 0.995))
    # Half-integer edges are exact only while whole numbers are (below 2**52).
    integer = integer and max(abs(lo), abs(hi)) < 2.0**52
    if integer:
        edges = _integer_edges(lo, hi)
    else:
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, REPORT_BINS + 1)
    inner = edges[1:-1]
    return Histogram(
        labels=[f"{x:.1f}" for x in edges] if integer else edge_labels(edges),
        baseline=proportions(bin_counts(sketch, inner)).tolist(),
        current=proportions(bin_counts(current, inner)).tolist(),
        numeric=True,
        integer=integer,
    )


def _whole(values: FloatArray) -> bool:
    return bool(np.all(np.floor(values) == values))


def _integer_edges(lo: float, hi: float) -> FloatArray:
    """Half-integer edges, ``k`` whole values per bin (the last bin may hold fewer):
    equal-width bins over whole numbers otherwise leave some bins between two integers
    empty (a comb)."""
    first, last = math.floor(lo), math.ceil(hi)
    per_bin = max(1, math.ceil((last - first + 1) / REPORT_BINS))
    bins = math.ceil((last - first + 1) / per_bin)
    edges: FloatArray = first - 0.5 + per_bin * np.arange(bins + 1, dtype=np.float64)
    # The last bin ends at the last value, so it holds only the values there can be.
    edges[-1] = min(edges[-1], last + 0.5)
    return edges


def edge_labels(edges: FloatArray) -> list[str]:
    """Axis labels a person reads at a glance (40.2k rather than 4.016e+04), each with
    the digits the bin width needs, so near-constant columns do not read "1k 1k 1k"."""
    width = float(np.min(np.diff(edges))) if edges.size > 1 else 1.0
    magnitude = float(np.max(np.abs(edges))) if edges.size else 1.0
    if not (math.isfinite(width) and math.isfinite(magnitude)):  # a span past float range
        return [f"{x:.3g}" for x in edges]
    labels: list[str] = []
    for extra in range(12):  # one more decimal until every edge reads differently
        labels = [_short_number(float(x), width, magnitude, extra) for x in edges]
        if len(set(labels)) == len(labels):
            break
    return labels


def _short_number(value: float, width: float, magnitude: float, extra: int = 0) -> str:
    """``value`` to the resolution of ``width``, on the axis's scale (one suffix for all)."""
    if value == 0:
        return "0"
    if not 1e-3 <= magnitude < 1e15:
        # Scientific, with as many significant digits as the bin width needs.
        step = math.log10(width) if width > 0 else math.log10(magnitude) - 3
        digits = min(17, max(2, math.floor(math.log10(magnitude)) - math.floor(step) + 1))
        return f"{value:.{digits - 1 + extra}e}"
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        decimals = _decimals(width / limit) + extra
        # A suffix that needs many decimals reads worse than the plain number.
        if magnitude >= limit and decimals <= 2:
            return _plain(value / limit, decimals) + suffix
    return _plain(value, _decimals(width) + extra)


def _decimals(step: float) -> int:
    """Decimal places that resolve ``step``: 0.0033 needs 3, 5 needs none."""
    return max(0, math.ceil(-math.log10(step))) if step > 0 else 0


def _plain(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _quantile(ordered: FloatArray, q: float) -> float:
    return float(ordered[int(q * (ordered.size - 1))])


def _category_histogram(
    keys: list[str], expected: FloatArray, actual: FloatArray, *, new: int = 0
) -> Histogram:
    """The categories that matter most in either sample, and every new one (up to
    ``LISTED_NEW_CATEGORIES``, however rare); the rest summed as "(other)".

    ``keys`` end with the ``new`` new categories. Categories that are all numbers
    (ratings 1..5, small codes) are ordinal, so they are shown in value order.
    """
    order = np.argsort(-np.maximum(expected, actual), kind="stable")
    shown = [int(i) for i in order[:REPORT_TOP_CATEGORIES]]
    first_new = len(keys) - new
    listed_new = range(first_new, min(len(keys), first_new + LISTED_NEW_CATEGORIES))
    shown += [i for i in listed_new if i not in shown]
    if all(_number_or_none(k) is not None for k in keys):
        shown.sort(key=lambda i: _number_or_none(keys[i]) or 0.0)
    labels = [keys[i] for i in shown]
    baseline = [float(expected[i]) for i in shown]
    current = [float(actual[i]) for i in shown]
    rest = np.setdiff1d(np.arange(len(keys)), shown)
    if rest.size:
        labels.append("(other)")
        baseline.append(float(expected[rest].sum()))
        current.append(float(actual[rest].sum()))
    return Histogram(labels=labels, baseline=baseline, current=current, numeric=False)


def _number_or_none(key: str) -> float | None:
    try:
        value = float(key)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def evaluate(
    baseline: str | Path | BaselineProfile,
    current: str | Path | Table,
    options: DriftOptions | None = None,
    *,
    store: str | Path | None = None,
    version: str | None = None,
    since: datetime | None = None,
) -> DriftResult:
    """Profile the baseline (or reuse its stored profile) and judge one window against it.

    ``current`` is a CSV or Parquet file, capture logs (a ``.jsonl`` file or a folder of
    them, narrowed by ``version`` and ``since``), or an already opened table.
    """
    options = options or DriftOptions()
    if isinstance(baseline, BaselineProfile):
        profile = baseline
    else:
        profile = load_or_build(baseline, store=store, features=options.features)
    if isinstance(current, str | Path):
        table = open_table(current, columns=profile.input_columns(), version=version, since=since)
        source = str(current)
    else:
        table, source = current, "<table>"
    return compare(profile, table, options, source=source)
