"""Rows from a request to the 2-D array a tabular model takes, with 4xx-grade errors.

Kept apart from the loaders so scikit-learn, XGBoost and MLflow models share one
conversion: list rows go straight to a float64 array (the cheap path a single-row request
takes), {column: value} rows are ordered by the model's own feature names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cloudserve.serving.loaders.base import InputError, PredictFn
from cloudserve.serving.loaders.linear import direct_predict
from cloudserve.serving.loaders.trees import tree_predict
from cloudserve.serving.threads import model_threads

MatrixBuilder = Callable[[list[Any]], Any]


def matrix_builder(feature_names: Sequence[str] | None, n_features: int | None) -> MatrixBuilder:
    """A converter bound to one model's schema, so nothing is looked up per request."""
    names = list(feature_names) if feature_names is not None else None
    width = len(names) if names is not None else n_features

    def build(instances: list[Any]) -> Any:
        if not isinstance(instances, list) or not instances:
            raise InputError("expected a non-empty list of instances")
        first = instances[0]
        if isinstance(first, dict):
            return _from_records(instances, names)
        if not isinstance(first, list | tuple):
            # A flat list: one row when it has the model's width, else one value per row.
            rows: list[Any] = [instances] if width not in (None, 1) else [[v] for v in instances]
        else:
            rows = instances
        return _array(rows, width)

    return build


def _array(rows: list[Any], width: int | None) -> Any:
    try:
        matrix = np.asarray(rows, dtype=np.float64)
    except (ValueError, TypeError):
        try:
            matrix = np.asarray(rows, dtype=object)
        except ValueError as exc:
            raise InputError(f"instances are not a table of rows: {exc}") from None
    if matrix.ndim != 2:
        raise InputError(f"instances must be rows of equal length; got an array of shape {matrix.shape}")
    if width is not None and matrix.shape[1] != width:
        raise InputError(f"each instance needs {width} features; got {matrix.shape[1]}")
    return matrix


def _from_records(instances: list[Any], names: list[str] | None) -> Any:
    if names is None:
        raise InputError(
            "this model was trained without feature names: send each instance as a list of "
            "values in training column order"
        )
    try:
        rows = [[row[name] for name in names] for row in instances]
    except KeyError as exc:
        raise InputError(f"an instance lacks column {exc.args[0]!r}; the model needs {names}") from None
    except TypeError:
        raise InputError("mix of list and {column: value} instances") from None
    try:
        import pandas as pd
    except ImportError:
        return _array(rows, len(names))
    # Models fitted on a DataFrame (e.g. with a ColumnTransformer) select columns by name.
    return pd.DataFrame(rows, columns=names)


def estimator_predict_fn(model: Any, method: str = "predict") -> PredictFn:
    """``predict`` for anything with the scikit-learn estimator API."""
    names = getattr(model, "feature_names_in_", None)
    build = matrix_builder(
        [str(n) for n in names] if names is not None else None,
        getattr(model, "n_features_in_", None),
    )
    predict = getattr(model, method)
    if method == "predict":  # the shortcuts equal predict bit for bit, or are not used
        predict = direct_predict(model) or tree_predict(model, model_threads()) or predict

    def run(instances: list[Any]) -> list[Any]:
        matrix = build(instances)
        try:
            result = predict(matrix)
        except (ValueError, TypeError) as exc:
            raise InputError(str(exc)) from exc
        out: list[Any] = result.tolist()
        return out

    return run
