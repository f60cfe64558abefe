"""YAML to plain Python, remembering where every value came from.

PyYAML's composer gives nodes with start marks; we build the data ourselves so that each
path (("spec", "traffic", "stable")) maps to a (line, column) for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from cloudserve.errors import SpecProblem

try:  # the C loader is several times faster where libyaml is available
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class SourceDoc:
    """One YAML document: its data and the position of every key and value."""

    data: Any
    positions: dict[Path, Position]
    file: str

    def locate(self, path: Path) -> Position | None:
        """The position of the longest prefix of ``path`` that the document has."""
        for end in range(len(path), -1, -1):
            pos = self.positions.get(tuple(path[:end]))
            if pos is not None:
                return pos
        return None


def _pos(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _construct(node: yaml.Node, path: Path, positions: dict[Path, Position], file: str) -> Any:
    positions.setdefault(path, _pos(node))
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = _construct(value_node, path, {}, file)
                for m in merged if isinstance(merged, list) else [merged]:
                    for k, v in m.items():
                        result.setdefault(k, v)
                continue
            key = _scalar(key_node)
            if isinstance(key, (dict, list)):
                raise _problem(file, key_node, path, "a mapping key must be a plain value")
            if key in result:
                raise _problem(
                    file,
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r}",
                    hint="each key may appear once in a mapping; remove one of them",
                )
            child = (*path, key)
            positions[child] = _pos(key_node)
            result[key] = _construct(value_node, child, positions, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), positions, file) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = _Loader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _problem(file: str, node: yaml.Node, path: Path, message: str, hint: str | None = None) -> Exception:
    from cloudserve.errors import InvalidSpec

    pos = _pos(node)
    problem = SpecProblem(
        message,
        file=file,
        line=pos.line,
        column=pos.column,
        field=format_path(path),
        hint=hint,
    )
    return InvalidSpec(problem.render(), problems=[problem])


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_documents(text: str, file: str) -> list[SourceDoc]:
    """Every document in a YAML stream, each with its positions. Raises InvalidSpec with
    the file, line and column of a syntax error."""
    from cloudserve.errors import InvalidSpec

    docs: list[SourceDoc] = []
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is None:
                continue
            positions: dict[Path, Position] = {}
            data = _construct(node, (), positions, file)
            docs.append(SourceDoc(data, positions, file))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = SpecProblem(
            f"YAML syntax error: {exc.problem or exc.context}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="check indentation (spaces, not tabs) and that every 'key: value' "
            "has a space after the colon",
        )
        raise InvalidSpec(problem.render(), problems=[problem]) from None
    except yaml.YAMLError as exc:
        problem = SpecProblem(f"YAML error: {exc}", file=file)
        raise InvalidSpec(problem.render(), problems=[problem]) from None
    return docs
