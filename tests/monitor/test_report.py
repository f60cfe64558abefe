"""The HTML report reads right at a glance (issue 17 item 3): axes, orders, and numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cloudserve.monitor.engine import DriftOptions, compare, edge_labels
from cloudserve.monitor.profile import BaselineProfile, profile_table
from cloudserve.monitor.readers import RecordsTable
from cloudserve.monitor.report import render_html, write_report
from cloudserve.monitor.result import DriftResult, FeatureResult, describe

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def judge(baseline: dict[str, Any], current: dict[str, Any], **options: Any) -> DriftResult:
    profile = profile_table(RecordsTable(data=baseline))
    return compare(profile, RecordsTable(data=current), DriftOptions(**options))


def feature(result: DriftResult, name: str) -> FeatureResult:
    return next(f for f in result.features if f.name == name)


def card(page: str, name: str) -> str:
    """The HTML of one feature's card."""
    start = page.index(f'<div class="feature" id="f-{name}">')
    end = page.find('<div class="feature"', start + 1)
    return page[start : end if end > 0 else len(page)]


def summary_row(page: str, name: str) -> str:
    start = page.index(f"<a href='#f-{name}'>")
    return page[start : page.index("</tr>", start)]


def test_near_constant_columns_get_distinct_tick_labels() -> None:
    rng = np.random.default_rng(0)
    result = judge({"p": rng.normal(1000, 0.002, 3000)}, {"p": rng.normal(1000, 0.002, 2000)})
    histogram = feature(result, "p").histogram
    assert histogram is not None
    assert len(set(histogram.labels)) == len(histogram.labels), histogram.labels
    assert ">1k<" not in render_html(result)


@pytest.mark.parametrize(
    ("lo", "hi", "shown"),
    [
        (999.99, 1000.01, ["999.9900", "1000.0000", "1000.0100"]),
        (0.0, 1e5, ["0", "50k", "100k"]),
        (2e6, 5e6, ["2.0M", "3.5M", "5.0M"]),
        (1e-6, 2e-6, ["1.00e-06", "1.50e-06", "2.00e-06"]),
    ],
)
def test_tick_precision_follows_the_bin_width(lo: float, hi: float, shown: list[str]) -> None:
    labels = edge_labels(np.linspace(lo, hi, 31))
    assert len(set(labels)) == 31
    assert [labels[0], labels[15], labels[30]] == shown


def test_numeric_categories_are_in_value_order_and_text_in_share_order() -> None:
    rng = np.random.default_rng(1)
    ratings = rng.choice([1, 2, 3, 4, 5], 3000, p=[0.05, 0.1, 0.2, 0.4, 0.25])
    plans = list(rng.choice(["zeta", "alpha", "mid"], 3000, p=[0.6, 0.3, 0.1]))
    result = judge({"rating": ratings, "plan": plans}, {"rating": ratings[:1000], "plan": plans[:1000]})
    rating, plan = feature(result, "rating").histogram, feature(result, "plan").histogram
    assert rating is not None and plan is not None
    assert rating.labels == ["1", "2", "3", "4", "5"]
    assert plan.labels == ["zeta", "alpha", "mid"]


def test_a_rare_new_category_is_shown_not_folded_into_other() -> None:
    rng = np.random.default_rng(2)
    common = [f"c{i:02d}" for i in range(16)]
    baseline = list(rng.choice(common, 8000))
    current = list(rng.choice(common, 4000))
    current[:12] = ["trial"] * 12  # 0.3% of the window
    result = judge({"plan": baseline}, {"plan": current})
    plan = feature(result, "plan")
    assert plan.histogram is not None and "trial" in plan.histogram.labels
    assert plan.histogram.labels[-1] == "(other)"  # old categories beyond the top still fold
    assert plan.new_category_shares == [pytest.approx(0.003)]
    assert "trial (0.3%)" in card(render_html(result), "plan")


def test_many_new_categories_are_counted_wherever_they_are_cut() -> None:
    baseline = ["a", "b"] * 500
    current = ["a"] * 500 + [f"new{i:02d}" for i in range(25) for _ in range(4)]
    result = judge({"plan": baseline}, {"plan": current})
    plan = feature(result, "plan")
    assert plan.new_category_count == 25 and len(plan.new_categories) == 20
    page = render_html(result)
    assert "and 22 more" in summary_row(page, "plan")
    assert "and 5 more" in card(page, "plan")
    assert describe(plan).endswith("and 20 more")


def test_each_card_shows_the_missing_rate_change() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0, 1, 4000)
    base[:200] = np.nan  # 5%
    cur = rng.normal(0, 1, 2000)
    cur[:600] = np.nan  # 30%
    page = render_html(judge({"tenure": base}, {"tenure": cur}))
    assert re.search(r"5\.0% &rarr; 30\.0%", card(page, "tenure"))
    assert 'class="jump"' in card(page, "tenure")


def test_scores_say_which_way_they_read_with_the_features_own_threshold() -> None:
    rng = np.random.default_rng(4)
    small = judge({"x": rng.normal(0, 1, 500)}, {"x": rng.normal(0, 1, 300)})
    assert feature(small, "x").method == "ks"
    page = render_html(small)
    assert "p &lt; 0.05 means drift" in summary_row(page, "x")
    assert "p &lt; 0.05 means drift" in card(page, "x")
    large = judge({"x": rng.normal(0, 1, 5000)}, {"x": rng.normal(0, 1, 3000)}, thresholds={"x": 0.3})
    assert feature(large, "x").method == "wasserstein"
    page = render_html(large)
    assert "\u2265 0.3 means drift" in summary_row(page, "x")
    assert "\u2265 0.3 means drift" in card(page, "x")


def test_charts_have_axis_titles_and_cards_give_both_sides_moments() -> None:
    rng = np.random.default_rng(5)
    base, cur = rng.lognormal(10, 0.5, 6000), rng.lognormal(10.2, 0.5, 3000)
    # A sketch of 100 slice means: the moments must still be the exact ones.
    profile = profile_table(RecordsTable(data={"income": base}), max_points=100)
    result = compare(profile, RecordsTable(data={"income": cur}))
    income = feature(result, "income")
    assert income.baseline_mean == pytest.approx(base.mean(), rel=1e-12)
    assert income.baseline_std == pytest.approx(base.std(), rel=1e-12)
    assert income.current_mean == pytest.approx(cur.mean(), rel=1e-12)
    assert income.current_std == pytest.approx(cur.std(), rel=1e-12)
    section = card(render_html(result), "income")
    assert ">share of rows</text>" in section
    assert re.search(r'font-weight="600">income</text>', section)
    assert f"baseline mean {base.mean():,.0f}" in section
    assert f"current mean {cur.mean():,.0f}" in section


def test_close_means_print_differently() -> None:
    rng = np.random.default_rng(6)
    result = judge({"p": rng.normal(1000.0, 0.002, 3000)}, {"p": rng.normal(1000.001, 0.002, 2000)})
    line = re.search(r"baseline mean ([\d,.]+).*current mean ([\d,.]+)", card(render_html(result), "p"))
    assert line is not None and line.group(1) != line.group(2)


def test_whole_number_columns_bin_at_half_integers_without_a_comb(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 21, 5000)  # 21 values: fewer than the 30 bins, a comb before
    profile = profile_table(RecordsTable(data={"n": values}), max_points=500)
    stored = BaselineProfile.load(profile.save(tmp_path / "p.npz"))
    assert stored.columns["n"].integer is True  # type: ignore[union-attr]
    result = compare(stored, RecordsTable(data={"n": rng.integers(0, 21, 2000)}))
    histogram = feature(result, "n").histogram
    assert histogram is not None and histogram.integer
    edges = [float(label) for label in histogram.labels]
    assert all(e % 1 == 0.5 for e in edges) and edges[0] == -0.5 and edges[-1] == 20.5
    assert len(histogram.baseline) == 21 and min(histogram.baseline) > 0.03
    assert ">3</text>" in render_html(result)  # a tick at the bin of 3, not at its edges


def test_wide_whole_number_columns_put_several_values_in_a_bin() -> None:
    rng = np.random.default_rng(8)
    result = judge({"age": rng.integers(18, 91, 5000)}, {"age": rng.integers(18, 91, 2000)})
    histogram = feature(result, "age").histogram
    assert histogram is not None and histogram.integer
    widths = np.diff([float(label) for label in histogram.labels])
    assert set(widths[:-1]) == {3.0} and 0 < widths[-1] <= 3.0
    assert min(histogram.baseline[:-1]) > 0.02
    assert ">18\u201320</text>" in render_html(result)


def test_fractional_columns_are_not_binned_as_integers() -> None:
    rng = np.random.default_rng(9)
    whole = rng.integers(0, 50, 3000).astype(float)
    result = judge({"x": whole}, {"x": whole[:1000] + 0.5})
    histogram = feature(result, "x").histogram
    assert histogram is not None and not histogram.integer


def test_report_json_keeps_every_earlier_key(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    result = judge({"x": rng.normal(0, 1, 500), "c": ["a", "b"] * 250}, {"x": rng.normal(0, 1, 300)})
    json_path, _ = write_report(result, tmp_path)
    payload = json.loads(json_path.read_text())
    earlier = {
        "name", "kind", "status", "drifted", "method", "score", "threshold", "statistics",
        "baseline_count", "current_count", "baseline_null_fraction", "current_null_fraction",
        "new_categories", "new_category_fraction", "message", "histogram",
    }  # fmt: skip
    for entry in payload["features"]:
        assert earlier <= set(entry)
    x = next(f for f in payload["features"] if f["name"] == "x")
    assert {"labels", "baseline", "current", "numeric"} <= set(x["histogram"])


@pytest.mark.parametrize(
    "values",
    [
        np.arange(40) * 1e300,  # whole numbers past 2**52: equal-width bins, scientific ticks
        np.array([-(2.0**62), 2.0**62] * 20 + list(range(20))),
        np.array([1.7e308, -1.7e308] * 10 + list(range(20))),  # a span past float range
        np.arange(40) * 1e-310,
    ],
)
def test_extreme_numbers_still_render(values: np.ndarray[Any, Any]) -> None:
    result = judge({"x": values}, {"x": values[::-1]})
    histogram = feature(result, "x").histogram
    assert histogram is not None and not histogram.integer
    assert 'id="f-x"' in render_html(result)
