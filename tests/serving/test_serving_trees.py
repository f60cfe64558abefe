"""Tree ensembles scored through their own trees must answer exactly as their predict does,
and thread pools are sized for serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cloudserve.serving import threads
from cloudserve.serving.loaders import InputError, trees
from cloudserve.serving.loaders.tabular import estimator_predict_fn
from cloudserve.serving.loaders.trees import tree_predict

WIDTH = 6


def _fitted(name: str) -> Any:
    from sklearn import ensemble

    rng = np.random.default_rng(11)
    x = rng.normal(size=(400, WIDTH))
    labels = {
        "binary": (x[:, 0] + x[:, 1] > 0).astype(int),
        "multiclass": np.digitize(x[:, 2], [-0.5, 0.5]),
        "strings": np.array(["no", "yes"])[(x[:, 3] > 0).astype(int)],
        "regression": x @ np.arange(WIDTH, dtype=float) + rng.normal(size=400),
    }
    estimator, target = {
        "rf-binary": (
            ensemble.RandomForestClassifier(n_estimators=12, max_depth=8, random_state=0),
            "binary",
        ),
        "rf-multiclass": (ensemble.RandomForestClassifier(n_estimators=12, random_state=0), "multiclass"),
        "rf-strings": (ensemble.RandomForestClassifier(n_estimators=5, random_state=0), "strings"),
        "rf-jobs": (ensemble.RandomForestRegressor(n_estimators=12, n_jobs=2, random_state=0), "regression"),
        "rf-regression": (ensemble.RandomForestRegressor(n_estimators=12, random_state=0), "regression"),
        "extra-trees": (ensemble.ExtraTreesClassifier(n_estimators=12, random_state=0), "multiclass"),
        "hgb-binary": (ensemble.HistGradientBoostingClassifier(max_iter=20), "binary"),
        "hgb-multiclass": (ensemble.HistGradientBoostingClassifier(max_iter=10), "multiclass"),
        "hgb-strings": (ensemble.HistGradientBoostingClassifier(max_iter=10), "strings"),
        "hgb-regression": (ensemble.HistGradientBoostingRegressor(max_iter=20), "regression"),
        "hgb-poisson": (ensemble.HistGradientBoostingRegressor(max_iter=10, loss="poisson"), "binary"),
    }[name]
    if name.startswith("hgb"):
        x[rng.random(x.shape) < 0.05] = np.nan  # histogram boosting learns where missing goes
    return estimator.fit(x, labels[target])


DIRECT = [
    "rf-binary",
    "rf-multiclass",
    "rf-strings",
    "rf-jobs",
    "rf-regression",
    "extra-trees",
    "hgb-binary",
    "hgb-multiclass",
    "hgb-strings",
    "hgb-regression",
    "hgb-poisson",
]


def _same(expected: Any, got: Any) -> bool:
    expected, got = np.asarray(expected), np.asarray(got)
    return expected.dtype == got.dtype and expected.tobytes() == got.tobytes()


@pytest.mark.parametrize("name", DIRECT)
def test_direct_path_equals_predict_bit_for_bit(name: str) -> None:
    model = _fitted(name)
    direct = tree_predict(model)
    assert direct is not None, f"{name} should be scored directly"
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(300, WIDTH)) * 2.0
    rows[::7, 0] = (
        np.float32(model.estimators_[0].tree_.threshold[0]) if hasattr(model, "estimators_") else 0.0
    )
    if name.startswith("hgb"):
        rows[rng.random(rows.shape) < 0.1] = np.nan
    with trees._sequential(model, 1):
        expected = model.predict(rows)
        for n in (1, 2, 8, 300):
            assert _same(model.predict(rows[:n]), direct(rows[:n]))
    assert _same(expected, direct(rows))


@pytest.mark.parametrize("name", ["rf-binary", "hgb-multiclass"])
def test_served_answers_equal_predict_through_the_loader(name: str) -> None:
    model = _fitted(name)
    serve = estimator_predict_fn(model)
    rows = np.random.default_rng(2).normal(size=(40, WIDTH))
    assert serve(rows.tolist()) == model.predict(rows).tolist()
    assert [serve([row])[0] for row in rows.tolist()] == model.predict(rows).tolist()


def test_inputs_the_direct_path_does_not_take_get_scikit_learns_answer() -> None:
    model = _fitted("rf-binary")
    forest = estimator_predict_fn(model)
    row = [0.0] * WIDTH
    for bad in (float("inf"), 1e39):  # 1e39 overflows the float32 cast
        with pytest.raises(InputError, match=r"(?i)infinity|too large"):
            forest([[bad, *row[1:]]])
    holes = [[float("nan"), *row[1:]]]  # forests take NaN their own way: predict's answer
    assert forest(holes) == model.predict(np.asarray(holes)).tolist()
    boosted = _fitted("hgb-binary")
    assert estimator_predict_fn(boosted)(holes) == boosted.predict(np.asarray(holes)).tolist()


def test_models_that_predict_their_own_way_are_not_shortcut() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    class Voting(RandomForestClassifier):
        def predict(self, X: Any) -> Any:
            return np.zeros(len(X), dtype=int)

    x = np.random.default_rng(0).normal(size=(100, 3))
    y = (x[:, 0] > 0).astype(int)
    assert tree_predict(Voting(n_estimators=3).fit(x, y)) is None
    cats = np.c_[x[:, :2], np.arange(100) % 4]
    categorical = HistGradientBoostingClassifier(max_iter=5, categorical_features=[2]).fit(cats, y)
    assert tree_predict(categorical) is None  # categories go through a preprocessor first


def test_a_direct_path_that_disagrees_on_the_probe_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fitted("rf-binary")
    real = trees._forest_scorer(model)
    assert real is not None
    scorer, takes_nan = real

    def off_by_one_row(matrix: Any) -> Any:
        out = scorer(matrix).copy()
        out[-1] = 1 - out[-1]  # wrong only on the last row of a batch
        return out

    monkeypatch.setattr(trees, "_forest_scorer", lambda m: (off_by_one_row, takes_nan))
    assert tree_predict(model) is None


def test_model_threads_default_to_one_and_obey_the_setting_within_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.model_threads() == 1
    for raw, expected in (("3", 3), ("16", 4), ("0", 1), ("two", 1)):
        monkeypatch.setenv(threads.ENV, raw)
        assert threads.model_threads() == expected
    monkeypatch.setenv(threads.ENV, "4")
    assert threads.model_threads(workers=2) == 2  # each of two workers gets half


def test_usable_cores_reads_a_cgroup_quota(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "_CGROUP_CPU_MAX", quota)
    quota.write_text("max 100000\n")
    unlimited = threads.usable_cores()
    quota.write_text("50000 100000\n")  # half a core: still one
    assert threads.usable_cores() == 1 and unlimited >= 1


def test_xgboost_predicts_with_the_serving_thread_count(tmp_path: Path) -> None:
    import xgboost as xgb

    from cloudserve.serving.loaders.xgboost import load_xgboost

    x = np.random.default_rng(0).normal(size=(200, WIDTH))
    booster = xgb.train({"max_depth": 3}, xgb.DMatrix(x, label=(x[:, 0] > 0)), num_boost_round=5)
    path = tmp_path / "model.json"
    booster.save_model(path)
    loaded = load_xgboost(path)
    threads_used = [
        c.cell_contents for c in loaded.predict.__closure__ or () if isinstance(c.cell_contents, xgb.Booster)
    ]
    config = json.loads(threads_used[0].save_config())
    assert config["learner"]["generic_param"]["nthread"] == "1"
    assert loaded.predict(x[:3].tolist()) == booster.inplace_predict(x[:3]).tolist()
