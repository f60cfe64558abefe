"""The drift statistics agree with scipy (and PSI with a plain reference) to 1e-9."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial import distance as spd

from cloudserve.monitor import stats
from cloudserve.monitor.profile import decile_edges, quantile_sketch

# scipy's own reference calls warn on one-element samples; the comparison still holds.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

TOL = 1e-9


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


samples = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.integers(-5, 5).map(float),
    min_size=1,
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(samples, samples)
def test_ks_and_wasserstein_match_scipy_on_any_samples(a: list[float], b: list[float]) -> None:
    x, y = np.sort(np.array(a)), np.sort(np.array(b))
    reference = sps.ks_2samp(x, y)
    ours = stats.ks_test(x, y)
    assert close(ours.statistic, float(reference.statistic))
    assert close(ours.p_value, float(reference.pvalue))
    asymp = sps.ks_2samp(x, y, method="asymp")
    assert close(stats.ks_statistic(x, y), float(asymp.statistic))
    assert close(stats.wasserstein(x, y), float(sps.wasserstein_distance(x, y)))
    assert close(stats.wasserstein(y, x), float(sps.wasserstein_distance(x, y)))


@pytest.mark.parametrize(("n1", "n2", "shift"), [(12_000, 15_000, 0.0), (20_000, 11_000, 0.03)])
def test_ks_matches_scipy_in_its_asymptotic_regime(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(7)
    x = np.sort(rng.normal(size=n1))
    y = np.sort(np.round(rng.normal(shift, size=n2), 2))  # ties, as real data has
    reference = sps.ks_2samp(x, y)
    ours = stats.ks_test(x, y)
    assert close(ours.statistic, float(reference.statistic))
    assert close(ours.p_value, float(reference.pvalue))
    assert close(stats.wasserstein(x, y), float(sps.wasserstein_distance(x, y)))


def test_ks_on_a_sketch_uses_the_population_size_and_stays_close() -> None:
    rng = np.random.default_rng(3)
    full = np.sort(rng.normal(size=200_000))
    window = np.sort(rng.normal(0.02, size=50_000))
    sketch = quantile_sketch(full, 20_000)
    exact = sps.ks_2samp(full, window)
    approx = stats.ks_test(sketch, window, n_a=full.size)
    assert abs(approx.statistic - float(exact.statistic)) <= 1 / 20_000
    assert abs(stats.wasserstein(sketch, window) - sps.wasserstein_distance(full, window)) < 1e-3


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 50), min_size=2, max_size=12),
    st.lists(st.integers(0, 50), min_size=2, max_size=12),
)
def test_chi2_is_scipy_contingency_of_the_two_count_rows(a: list[int], b: list[int]) -> None:
    size = min(len(a), len(b))
    base, cur = np.array(a[:size]), np.array(b[:size])
    ours = stats.chi2_two_sample(base, cur)
    table = np.array([base, cur], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if base.sum() == 0 or cur.sum() == 0:
        assert math.isnan(ours.p_value)
    elif table.shape[1] < 2:
        assert (ours.statistic, ours.p_value) == (0.0, 1.0)
    else:
        reference = sps.chi2_contingency(table)
        assert close(ours.statistic, float(reference.statistic))
        assert close(ours.p_value, float(reference.pvalue))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 1000), min_size=1, max_size=20),
    st.lists(st.integers(0, 1000), min_size=1, max_size=20),
)
def test_js_distance_matches_scipy(a: list[int], b: list[int]) -> None:
    size = min(len(a), len(b))
    p, q = np.array(a[:size], dtype=float), np.array(b[:size], dtype=float)
    ours = stats.js_distance(p, q)
    if p.sum() == 0 or q.sum() == 0:
        assert math.isnan(ours)
    else:
        assert close(ours, float(spd.jensenshannon(p, q)))


def reference_psi(baseline: list[float], current: list[float], eps: float = 1e-4) -> float:
    """PSI the long way: decile edges of the baseline, counted one value at a time."""
    ordered = sorted(baseline)
    n = len(ordered)
    edges = sorted({ordered[(i * (n - 1)) // 10] for i in range(1, 10)})

    def shares(values: list[float]) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for value in values:
            index = 0
            while index < len(edges) and value > edges[index]:
                index += 1
            counts[index] += 1
        return [c / len(values) for c in counts]

    total = 0.0
    for e, a in zip(shares(baseline), shares(current), strict=True):
        e, a = max(e, eps), max(a, eps)
        total += (a - e) * math.log(a / e)
    return total


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=80),
    st.lists(st.floats(-120, 120, allow_nan=False), min_size=1, max_size=80),
)
def test_psi_over_decile_bins_matches_the_reference(base: list[float], cur: list[float]) -> None:
    ordered, window = np.sort(np.array(base)), np.sort(np.array(cur))
    edges = decile_edges(ordered)
    expected = stats.proportions(stats.bin_counts(ordered, edges))
    actual = stats.proportions(stats.bin_counts(window, edges))
    assert close(stats.psi(expected, actual), reference_psi(base, cur))


def test_bin_counts_are_open_ended_and_right_closed() -> None:
    values = np.array([-5.0, 1.0, 1.0, 2.0, 3.0, 99.0])
    counts = stats.bin_counts(values, np.array([1.0, 2.0]))
    assert counts.tolist() == [3, 1, 2]
