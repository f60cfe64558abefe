"""Two-sample drift statistics over pre-sorted samples and category counts.

Every numeric statistic here takes *sorted* arrays. The engine sorts each column once
(the baseline when it is profiled, the current window when it is read) and then reuses
the same sorted arrays for Kolmogorov-Smirnov, Wasserstein and the binned statistics
(PSI, Jensen-Shannon); sorting is what dominates the cost, so doing it once is where the
speed over general-purpose tools comes from.

The formulas follow scipy's own code step for step (``scipy.stats.ks_2samp``,
``scipy.stats.wasserstein_distance``) so the results agree with scipy to rounding; the
tests hold them to 1e-9. Where scipy already works on the small, aggregated inputs
(contingency tables, bin proportions) it is called directly rather than re-implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps
from scipy.spatial import distance as spd

FloatArray = NDArray[np.float64]
CountArray = NDArray[np.int64]

#: scipy's ks_2samp computes an exact p-value up to this sample size and Smirnov's
#: asymptotic one above it; we switch at the same point so p-values agree.
KS_EXACT_MAX_N = 10_000

#: Proportions are floored at this value in PSI so an empty bin gives a large but
#: finite contribution instead of an infinite one (the usual PSI convention).
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class TestResult:
    """A statistic with its p-value (for the hypothesis tests: KS and chi-square)."""

    statistic: float
    p_value: float


def ks_statistic(a: FloatArray, b: FloatArray) -> float:
    """Two-sided KS statistic of two sorted samples, without merging them.

    The gap F_a - F_b only rises at points of ``a``, and F_b - F_a is largest at the last
    point of ``b`` before each point of ``a``; so binary searches for the points of ``a``
    (often a small sketch) suffice, and the CDF values are the same fractions scipy
    evaluates, so the result is identical rather than merely close.
    """
    na, nb = a.size, b.size
    up = np.searchsorted(a, a, side="right") / na - np.searchsorted(b, a, side="right") / nb
    left = np.searchsorted(b, np.append(a, np.inf), side="left")
    left = left[left > 0]
    before = b[left - 1]
    down = left / nb - np.searchsorted(a, before, side="right") / na
    max_s = float(up.max())
    min_s = float(np.clip(down.max(), 0.0, 1.0)) if down.size else 0.0
    return max(max_s, min_s)


def ks_test(a: FloatArray, b: FloatArray, n_a: int | None = None, *, p_value: bool = True) -> TestResult:
    """Two-sided two-sample KS test on sorted samples, as ``scipy.stats.ks_2samp``.

    ``n_a`` is the size of the population ``a`` stands for when ``a`` is a quantile
    sketch of a larger baseline; the p-value then uses that size, because the sketch's
    CDF is the baseline's CDF to within one over the sketch size.

    ``p_value=False`` skips the p-value (NaN): on large samples scipy's exact Kolmogorov
    distribution costs up to a second per column, for a p-value that is ~0 anyway.
    """
    n1 = a.size if n_a is None else n_a
    n2 = b.size
    if n_a is None and max(n1, n2) <= KS_EXACT_MAX_N:
        exact = sps.ks_2samp(a, b)
        return TestResult(float(exact.statistic), float(exact.pvalue))
    d = ks_statistic(a, b)
    if not p_value:
        return TestResult(d, float("nan"))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    p = float(np.clip(sps.kstwo.sf(d, np.round(en)), 0.0, 1.0))
    return TestResult(d, p)


def wasserstein(a: FloatArray, b: FloatArray) -> float:
    """First Wasserstein distance of two sorted samples, in quantile space.

    W1 is also the integral over u in [0, 1] of |Q_a(u) - Q_b(u)|, and for sorted samples
    the quantile functions are the arrays themselves, stepping at i/n_a and j/n_b (n_a <=
    n_b after a swap). Nearly every step of ``b`` lies inside one step of ``a``, so W1 is
    ``sum |a[step] - b|`` with ``a`` repeated to line up with ``b`` -- a few passes over
    memory, no merge and no search -- plus a correction for the at most n_a steps of
    ``b`` that a step boundary of ``a`` cuts in two. Integer arithmetic (in units of
    1 / (n_a * n_b)) keeps the step bookkeeping exact.
    """
    if a.size > b.size:
        a, b = b, a
    na, nb = a.size, b.size
    if na == nb:  # the steps coincide
        return float(np.abs(a - b).sum() / na)
    boundaries = np.arange(na + 1, dtype=np.int64) * nb
    first_b_step = -(-boundaries // na)  # ceil: the first step of b starting in each step of a
    lined_up = np.repeat(a, np.diff(first_b_step))
    np.subtract(lined_up, b, out=lined_up)
    total = float(np.abs(lined_up, out=lined_up).sum()) * na
    cut = boundaries[1:-1]
    step = cut // na  # the step of b each inner boundary of a falls in
    inside = cut != step * na
    i = np.flatnonzero(inside) + 1  # boundary i separates a[i - 1] from a[i]
    j = step[inside]
    after = (j + 1) * na - cut[inside]  # the part of step j that lies beyond the boundary
    moved = np.abs(a[i] - b[j]) - np.abs(a[i - 1] - b[j])
    total += float(np.dot(moved, after))
    return total / (na * nb)


def bin_counts(sorted_values: FloatArray, edges: FloatArray) -> CountArray:
    """Counts per bin for a sorted sample, by binary search instead of a full pass.

    Bins are ``(-inf, e0], (e0, e1], ..., (e_last, inf)``: open at both ends, so values
    outside the baseline's range still land in a bin.
    """
    cuts = np.searchsorted(sorted_values, edges, side="right")
    bounds = np.concatenate([[0], cuts, [sorted_values.size]])
    return np.diff(bounds).astype(np.int64)


def proportions(counts: NDArray[np.int64] | NDArray[np.float64]) -> FloatArray:
    """Counts to proportions; all zeros stay zeros rather than dividing by zero."""
    values = np.asarray(counts, dtype=np.float64)
    total = values.sum()
    return values / total if total > 0 else values


def psi(expected: FloatArray, actual: FloatArray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two proportion vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), epsilon)
    a = np.maximum(np.asarray(actual, dtype=np.float64), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def js_distance(p: FloatArray, q: FloatArray) -> float:
    """Jensen-Shannon distance (natural log, so 0..sqrt(ln 2)), as scipy defines it."""
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    return float(spd.jensenshannon(p, q))


def chi2_two_sample(baseline: CountArray, current: CountArray) -> TestResult:
    """Chi-square test of homogeneity on the 2 x k table of baseline and current counts.

    This asks whether both samples come from one distribution, with the baseline's own
    sampling noise counted. Testing current counts against baseline proportions treats
    the baseline as exact and flags drift far too often on large windows.
    """
    table = np.vstack([baseline, current]).astype(np.float64)
    if table[0].sum() <= 0 or table[1].sum() <= 0:
        return TestResult(float("nan"), float("nan"))
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return TestResult(0.0, 1.0)
    result = sps.chi2_contingency(table)
    return TestResult(float(result.statistic), float(result.pvalue))
