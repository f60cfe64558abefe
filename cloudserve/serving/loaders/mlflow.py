"""An MLflow model directory with the sklearn flavor, read without importing mlflow.

The layout is MLflow's own (``mlflow.sklearn.save_model``): an ``MLmodel`` YAML file whose
``flavors.sklearn`` names the serialized file (``pickled_model``) and how it was written
(``serialization_format``: pickle, cloudpickle or skops), beside a ``python_function``
flavor with ``loader_module: mlflow.sklearn``. We read that file and load the estimator
directly; mlflow's pyfunc wrapper (pandas per request) is what makes ``mlflow models
serve`` slow, and we do not need it. pickle and cloudpickle run code when loaded, so
they need ``trust_pickle: true`` exactly like a plain pickle file; skops does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cloudserve.serving.loaders.base import LoadedModel, LoaderError, why
from cloudserve.serving.loaders.sklearn import read_skops
from cloudserve.serving.loaders.tabular import estimator_predict_fn

MLMODEL = "MLmodel"


def read_mlmodel(model_dir: Path) -> dict[str, Any]:
    try:
        meta = yaml.safe_load((model_dir / MLMODEL).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LoaderError(f"{model_dir.name}/MLmodel is not readable YAML ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("flavors"), dict):
        raise LoaderError(f"{model_dir.name}/MLmodel has no 'flavors' mapping")
    return meta


def serialization_format(model_dir: Path) -> str | None:
    """How the sklearn flavor's file was written (MLflow's default is cloudpickle)."""
    sk = read_mlmodel(model_dir)["flavors"].get("sklearn")
    return str(sk.get("serialization_format", "cloudpickle")) if isinstance(sk, dict) else None


def load_mlflow(model_dir: Path, trusted: bool) -> LoadedModel:
    meta = read_mlmodel(model_dir)
    flavors = meta["flavors"]
    sk = flavors.get("sklearn")
    if not isinstance(sk, dict):
        raise LoaderError(
            f"{model_dir.name}: MLflow flavors {sorted(flavors)} include no 'sklearn' flavor; "
            "only sklearn-flavor MLflow models are supported (use a custom handler otherwise)"
        )
    fmt = sk.get("serialization_format", "cloudpickle")
    file = model_dir / str(sk.get("pickled_model", "model.pkl"))
    if not file.is_file():
        raise LoaderError(f"{model_dir.name}: MLmodel names {file.name}, which is missing")
    if fmt == "skops":
        model = read_skops(file)
    elif fmt in ("pickle", "cloudpickle"):
        model = _load_pickled(file, fmt, trusted)
    else:
        raise LoaderError(f"{model_dir.name}: unknown sklearn serialization_format {fmt!r}")
    pyfunc = flavors.get("python_function") or {}
    method = str(pyfunc.get("predict_fn") or "predict")
    if not callable(getattr(model, method, None)):
        raise LoaderError(f"{model_dir.name}: the model has no {method}() (python_function.predict_fn)")
    info = {
        "serialization_format": fmt,
        "sklearn_version": sk.get("sklearn_version"),
        "mlflow_version": meta.get("mlflow_version"),
        "predict_fn": method,
    }
    return LoadedModel(
        format="mlflow", path=model_dir, predict=estimator_predict_fn(model, method), info=info
    )


def _load_pickled(file: Path, fmt: str, trusted: bool) -> Any:
    if not trusted:
        raise LoaderError(
            f"this MLflow model is serialized with {fmt}: loading it runs code from the file. "
            "Set trust_pickle: true if you built it yourself, or log it with "
            "serialization_format='skops'"
        )
    try:
        # cloudpickle output is read by pickle itself once cloudpickle is importable.
        import pickle

        if fmt == "cloudpickle":
            import cloudpickle  # type: ignore[import-untyped]  # noqa: F401

        with file.open("rb") as fh:
            return pickle.load(fh)
    except Exception as exc:
        raise LoaderError(f"{file.name}: could not unpickle ({why(exc)})") from exc
