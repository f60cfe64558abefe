"""scikit-learn models saved with skops, joblib or (only when trusted) plain pickle.

skops is the safe default: it refuses types it does not know, and of the types
``skops.io.get_untrusted_types`` reports we let through only the exact names in
``TRUSTED_TYPES`` (data-only types ordinary scikit-learn models need), so a file that
smuggles in anything else, e.g. ``numpy.testing._private.utils.runstring`` behind a
FunctionTransformer, fails with the list of offending types. joblib files are pickles
underneath, so they need ``trust_pickle: true`` exactly like plain pickle: loading either
runs arbitrary code from the file.

The allow-list admits types, not their contents: the trees a skops file holds are then
checked (``tree_checks``) against what scikit-learn's compiled traversal indexes by, so a
tampered node array is refused at load instead of reading out of bounds in ``predict``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudserve.serving.loaders.base import LoadedModel, LoaderError, why
from cloudserve.serving.loaders.tabular import estimator_predict_fn
from cloudserve.serving.loaders.tree_checks import check_trees

# Exact type names, collected by saving LogisticRegression, StandardScaler pipelines,
# RandomForest, (Hist)GradientBoosting and OneHotEncoder/ColumnTransformer pipelines with
# skops and asking get_untrusted_types; none of them calls code on load. Never add
# callables (FunctionTransformer targets, numpy.testing.*, builtins, operator, functools).
TRUSTED_TYPES = frozenset(
    {
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.tree._tree.Tree",
    }
)


def _wrap(fmt: str, path: Path, model: Any) -> LoadedModel:
    if not callable(getattr(model, "predict", None)):
        raise LoaderError(f"{path.name}: the loaded object ({type(model).__name__}) has no predict()")
    info: dict[str, Any] = {"class": f"{type(model).__module__}.{type(model).__qualname__}"}
    if hasattr(model, "n_features_in_"):
        info["n_features"] = int(model.n_features_in_)
    return LoadedModel(format=fmt, path=path, predict=estimator_predict_fn(model), info=info)


def untrusted_pickle(path: Path, fmt: str) -> LoaderError:
    return LoaderError(
        f"{path.name} is a {fmt} file: unpickling it runs code from the file. Set "
        "trust_pickle: true if you built it yourself, or save the model with skops"
    )


def load_joblib(path: Path, trusted: bool) -> LoadedModel:
    if not trusted:
        raise untrusted_pickle(path, "joblib")
    import joblib

    try:
        model = joblib.load(path)
    except Exception as exc:
        raise LoaderError(f"{path.name}: not a readable joblib file ({why(exc)})") from exc
    return _wrap("joblib", path, model)


def load_skops(path: Path) -> LoadedModel:
    return _wrap("skops", path, read_skops(path))


def read_skops(path: Path) -> Any:
    """The estimator in a skops file, allowing only scikit-learn/numpy/scipy types, with
    every tree in it checked before anything (the tree shortcut's probe included) predicts."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise LoaderError(f"{path.name}: not a readable skops file ({why(exc)})") from exc
    refused = [t for t in untrusted if t not in TRUSTED_TYPES]
    if refused:
        raise LoaderError(
            f"{path.name}: refusing to load types that are not on cloudserve's skops "
            f"allow-list (they could run code): {', '.join(sorted(refused))}; save the model "
            "with joblib/pickle and set trust_pickle: true if you built it yourself"
        )
    try:
        model = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise LoaderError(f"{path.name}: skops could not load it ({why(exc)})") from exc
    check_trees(model, path.name)
    return model


def load_pickle(path: Path, trusted: bool) -> LoadedModel:
    if not trusted:
        raise untrusted_pickle(path, "pickle")
    import pickle

    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)
    except Exception as exc:
        raise LoaderError(f"{path.name}: not a readable pickle ({why(exc)})") from exc
    return _wrap("pickle", path, model)
