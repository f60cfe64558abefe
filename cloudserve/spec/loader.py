"""Load deployment specs from YAML files, directories or Python objects.

Every problem is reported with the file, line, column and field path, and a hint on how
to fix it; all problems in a document are reported at once, not just the first.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from cloudserve.errors import InvalidSpec, SpecProblem, render_problems
from cloudserve.spec import targets
from cloudserve.spec.errors_map import problems_from
from cloudserve.spec.interpolate import interpolate
from cloudserve.spec.models import Deployment
from cloudserve.spec.secrets import find_inline_secrets
from cloudserve.spec.yamlpos import MAX_FILE_BYTES, Path, Position, SourceDoc, parse_documents

SPEC_SUFFIXES = (".yaml", ".yml")
TARGET_ENV = "CLOUDSERVE_TARGET"

SpecSource = str | os.PathLike[str] | Mapping[str, Any] | Deployment


def load(
    source: SpecSource | Iterable[SpecSource],
    *,
    env: str | None = None,
    target: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Deployment]:
    """Every deployment in ``source``: a YAML file (one or many documents), a directory
    of them, a mapping, a Deployment, or a list of these.

    ``env`` applies that environment overlay; the target comes from the document, then
    ``CLOUDSERVE_TARGET``, then ``target`` (each overriding the one before).
    """
    environ = os.environ if environ is None else environ
    return _load_docs(list(_documents(source)), _describe(source), env=env, target=target, environ=environ)


def _load_docs(
    docs: list[SourceDoc], where: str, *, env: str | None, target: str | None, environ: Mapping[str, str]
) -> list[Deployment]:
    """The deployments in parsed documents; every problem of every document at once."""
    problems: list[SpecProblem] = []
    deployments: list[Deployment] = []
    loaded: list[SourceDoc] = []  # the document each deployment came from
    for doc in docs:
        try:
            deployments.append(_load_doc(doc, env=env, target=target, environ=environ))
            loaded.append(doc)
        except InvalidSpec as exc:
            problems.extend(exc.problems or [SpecProblem(exc.message, file=doc.file)])
    first: dict[str, str] = {}  # name -> where it was first defined
    for dep, doc in zip(deployments, loaded, strict=True):
        pos = doc.locate(("metadata", "name"))
        where = f"{doc.file}:{pos.line}" if pos else doc.file
        if dep.name in first:
            # Every repeat names the first definition, so that many repeats render as one
            # problem with a count (errors.render_problems) rather than one line each.
            problems.append(
                SpecProblem(
                    f"deployment {dep.name!r} is defined twice (first in {first[dep.name]})",
                    file=doc.file,
                    line=pos.line if pos else None,
                    column=pos.column if pos else None,
                    field="metadata.name",
                    hint="give each deployment its own metadata.name",
                )
            )
        first.setdefault(dep.name, where)
    if problems:
        raise _invalid(problems)
    if not deployments:
        raise _invalid(
            [
                SpecProblem(
                    "no deployment found",
                    file=where,
                    hint="a spec file needs apiVersion, kind, metadata and spec",
                )
            ]
        )
    return deployments


def load_every_environment(
    source: SpecSource | Iterable[SpecSource],
    *,
    target: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[tuple[str | None, Deployment]]:
    """Every deployment as written (env None) and under each environment overlay its file
    defines, for `validate`: an overlay CI never names is still checked. A problem in an
    overlay says which environment it is in; the lines point into the overlay."""
    environ = os.environ if environ is None else environ
    docs = list(_documents(source))  # parsed once, for the base and every overlay
    base = _load_docs(docs, _describe(source), env=None, target=target, environ=environ)
    out: list[tuple[str | None, Deployment]] = [(None, d) for d in base]
    problems: list[SpecProblem] = []
    for doc in docs:
        envs = doc.data.get("environments") if isinstance(doc.data, dict) else None
        for name in envs if isinstance(envs, dict) else ():
            try:
                out.append((str(name), _load_doc(doc, env=str(name), target=target, environ=environ)))
            except InvalidSpec as exc:
                for p in exc.problems or [SpecProblem(exc.message, file=doc.file)]:
                    p.message = f"with environment {name}: {p.message}"
                    problems.append(p)
    if problems:
        raise _invalid(problems)
    return out


def load_one(source: SpecSource, **kwargs: Any) -> Deployment:
    deployments = load(source, **kwargs)
    if len(deployments) > 1:
        names = ", ".join(d.name for d in deployments)
        raise _invalid(
            [
                SpecProblem(
                    f"expected one deployment, found {len(deployments)}: {names}",
                    file=_describe(source),
                    hint="pass a single file or name one with --name",
                )
            ]
        )
    return deployments[0]


def _invalid(problems: list[SpecProblem]) -> InvalidSpec:
    return InvalidSpec(render_problems(problems), problems=problems)


def _describe(source: Any) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else "<python object>"


def _documents(source: Any) -> Iterable[SourceDoc]:
    if isinstance(source, Deployment):
        yield SourceDoc(
            source.model_dump(mode="json", by_alias=True, exclude_unset=False),
            {},
            "<python object>",
        )
        return
    if isinstance(source, Mapping):
        yield SourceDoc(copy.deepcopy(dict(source)), {}, "<python object>")
        return
    if isinstance(source, (str, os.PathLike)):
        path = FsPath(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
            if not files:
                raise _invalid([SpecProblem(f"no *.yaml or *.yml files in directory {path}", file=str(path))])
            for file in files:
                yield from _file_documents(file)
            return
        yield from _file_documents(path)
        return
    if isinstance(source, Iterable):
        for item in source:
            yield from _documents(item)
        return
    raise TypeError(f"cannot load a spec from {type(source).__name__}")


def _file_documents(path: FsPath) -> Iterable[SourceDoc]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _invalid(
                [
                    SpecProblem(
                        f"the file is {size} bytes; specs are limited to {MAX_FILE_BYTES} bytes (1 MiB)",
                        file=str(path),
                        line=1,
                        hint="split the deployments over several files in a directory",
                    )
                ]
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _invalid(
            [
                SpecProblem(
                    "file not found",
                    file=str(path),
                    hint="check the path; specs are YAML files or a directory of them",
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _invalid([SpecProblem(f"cannot read the file: {exc}", file=str(path))]) from None
    for doc in parse_documents(text, str(path)):
        doc.data = doc.data  # keep identity; source dir travels separately
        yield doc


def _load_doc(
    doc: SourceDoc, *, env: str | None, target: str | None, environ: Mapping[str, str]
) -> Deployment:
    if not isinstance(doc.data, dict):
        raise _invalid(
            [
                SpecProblem(
                    "a spec document must be a mapping (apiVersion, kind, metadata, spec)",
                    file=doc.file,
                    line=1,
                    field="",
                )
            ]
        )
    data, problems, from_env = interpolate(doc, environ)
    problems += find_inline_secrets(data, doc, from_env)
    if problems:
        raise _invalid(problems)
    if env is not None:
        data, doc = _apply_overlay(data, doc, env)
    chosen = environ.get(TARGET_ENV) or None
    for override in (chosen, target):
        if override is None:
            continue
        if override not in targets.known():
            raise _invalid(
                [
                    SpecProblem(
                        f"unknown target {override!r}",
                        file=doc.file,
                        field="spec.target",
                        hint=f"choose one of {', '.join(targets.known())}",
                    )
                ]
            )
        if isinstance(data.get("spec"), dict):
            data["spec"]["target"] = override
    try:
        deployment = Deployment.model_validate(data)
    except ValidationError as exc:
        raise _invalid(problems_from(exc, doc, Deployment)) from None
    if doc.file != "<python object>":
        deployment._source_file = doc.file
        deployment._source_dir = str(FsPath(doc.file).resolve().parent)
        deployment._source_positions = {path: (p.line, p.column) for path, p in doc.positions.items()}
    from cloudserve.spec.model_checks import model_problems

    if problems := model_problems(deployment):
        raise _invalid(problems)
    return deployment


def _apply_overlay(data: dict[str, Any], doc: SourceDoc, env: str) -> tuple[dict[str, Any], SourceDoc]:
    envs = data.get("environments") or {}
    if env not in envs:
        available = ", ".join(sorted(envs)) or "none defined"
        raise _invalid(
            [
                SpecProblem(
                    f"environment {env!r} is not defined",
                    file=doc.file,
                    field="environments",
                    line=(doc.locate(("environments",)) or Position(1, 1)).line,
                    hint=f"environments in this file: {available}",
                )
            ]
        )
    overlay = envs[env]
    if not isinstance(overlay, dict):
        raise _invalid(
            [
                SpecProblem(
                    "an environment overlay must be a mapping",
                    file=doc.file,
                    field=f"environments.{env}",
                )
            ]
        )
    positions = dict(doc.positions)
    prefix: Path = ("environments", env)
    for path, pos in doc.positions.items():
        if path[:2] == prefix and len(path) > 2:
            positions[path[2:]] = pos
    merged = deep_merge(data, overlay)
    return merged, SourceDoc(merged, positions, doc.file)


def deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) replaces; null removes."""
    out = dict(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
