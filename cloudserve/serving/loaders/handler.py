"""A custom Python handler: a file defining ``load(model_dir)`` and ``predict(model, instances)``.

The escape hatch for anything the built-in loaders do not know. The file is user code and
is imported as such (it runs on load, like any module). Exceptions from ``predict`` are
the model's failures (5xx), except :class:`InputError`, which a handler may raise to
reject a request (4xx).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from cloudserve.serving.loaders.base import LoadedModel, LoaderError, to_jsonable, why


def handler_outside(handler: Path, model_dir: Path) -> bool:
    """True when the handler file, symlinks resolved, is not inside the model's folder."""
    return not handler.resolve().is_relative_to(model_dir.resolve())


def load_handler(path: Path, model_dir: Path) -> LoadedModel:
    if not path.is_file():
        raise LoaderError(f"handler {path} does not exist")
    if handler_outside(path, model_dir):
        # A handler is code that ships with its model; one outside it is not what was shipped.
        raise LoaderError(
            f"handler {path} resolves to {path.resolve()}, outside the model folder {model_dir}; "
            "keep the handler (not a symlink out) inside the model's folder"
        )
    # A unique module name per file, so two versions' handlers never share a module.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"cloudserve_handler_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoaderError(f"handler {path.name}: not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise LoaderError(f"handler {path.name} failed to import ({why(exc)})") from exc
    load, predict = getattr(module, "load", None), getattr(module, "predict", None)
    if not callable(load) or not callable(predict):
        raise LoaderError(f"handler {path.name} must define load(model_dir) and predict(model, instances)")
    try:
        model = load(str(model_dir))
    except Exception as exc:
        raise LoaderError(f"handler {path.name}: load() raised {why(exc)}") from exc

    def run(instances: list[Any]) -> list[Any]:
        return to_jsonable(predict(model, instances))

    return LoadedModel(format="handler", path=path, predict=run, info={"handler": path.name})
