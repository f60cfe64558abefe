"""Linear scikit-learn models scored with scikit-learn's own arithmetic, minus its per-call checks.

scikit-learn 1.9 spends ~100 us of every ``predict`` call on input validation (which
dataframe library is this, which array-API namespace, is it finite) against ~3 us of
arithmetic for a 20-feature linear model, so on single-row requests the checks are most
of the serving cost. By the time rows reach the model, ``tabular.matrix_builder`` has
already made the checks that matter here: a 2-D float64 ndarray of the model's width.

So for an estimator whose ``predict`` is scikit-learn's generic linear one -- not
overridden anywhere in its class -- the same expressions are evaluated directly:
``X @ coef_.T + intercept_``, then, for a classifier, the class pick of
``LinearClassifierMixin.predict``. In scikit-learn 1.9 that is LogisticRegression,
SGDClassifier, Perceptron, LinearSVC, LinearSVR and LinearRegression; classes that
override ``predict`` (Ridge, Lasso, RidgeClassifier, ...) keep their own. A Pipeline of
StandardScaler (or passthrough) steps ending in one of them is scored the same way, the
scaling done as ``StandardScaler.transform`` does it.
Anything else -- another input type, non-finite values, sparse coefficients -- goes
through ``predict`` as before, so its errors are scikit-learn's own.

Nothing is trusted blindly: at load the direct path is run on probe rows and its answers
must equal ``predict``'s bit for bit, one row and many, or the model is served through
``predict`` alone.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

Direct = Callable[[Any], Any]
PROBE_ROWS = 64


def direct_predict(model: Any) -> Direct | None:
    """A ``predict`` equal to ``model.predict`` on finite float64 rows, or None."""
    scorer = _pipeline_scorer(model) or _linear_scorer(model)
    if scorer is None:
        return None
    predict = model.predict

    def run(matrix: Any) -> Any:
        if type(matrix) is not np.ndarray or matrix.dtype != np.float64 or not np.isfinite(matrix).all():
            return predict(matrix)  # scikit-learn's own checks and messages
        return scorer(matrix)

    return run if agrees(model, scorer) else None


def _linear_scorer(model: Any) -> Direct | None:
    try:
        from sklearn.linear_model._base import LinearClassifierMixin, LinearModel, MultiOutputLinearModel
    except ImportError:  # a scikit-learn that moved them: no shortcut
        return None
    cls = type(model)
    coef = getattr(model, "coef_", None)
    intercept = getattr(model, "intercept_", None)
    if type(coef) is not np.ndarray or coef.ndim not in (1, 2) or intercept is None:
        return None
    weights = coef.T if coef.ndim == 2 else coef
    if (
        cls.predict is LinearClassifierMixin.predict
        and cls.decision_function is LinearClassifierMixin.decision_function
    ):
        classes = getattr(model, "classes_", None)
        if type(classes) is not np.ndarray:
            return None

        def classify(matrix: Any) -> Any:
            scores = matrix @ weights + intercept
            if scores.ndim > 1 and scores.shape[1] == 1:
                scores = scores.reshape(-1)
            picks = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
            return classes.take(picks, axis=0)

        return classify
    if (
        cls.predict in (LinearModel.predict, MultiOutputLinearModel.predict)
        and cls._decision_function is LinearModel._decision_function
    ):

        def regress(matrix: Any) -> Any:
            return matrix @ weights + intercept

        return regress
    return None


def _pipeline_scorer(model: Any) -> Direct | None:
    """Scaling steps then a linear model, as ``Pipeline.predict`` runs them."""
    try:
        from sklearn.pipeline import Pipeline
    except ImportError:
        return None
    if type(model) is not Pipeline or not model.steps:  # a subclass may predict its own way
        return None
    stages = [_scaler(step) for _, step in model.steps[:-1]]
    final = _linear_scorer(model.steps[-1][1])
    if final is None or any(stage is None for stage in stages):
        return None
    ready = [stage for stage in stages if stage is not None]

    def run(matrix: Any) -> Any:
        for stage in ready:
            matrix = stage(matrix)
        return final(matrix)

    return run


def _scaler(step: Any) -> Direct | None:
    """``StandardScaler.transform`` on dense rows (a copy, centred then scaled), or a passthrough."""
    if step is None or step == "passthrough":
        return lambda matrix: matrix
    try:
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        return None
    if type(step) is not StandardScaler:
        return None
    mean = step.mean_ if step.with_mean else None
    scale = step.scale_ if step.with_std else None
    if any(v is not None and type(v) is not np.ndarray for v in (mean, scale)):
        return None

    def transform(matrix: Any) -> Any:
        out = matrix.copy()
        if mean is not None:
            out -= mean
        if scale is not None:
            out /= scale
        return out

    return transform


def agrees(model: Any, scorer: Direct, probe: Any = None) -> bool:
    """Whether ``scorer`` answers exactly as ``model.predict`` on probe rows (one, and all).

    ``probe`` defaults to seeded normal rows of the model's width."""
    if probe is None:
        final = getattr(model, "_final_estimator", None)  # a Pipeline led by "passthrough" has no width
        width = getattr(model, "n_features_in_", None) or getattr(final, "n_features_in_", None)
        if not isinstance(width, int | np.integer) or width < 1:
            return False
        probe = np.random.default_rng(0).normal(size=(PROBE_ROWS, int(width))) * 3.0
    try:
        with warnings.catch_warnings():  # e.g. "X does not have valid feature names"
            warnings.simplefilter("ignore")
            return all(_same(model.predict(rows), scorer(rows)) for rows in (probe[:1], probe))
    except Exception:
        return False


def _same(expected: Any, got: Any) -> bool:
    expected, got = np.asarray(expected), np.asarray(got)
    if expected.dtype != got.dtype or expected.shape != got.shape:
        return False
    if expected.dtype.kind in "fc":  # bit for bit: tells -0.0 from 0.0, and NaN equals NaN
        return bool(np.ascontiguousarray(expected).tobytes() == np.ascontiguousarray(got).tobytes())
    return bool(np.array_equal(expected, got))
