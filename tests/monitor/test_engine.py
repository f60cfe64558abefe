"""Verdicts per feature: the auto rule, thresholds, and data problems as statuses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudserve.monitor.config import DriftConfig, parse_duration
from cloudserve.monitor.engine import DriftOptions, choose_method, compare, threshold_for
from cloudserve.monitor.profile import NumericProfile, profile_table
from cloudserve.monitor.readers import RecordsTable
from cloudserve.monitor.result import FeatureResult

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def frame(n: int, seed: int, shift: float = 0.0, cats: tuple[str, ...] = ("a", "b", "c")) -> RecordsTable:
    rng = np.random.default_rng(seed)
    return RecordsTable(
        data={
            "income": rng.lognormal(10 + shift, 0.5, size=n),
            "age": rng.normal(40, 12, size=n),
            "plan": list(rng.choice(list(cats), size=n)),
            "flag": rng.integers(0, 2, size=n),
        }
    )


def by_name(result: Any) -> dict[str, FeatureResult]:
    return {f.name: f for f in result.features}


def test_only_the_shifted_feature_drifts() -> None:
    profile = profile_table(frame(5000, 1))
    result = compare(profile, frame(4000, 2, shift=0.5))
    assert result.drifted_features == ["income"]
    assert result.features[0].name == "income"
    assert result.status == "drift"
    assert compare(profile, frame(4000, 3)).status == "ok"


def test_auto_picks_tests_for_small_windows_and_distances_for_large() -> None:
    assert choose_method("numeric", 1000, "auto")[0] == "ks"
    assert choose_method("numeric", 1001, "auto")[0] == "wasserstein"
    assert choose_method("categorical", 50, "auto")[0] == "chi2"
    assert choose_method("categorical", 5000, "auto")[0] == "js"
    method, note = choose_method("categorical", 5000, "ks")
    assert method == "js" and "categorical" in note
    profile = profile_table(frame(5000, 1))
    small = by_name(compare(profile, frame(300, 2)))
    assert small["age"].method == "ks" and small["plan"].method == "chi2"
    assert small["flag"].kind == "categorical"  # two distinct values: a flag, not a number


def test_thresholds_global_per_feature_and_auto_tests_keep_their_level() -> None:
    options = DriftOptions(method="auto", threshold=0.3, thresholds={"age": 0.01})
    assert threshold_for("income", "wasserstein", options) == 0.3
    assert threshold_for("income", "ks", options) == 0.05
    assert threshold_for("age", "ks", options) == 0.01
    assert threshold_for("x", "psi", DriftOptions(method="psi")) == 0.2
    assert threshold_for("x", "ks", DriftOptions(method="ks", threshold=0.01)) == 0.01
    profile = profile_table(frame(5000, 1))
    loose = DriftOptions(thresholds={"income": 5.0})
    assert compare(profile, frame(4000, 2, shift=0.5), loose).status == "ok"


@pytest.mark.parametrize("method", ["psi", "ks", "chi2", "js", "wasserstein"])
def test_every_method_flags_a_clear_shift_and_passes_a_clean_window(method: str) -> None:
    profile = profile_table(frame(5000, 1))
    options = DriftOptions(method=method)  # type: ignore[arg-type]
    assert "income" in compare(profile, frame(4000, 2, shift=0.5), options).drifted_features
    assert by_name(compare(profile, frame(4000, 4), options))["age"].drifted is False


def test_missing_new_empty_and_null_columns_are_statuses() -> None:
    profile = profile_table(
        RecordsTable(
            data={
                "kept": list(range(100)),
                "gone": list(range(100)),
                "empty": [None] * 100,
                "plan": ["a", "b"] * 50,
            }
        ),
        features=["kept", "gone", "empty", "plan", "never"],
    )
    current = RecordsTable(
        data={"kept": [None] * 50, "empty": [1.0] * 50, "plan": ["a", "z"] * 25, "new": [1] * 50}
    )
    result = by_name(compare(profile, current, DriftOptions(features=profile.features)))
    assert result["kept"].status == "no_data" and result["kept"].current_null_fraction == 1.0
    assert result["gone"].status == "missing"
    assert result["empty"].status == "baseline_empty"
    assert result["never"].status == "not_in_baseline"
    assert result["plan"].new_categories == ["z"]
    assert result["plan"].new_category_fraction == 0.5
    assert result["plan"].drifted


def test_an_empty_window_is_reported_not_raised() -> None:
    profile = profile_table(frame(500, 1))
    result = compare(profile, RecordsTable(data={}))
    assert result.status == "empty_window" and not result.drifted
    assert {f.status for f in result.features} == {"no_data"}
    empty = compare(profile, RecordsTable(data={"age": [], "plan": []}))
    assert by_name(empty)["age"].status == "no_data"


def test_result_json_has_no_nan() -> None:
    profile = profile_table(RecordsTable(data={"c": ["a"] * 20}))
    result = compare(profile, RecordsTable(data={"c": ["a"] * 5}))
    payload = result.to_dict()
    assert payload["features"][0]["status"] == "ok"
    assert "NaN" not in repr(payload)


values = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-3, 3),
    st.sampled_from(["a", "b", "", "nan"]),
)


@settings(max_examples=120, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["x", "y", "z"]), st.lists(values, max_size=40), max_size=3),
    st.dictionaries(st.sampled_from(["x", "y", "w"]), st.lists(values, max_size=40), max_size=3),
    st.sampled_from(["auto", "psi", "ks", "chi2", "js", "wasserstein"]),
)
def test_any_data_gives_a_verdict_never_an_exception(
    base: dict[str, list[object]], cur: dict[str, list[object]], method: str
) -> None:
    profile = profile_table(RecordsTable(data=base))
    result = compare(profile, RecordsTable(data=cur), DriftOptions(method=method))  # type: ignore[arg-type]
    for feature in result.features:
        if feature.score is not None:
            assert not math.isnan(feature.score) or feature.status == "ok"
        assert feature.drifted == (feature.status == "drift")
    assert result.drifted == bool(result.drifted_features)


@settings(max_examples=60, deadline=None)
@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(1, 30), st.integers(1, 30))
def test_constant_columns_do_not_drift_against_themselves(value: float, n: int, m: int) -> None:
    profile = profile_table(RecordsTable(data={"c": [value] * n}))
    result = compare(profile, RecordsTable(data={"c": [value] * m}))
    assert not result.drifted


def test_drift_config_from_a_mapping_and_from_the_spec_model() -> None:
    config = DriftConfig.from_spec(
        {
            "baseline": "train.csv",
            "method": "psi",
            "threshold": 0.3,
            "alert": {"webhook": "http://h"},
        }
    )
    assert (config.method, config.threshold, config.webhook) == ("psi", 0.3, "http://h")
    assert config.window is not None and config.window.total_seconds() == 3600
    from cloudserve.spec.models import Drift

    defaulted = DriftConfig.from_spec(Drift(baseline="train.csv"))
    assert defaulted.threshold is None  # the spec's default is not forced on every method
    explicit = DriftConfig.from_spec(Drift(baseline="t.csv", threshold=0.25, features=["a"]))
    assert explicit.threshold == 0.25 and explicit.features == ("a",)


@pytest.mark.parametrize(
    ("text", "seconds"), [("daily", 86400), ("30m", 1800), ("6h", 21600), ("1.5d", 129600)]
)
def test_schedules_become_windows(text: str, seconds: float) -> None:
    duration = parse_duration(text)
    assert duration is not None and duration.total_seconds() == seconds
    assert parse_duration("0 * * * *") is None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3) | st.just(float("nan")), min_size=12, max_size=300),
    st.lists(st.floats(-1e3, 1e3) | st.just(float("nan")) | st.none(), min_size=1, max_size=300),
)
def test_result_statistics_match_scipy_on_the_raw_values(base: list[float], cur: list[object]) -> None:
    from scipy import stats as sps

    baseline = np.array(base)
    profile = profile_table(RecordsTable(data={"v": baseline}))
    if not isinstance(profile.columns["v"], NumericProfile):
        return  # ten or fewer distinct values: judged as categories
    feature = compare(profile, RecordsTable(data={"v": cur})).features[0]
    finite_base = baseline[np.isfinite(baseline)]
    present = np.array([v if isinstance(v, float) else np.nan for v in cur], dtype=np.float64)
    finite_cur = present[np.isfinite(present)]
    if finite_cur.size == 0:
        assert feature.status == "no_data"
        return
    ks = sps.ks_2samp(finite_base, finite_cur)
    assert math.isclose(feature.statistics["ks"], ks.statistic, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(feature.statistics["ks_p_value"], ks.pvalue, rel_tol=1e-9, abs_tol=1e-9)
    w = sps.wasserstein_distance(finite_base, finite_cur)
    assert math.isclose(feature.statistics["wasserstein"], w, rel_tol=1e-9, abs_tol=1e-9)
    assert feature.baseline_count == finite_base.size and feature.current_count == finite_cur.size


def test_categorical_statistics_match_scipy_on_the_raw_values() -> None:
    from scipy import stats as sps
    from scipy.spatial import distance as spd

    rng = np.random.default_rng(5)
    base = list(rng.choice(["a", "b", "c", "d"], size=700, p=[0.4, 0.3, 0.2, 0.1]))
    cur = list(rng.choice(["a", "b", "c", "e"], size=400, p=[0.3, 0.3, 0.3, 0.1]))
    feature = compare(profile_table(RecordsTable(data={"c": base})), RecordsTable(data={"c": cur})).features[
        0
    ]
    keys = ["a", "b", "c", "d", "e"]
    table = np.array([[base.count(k) for k in keys], [cur.count(k) for k in keys]])
    reference = sps.chi2_contingency(table)
    assert math.isclose(feature.statistics["chi2"], reference.statistic, rel_tol=1e-9)
    assert math.isclose(feature.statistics["chi2_p_value"], reference.pvalue, rel_tol=1e-9, abs_tol=1e-12)
    js = spd.jensenshannon(table[0], table[1])
    assert math.isclose(feature.statistics["js"], js, rel_tol=1e-9)
    assert feature.method == "chi2" and feature.drifted and feature.new_categories == ["e"]
