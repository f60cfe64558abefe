"""scikit-learn tree ensembles scored through their own compiled trees, minus the per-call checks.

A RandomForest ``predict`` of one row costs ~4 ms for 100 trees, nearly all of it Python
around the trees: input validation once for the forest and once per tree, a joblib
``Parallel`` dispatch per tree, a lock per tree. The trees themselves (``Tree.predict``,
compiled) take microseconds. HistGradientBoosting spends ~100 us per call validating
input and rebuilding its category bitsets before its compiled predictors run.

So, as ``linear.py`` does for linear models, for an estimator whose ``predict`` is
scikit-learn's own forest or histogram-boosting one (not overridden anywhere in its
class), the same steps run directly on the float64 rows ``tabular.matrix_builder`` has
already checked: for forests, the float32 cast ``_validate_X_predict`` makes, each tree's
``tree_.predict`` summed in estimator order, the division by the number of trees and
the class pick of ``ForestClassifier.predict``; for histogram boosting, the baseline
plus every predictor's ``predict`` in iteration order, then the class pick or inverse
link of ``predict``. Same compiled code, same operations in the same order, so the same
bits. Forests sum their trees in estimator order (``n_jobs=1``): with several jobs
scikit-learn adds them in thread-completion order, whose last bits vary run to run.

Inputs the direct path does not take -- other types, values that are not finite (for
forests; histogram boosting handles NaN in its predictors, so it takes NaN), models with
categorical preprocessing -- go through ``predict``, so errors are scikit-learn's own.
At load, the direct path must equal ``predict`` bit for bit on probe rows: seeded random
rows, rows sitting exactly on the first trees' split thresholds, and (for histogram
boosting) rows with missing values; otherwise the model is served through ``predict``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from cloudserve.serving.loaders.linear import PROBE_ROWS, agrees

Direct = Callable[[Any], Any]
_THRESHOLD_TREES = 4  # trees whose split thresholds become probe rows


def tree_predict(model: Any, threads: int = 1) -> Direct | None:
    """A ``predict`` equal to ``model.predict`` on float64 rows, or None if there is none."""
    found = _forest_scorer(model) or _hgb_scorer(model, threads)
    if found is None:
        return None
    scorer, takes_nan = found
    predict = model.predict

    def run(matrix: Any) -> Any:
        if type(matrix) is not np.ndarray or matrix.dtype != np.float64:
            return predict(matrix)
        if not (np.isfinite(matrix) | (takes_nan & np.isnan(matrix))).all():
            return predict(matrix)  # infinities, or NaN for a forest: scikit-learn decides
        out = scorer(matrix)
        return predict(matrix) if out is None else out

    probe = _probe(model, takes_nan)
    if probe is None:
        return None
    with _sequential(model, threads):
        return run if agrees(model, scorer, probe) else None


def _forest_scorer(model: Any) -> tuple[Direct, bool] | None:
    try:
        from sklearn.ensemble._forest import ForestClassifier, ForestRegressor
        from sklearn.tree._classes import BaseDecisionTree, DecisionTreeClassifier
    except ImportError:  # a scikit-learn that moved them: no shortcut
        return None
    cls, trees = type(model), getattr(model, "estimators_", None)
    if not isinstance(trees, list) or not trees or getattr(model, "n_outputs_", None) != 1:
        return None
    count = len(trees)
    if cls.predict is ForestClassifier.predict and cls.predict_proba is ForestClassifier.predict_proba:
        if any(type(t).predict_proba is not DecisionTreeClassifier.predict_proba for t in trees):
            return None
        classes, n_classes = model.classes_, int(model.n_classes_)
        parts = [(t.tree_, int(t.n_classes_)) for t in trees]

        def classify(matrix: Any) -> Any:
            rows = _float32(matrix)
            if rows is None:
                return None
            proba = np.zeros((rows.shape[0], n_classes), dtype=np.float64)
            for tree, width in parts:
                proba += tree.predict(rows)[:, :width]
            proba /= count
            return classes.take(np.argmax(proba, axis=1), axis=0)

        return classify, False
    if cls.predict is ForestRegressor.predict:
        if any(type(t).predict is not BaseDecisionTree.predict for t in trees):
            return None
        regressors = [t.tree_ for t in trees]

        def regress(matrix: Any) -> Any:
            rows = _float32(matrix)
            if rows is None:
                return None
            total = np.zeros(rows.shape[0], dtype=np.float64)
            for tree in regressors:
                total += tree.predict(rows)[:, 0]
            total /= count
            return total

        return regress, False
    return None


def _float32(matrix: Any) -> Any:
    """The cast ``_validate_X_predict`` makes; None when it overflows (scikit-learn raises)."""
    with np.errstate(over="ignore"):  # an overflow is found just below, and refused
        rows = matrix.astype(np.float32)
    return rows if np.isfinite(rows).all() else None


def _hgb_scorer(model: Any, threads: int) -> tuple[Direct, bool] | None:
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting
    except ImportError:
        return None
    cls = type(model)
    if getattr(cls, "_raw_predict", None) is not BaseHistGradientBoosting._raw_predict:
        return None
    predictors = getattr(model, "_predictors", None)
    if not predictors or getattr(model, "_preprocessor", True) is not None:
        return None  # unfitted, or categorical columns encoded by a preprocessor first
    baseline = model._baseline_prediction
    bitsets, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    width = int(model.n_trees_per_iteration_)

    def raw(matrix: Any) -> Any:
        out = np.zeros((matrix.shape[0], width), dtype=baseline.dtype, order="F")
        out += baseline
        for iteration in predictors:
            for k, predictor in enumerate(iteration):
                out[:, k] += predictor.predict(matrix, bitsets, f_idx_map, threads)
        return out

    if cls.predict is HistGradientBoostingClassifier.predict:
        classes = model.classes_

        def classify(matrix: Any) -> Any:
            scores = raw(matrix)
            if scores.shape[1] == 1:
                return classes[(scores.ravel() > 0).astype(int)]
            return classes[np.argmax(scores, axis=1)]

        return classify, True
    if cls.predict is HistGradientBoostingRegressor.predict:
        inverse = model._loss.link.inverse
        return (lambda matrix: inverse(raw(matrix).ravel())), True
    return None


def _probe(model: Any, with_nan: bool) -> Any:
    """Seeded rows, rows on split thresholds and (optionally) rows with NaN, or None."""
    width = getattr(model, "n_features_in_", None)
    if not isinstance(width, int | np.integer) or width < 1:
        return None
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=(PROBE_ROWS, int(width))) * 3.0]
    splits = _splits(model)
    splits = splits[:: max(1, len(splits) // (2 * PROBE_ROWS))]  # spread over the trees
    if splits:
        on_split = rng.normal(size=(len(splits), int(width))) * 3.0
        for i, (feature, threshold) in enumerate(splits):
            on_split[i, feature] = threshold
        rows.append(on_split)
    if with_nan:
        holes = rng.normal(size=(8, int(width)))
        holes[rng.random(holes.shape) < 0.3] = np.nan
        rows.append(holes)
    return np.vstack(rows)


def _splits(model: Any) -> list[tuple[int, float]]:
    """(feature, threshold) of internal nodes of the first trees, thresholds as stored and
    as the float32 the forest compares (so both sides of ``<=`` are probed)."""
    out: list[tuple[int, float]] = []
    for tree in getattr(model, "estimators_", [])[:_THRESHOLD_TREES]:
        nodes = tree.tree_
        for f, t in zip(nodes.feature, nodes.threshold, strict=True):
            if f >= 0:
                out += [(int(f), float(t)), (int(f), float(np.float32(t)))]
    for iteration in (getattr(model, "_predictors", None) or [])[:_THRESHOLD_TREES]:
        for predictor in iteration:
            for node in predictor.nodes:
                if not node["is_leaf"]:
                    out.append((int(node["feature_idx"]), float(node["num_threshold"])))
    return out


@contextmanager
def _sequential(model: Any, threads: int) -> Iterator[None]:
    """The model's own ``predict`` while it is compared: trees summed in order, and the
    OpenMP pool at the serving size (a full pool on a busy host makes the check slow)."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    jobs = getattr(model, "n_jobs", None)
    sequential = jobs not in (None, 1) and hasattr(model, "estimators_")
    if sequential:
        model.n_jobs = 1
    try:
        with threadpool_limits(limits=threads, user_api="openmp"):
            yield
    finally:
        if sequential:
            model.n_jobs = jobs
