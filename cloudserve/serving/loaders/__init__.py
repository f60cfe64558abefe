"""Model loaders, one small module per format, chosen by ModelSpec.format or by the files.

``load_model(spec, base_dir)`` is the only entry point the server uses. Detection looks at
what is on disk: an ``MLmodel`` file means an MLflow directory; otherwise the file
suffix decides (.skops, .joblib, .pkl, .json/.ubj for XGBoost). A directory with
exactly one model file is served from that file; several candidates are an error that
names them, because guessing which one is meant would serve the wrong model silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cloudserve.artifacts import is_remote, resolve_local
from cloudserve.serving.loaders.base import InputError, LoadedModel, LoaderError, to_jsonable
from cloudserve.serving.loaders.handler import handler_outside
from cloudserve.spec.models import ModelSpec

__all__ = [
    "FORMATS",
    "InputError",
    "LoadedModel",
    "LoaderError",
    "detect",
    "handler_outside",
    "load_model",
    "runs_code",
    "to_jsonable",
]

_SUFFIXES = {
    ".skops": "skops",
    ".joblib": "joblib",
    ".jbl": "joblib",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".ubj": "xgboost",
    ".json": "xgboost",
}
_XGB_EXTRA = (".bst", ".model", ".deprecated")


def _load_file(fmt: str) -> Callable[[Path, ModelSpec, Path], LoadedModel]:
    def load(path: Path, spec: ModelSpec, root: Path) -> LoadedModel:
        from cloudserve.serving.loaders import sklearn, xgboost

        if fmt == "joblib":
            return sklearn.load_joblib(path, spec.trust_pickle)
        if fmt == "skops":
            return sklearn.load_skops(path)
        if fmt == "pickle":
            return sklearn.load_pickle(path, spec.trust_pickle)
        return xgboost.load_xgboost(path)

    return load


def _load_mlflow(path: Path, spec: ModelSpec, root: Path) -> LoadedModel:
    from cloudserve.serving.loaders.mlflow import load_mlflow

    return load_mlflow(path, spec.trust_pickle)


def runs_code(root: Path, spec: ModelSpec) -> str | None:
    """Why loading the artifact at ``root`` would unpickle (run code from) a file, or None.

    Judged from what is on disk, with the detection ``load_model`` uses, so the spec check
    at validate time and the load agree. Handlers are code by design and are judged by
    their path instead (see ``handler_outside``)."""
    fmt, path = detect(root, spec)
    if fmt in ("joblib", "pickle"):
        return f"{path.name} is a {fmt} file"
    if fmt == "mlflow":
        from cloudserve.serving.loaders.mlflow import serialization_format

        serialized = serialization_format(path)
        if serialized in ("pickle", "cloudpickle"):
            return f"the MLflow model {path.name} is serialized with {serialized}"
    return None


def _load_handler(path: Path, spec: ModelSpec, root: Path) -> LoadedModel:
    from cloudserve.serving.loaders.handler import load_handler

    return load_handler(path, root)


FORMATS: dict[str, Callable[[Path, ModelSpec, Path], LoadedModel]] = {
    "joblib": _load_file("joblib"),
    "skops": _load_file("skops"),
    "pickle": _load_file("pickle"),
    "xgboost": _load_file("xgboost"),
    "mlflow": _load_mlflow,
    "handler": _load_handler,
}


def load_model(spec: ModelSpec | Mapping[str, Any], base_dir: Path | str | None = None) -> LoadedModel:
    """Load the artifact ``spec`` points at; every failure is a :class:`LoaderError`."""
    if not isinstance(spec, ModelSpec):
        try:
            spec = ModelSpec.model_validate(dict(spec))
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise LoaderError(reasons) from exc
    if is_remote(spec.uri):
        raise LoaderError(
            f"{spec.uri}: remote model URIs are staged by the cloud target; the serving runtime "
            "loads local files (mount or download the model first)"
        )
    root = resolve_local(spec.uri, Path(base_dir) if base_dir is not None else None)
    if not root.exists():
        raise LoaderError(f"model path {root} does not exist")
    fmt, path = detect(root, spec)
    return FORMATS[fmt](path, spec, root if root.is_dir() else root.parent)


def detect(root: Path, spec: ModelSpec) -> tuple[str, Path]:
    """(format, file or directory to load) for the artifact at ``root``."""
    if spec.handler is not None or spec.format == "handler" or spec.framework == "custom":
        base = root if root.is_dir() else root.parent
        return "handler", base / (spec.handler or "handler.py")
    if spec.format == "mlflow" or spec.framework == "mlflow" or (root / "MLmodel").is_file():
        if not (root / "MLmodel").is_file():
            raise LoaderError(f"{root} is not an MLflow model directory (no MLmodel file)")
        return "mlflow", root
    if root.is_file():
        fmt = spec.format or _format_of(root, spec)
        if fmt is None:
            raise LoaderError(
                f"{root.name}: unknown model file type; set model.format ({', '.join(FORMATS)})"
            )
        return fmt, root
    return _detect_in_dir(root, spec)


def _format_of(file: Path, spec: ModelSpec) -> str | None:
    suffix = file.suffix.lower()
    fmt = _SUFFIXES.get(suffix)
    if suffix == ".json":
        from cloudserve.serving.loaders.xgboost import looks_like_xgboost_json

        return fmt if looks_like_xgboost_json(file) else None
    if fmt is None and spec.framework == "xgboost" and suffix in _XGB_EXTRA:
        return "xgboost"
    return fmt


def _detect_in_dir(root: Path, spec: ModelSpec) -> tuple[str, Path]:
    found: list[tuple[str, Path]] = []
    for file in sorted(p for p in root.iterdir() if p.is_file()):
        fmt = _format_of(file, spec)
        if fmt is not None and (spec.format is None or spec.format == fmt):
            found.append((fmt, file))
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(f.name for _, f in found)
        raise LoaderError(f"{root} holds several model files ({names}); point model.uri at one")
    if (root / "handler.py").is_file():
        return "handler", root / "handler.py"
    subdirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    if len(subdirs) == 1:
        # Azure ML mounts a registered folder one level down (AZUREML_MODEL_DIR/<name>/).
        return detect(subdirs[0], spec)
    raise LoaderError(
        f"no model file found in {root} (looked for MLmodel, *.skops, *.joblib, *.pkl, "
        "XGBoost *.json/*.ubj, or a handler)"
    )
