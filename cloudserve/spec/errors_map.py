"""pydantic validation errors -> SpecProblems with file, line, field path and a fix."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from cloudserve.errors import SpecProblem
from cloudserve.spec.yamlpos import Path, SourceDoc, format_path

# Cross-field validators name the field they are about as "@field.sub: message", since a
# model validator cannot set the error location itself.
_FIELD_PREFIX = "@"


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def _model_at(root: type[BaseModel], path: Path) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path``, if one does."""
    # A model whose mapping field is validated by models it looks up (Deployment.targets: each
    # target's settings) says which one through ``child_model(field, key)``.
    child_model = getattr(root, "child_model", None)
    if len(path) >= 2 and child_model is not None:
        child = child_model(str(path[0]), str(path[1]))
        if child is not None:
            return _model_at(child, path[2:])
    candidates: list[Any] = [root]
    for part in path:
        nxt: list[Any] = []
        for cand in candidates:
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                for name, info in cand.model_fields.items():
                    if part in (name, info.alias):
                        nxt.extend(_unwrap(info.annotation))
            else:
                origin = typing.get_origin(cand)
                args = typing.get_args(cand)
                if origin is dict and len(args) == 2:
                    nxt.extend(_unwrap(args[1]))
                elif origin is list and args:
                    nxt.extend(_unwrap(args[0]))
        candidates = nxt
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def allowed_keys(root: type[BaseModel], path: Path) -> list[str]:
    model = _model_at(root, path)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def problems_from(
    exc: ValidationError, doc: SourceDoc, root: type[BaseModel], prefix: Path = ()
) -> list[SpecProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Path = (*prefix, *err["loc"])
        msg: str = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if msg.startswith(_FIELD_PREFIX) and ": " in msg:
            sub, msg = msg[1:].split(": ", 1)
            loc = (*loc, *sub.split("."))
        hint = None
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            keys = allowed_keys(root, loc[len(prefix) : -1])
            close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
            msg = f"unknown key {key!r}"
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif keys:
                hint = f"remove it; keys allowed here: {', '.join(keys)}"
        elif kind == "missing":
            msg = f"{loc[-1]!r} is required"
            hint = f"add {loc[-1]}: ... under {format_path(loc[:-1]) or 'the document root'}"
        elif kind in ("literal_error", "enum"):
            hint = f"got {err.get('input')!r}"
        elif kind.endswith("_type") or kind.endswith("_parsing"):
            hint = f"got {type(err.get('input')).__name__} {err.get('input')!r}"
        pos = doc.locate(loc)
        problems.append(
            SpecProblem(
                msg,
                file=doc.file,
                line=pos.line if pos else None,
                column=pos.column if pos else None,
                field=format_path(loc),
                hint=hint,
            )
        )
    return problems
