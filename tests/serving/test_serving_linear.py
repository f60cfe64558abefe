"""Linear models scored directly must answer exactly as their own predict does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cloudserve.serving.loaders import InputError, linear
from cloudserve.serving.loaders.linear import direct_predict
from cloudserve.serving.loaders.tabular import estimator_predict_fn


def _fitted(name: str) -> Any:
    from sklearn import linear_model, pipeline, preprocessing, svm

    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 6))
    labels = {
        "binary": (x[:, 0] > 0).astype(int),
        "multiclass": np.digitize(x[:, 1], [-0.5, 0.5]),
        "strings": np.array(["no", "yes"])[(x[:, 2] > 0).astype(int)],
        "regression": x @ np.arange(6.0) + rng.normal(size=300),
        "two-outputs": np.c_[x @ np.arange(6.0), x[:, 0]],
    }
    estimator, target = {
        "logreg-binary": (linear_model.LogisticRegression(), "binary"),
        "logreg-multiclass": (linear_model.LogisticRegression(), "multiclass"),
        "logreg-strings": (linear_model.LogisticRegression(), "strings"),
        "sgd-multiclass": (linear_model.SGDClassifier(random_state=0), "multiclass"),
        "perceptron": (linear_model.Perceptron(), "binary"),
        "linear-svc": (svm.LinearSVC(), "binary"),
        "linear-svr": (svm.LinearSVR(), "regression"),
        "ols": (linear_model.LinearRegression(), "regression"),
        "ols-two-outputs": (linear_model.LinearRegression(), "two-outputs"),
        "ridge": (linear_model.Ridge(), "regression"),
        "scaled-logreg": (
            pipeline.make_pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression()),
            "multiclass",
        ),
        "scaled-twice-ols": (
            pipeline.make_pipeline(
                preprocessing.StandardScaler(with_mean=False),
                preprocessing.StandardScaler(with_std=False),
                linear_model.LinearRegression(),
            ),
            "regression",
        ),
        "passthrough-ols": (
            pipeline.Pipeline([("raw", "passthrough"), ("ols", linear_model.LinearRegression())]),
            "regression",
        ),
        "minmax-logreg": (
            pipeline.make_pipeline(preprocessing.MinMaxScaler(), linear_model.LogisticRegression()),
            "binary",
        ),
    }[name]
    return estimator.fit(x, labels[target])


@pytest.mark.parametrize(
    "name",
    [
        "logreg-binary",
        "logreg-multiclass",
        "logreg-strings",
        "sgd-multiclass",
        "perceptron",
        "linear-svc",
        "linear-svr",
        "ols",
        "ols-two-outputs",
        "scaled-logreg",
        "scaled-twice-ols",
        "passthrough-ols",
    ],
)
def test_direct_path_equals_predict(name: str) -> None:
    model = _fitted(name)
    direct = direct_predict(model)
    assert direct is not None
    rows = np.random.default_rng(11).normal(size=(500, 6)) * 4
    for chunk in (rows[:1], rows[:7], rows):
        got, want = direct(chunk), model.predict(chunk)
        assert got.dtype == want.dtype
        assert np.array_equal(got, want)


def test_overridden_predict_keeps_its_own() -> None:
    from sklearn.linear_model import LogisticRegression

    class Thresholded(LogisticRegression):
        def predict(self, X: Any) -> Any:
            return (self.predict_proba(X)[:, 1] > 0.9).astype(int)

    x = np.random.default_rng(3).normal(size=(100, 4))
    assert direct_predict(Thresholded().fit(x, (x[:, 0] > 0).astype(int))) is None
    assert direct_predict(_fitted("ridge")) is None  # Ridge defines its own predict
    assert direct_predict(_fitted("minmax-logreg")) is None  # only StandardScaler steps


def test_sparse_coefficients_keep_predict() -> None:
    model = _fitted("logreg-binary")
    model.sparsify()
    assert direct_predict(model) is None


def test_a_disagreeing_shortcut_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fitted("logreg-binary")
    monkeypatch.setattr(linear, "_linear_scorer", lambda m: lambda rows: np.zeros(len(rows), dtype=int))
    assert direct_predict(model) is None


def test_non_finite_rows_get_sklearn_error_as_input_error() -> None:
    run = estimator_predict_fn(_fitted("logreg-binary"))
    assert len(run([[0.1] * 6, [0.2] * 6])) == 2
    with pytest.raises(InputError, match="NaN"):
        run([[float("nan")] + [0.0] * 5])
    with pytest.raises(InputError, match=r"infinity|too large"):
        run([[float("inf")] + [0.0] * 5])
