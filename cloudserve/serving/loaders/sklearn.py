"""scikit-learn models saved with skops, joblib or (only when trusted) plain pickle.

skops is the safe default: it refuses types it does not know, and we let through only
scikit-learn, numpy and scipy types that ``skops.io.get_untrusted_types`` reports, so a
file that smuggles in anything else fails with the list of offending types. joblib files
are pickles underneath; the spec accepts them as the common scikit-learn format. Plain
pickle needs ``trust_pickle: true`` because loading one runs arbitrary code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudserve.serving.loaders.base import LoadedModel, LoaderError, why
from cloudserve.serving.loaders.tabular import estimator_predict_fn

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")


def _wrap(fmt: str, path: Path, model: Any) -> LoadedModel:
    if not callable(getattr(model, "predict", None)):
        raise LoaderError(f"{path.name}: the loaded object ({type(model).__name__}) has no predict()")
    info: dict[str, Any] = {"class": f"{type(model).__module__}.{type(model).__qualname__}"}
    if hasattr(model, "n_features_in_"):
        info["n_features"] = int(model.n_features_in_)
    return LoadedModel(format=fmt, path=path, predict=estimator_predict_fn(model), info=info)


def load_joblib(path: Path) -> LoadedModel:
    import joblib

    try:
        model = joblib.load(path)
    except Exception as exc:
        raise LoaderError(f"{path.name}: not a readable joblib file ({why(exc)})") from exc
    return _wrap("joblib", path, model)


def load_skops(path: Path) -> LoadedModel:
    return _wrap("skops", path, read_skops(path))


def read_skops(path: Path) -> Any:
    """The estimator in a skops file, allowing only scikit-learn/numpy/scipy types."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise LoaderError(f"{path.name}: not a readable skops file ({why(exc)})") from exc
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise LoaderError(
            f"{path.name}: refusing to load types outside scikit-learn/numpy/scipy: "
            f"{', '.join(sorted(refused))}"
        )
    try:
        model = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise LoaderError(f"{path.name}: skops could not load it ({why(exc)})") from exc
    return model


def load_pickle(path: Path, trusted: bool) -> LoadedModel:
    if not trusted:
        raise LoaderError(
            f"{path.name} is a plain pickle: loading it runs code from the file. Set "
            "trust_pickle: true if you built it yourself, or save the model with skops"
        )
    import pickle

    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)
    except Exception as exc:
        raise LoaderError(f"{path.name}: not a readable pickle ({why(exc)})") from exc
    return _wrap("pickle", path, model)
