"""XGBoost models in the library's own JSON or UBJSON format (``save_model``).

These formats hold trees and parameters only, no code, so they need no trust setting.
A model saved from the scikit-learn wrapper carries a ``scikit_learn`` attribute; such
classifiers are reloaded through ``XGBClassifier`` so predictions are class labels, as
the user's code saw them. A plain Booster answers ``inplace_predict`` (no DMatrix per
request: that copy costs more than the trees on a single row).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cloudserve.serving.loaders.base import InputError, LoadedModel, LoaderError, why
from cloudserve.serving.loaders.tabular import estimator_predict_fn, matrix_builder
from cloudserve.serving.threads import model_threads


def looks_like_xgboost_json(path: Path) -> bool:
    """Cheap sniff so a stray .json (say, a config file) is not taken for a model."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and b'"learner"' in head


def load_xgboost(path: Path) -> LoadedModel:
    import xgboost as xgb

    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
    except Exception as exc:
        raise LoaderError(f"{path.name}: not an XGBoost model file ({why(exc)})") from exc
    # XGBoost's predictor takes one thread per core unless told (see threads.py).
    threads = model_threads()
    booster.set_param({"nthread": threads})
    info: dict[str, Any] = {"num_features": booster.num_features()}
    sk_meta = booster.attr("scikit_learn")
    estimator_type = _estimator_type(sk_meta)
    if estimator_type in ("classifier", "regressor"):
        cls = xgb.XGBClassifier if estimator_type == "classifier" else xgb.XGBRegressor
        model = cls()
        model.load_model(str(path))
        model.set_params(n_jobs=threads)  # after the load, which restores the saved params
        info["class"] = cls.__name__
        return LoadedModel(format="xgboost", path=path, predict=estimator_predict_fn(model), info=info)
    return LoadedModel(format="xgboost", path=path, predict=_booster_predict(booster), info=info)


def _estimator_type(meta: str | None) -> str | None:
    if not meta:
        return None
    try:
        value = json.loads(meta).get("_estimator_type")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _booster_predict(booster: Any) -> Any:
    names = booster.feature_names
    build = matrix_builder(names, booster.num_features() or None)

    def run(instances: list[Any]) -> list[Any]:
        matrix = build(instances)
        try:
            result = booster.inplace_predict(matrix, validate_features=False)
        except (ValueError, TypeError) as exc:
            raise InputError(str(exc)) from exc
        out: list[Any] = result.tolist()
        return out

    return run
