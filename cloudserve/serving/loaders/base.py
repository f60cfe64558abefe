"""What every loader returns, and the one error a loader raises.

A loaded model is reduced to ``predict(instances) -> list`` so the server never needs
to know the framework: routing, metrics and capture treat every version alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PredictFn = Callable[[list[Any]], list[Any]]


class LoaderError(Exception):
    """An artifact could not be loaded; ``str()`` is the reason shown to the user."""


class InputError(ValueError):
    """The request's instances do not fit the model (shape, names, types): a 4xx."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to serve.

    ``predict`` takes a list of rows (lists of values or {column: value} dicts) and returns
    one JSON-serialisable prediction per row.
    """

    format: str
    path: Path
    predict: PredictFn
    info: dict[str, Any] = field(default_factory=dict)


def to_jsonable(value: Any) -> list[Any]:
    """numpy arrays and scalars to plain lists, cheaply (``tolist`` when there is one)."""
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        out = tolist()
        return out if isinstance(out, list) else [out]
    if isinstance(value, list):
        return [v.tolist() if hasattr(v, "tolist") else v for v in value]
    if isinstance(value, tuple):
        return list(value)
    raise LoaderError(f"predict returned {type(value).__name__}; expected a list or an array")


def why(exc: BaseException) -> str:
    """A one-line reason for an exception, for messages users read."""
    return f"{type(exc).__name__}: {exc}"
