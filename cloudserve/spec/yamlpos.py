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


# Limits no real spec reaches; they keep a hostile file (an alias "billion laughs", a
# self-referencing anchor, a huge or deeply nested document) from costing more than a
# fraction of a second and a few MB before it is refused.
# Limits no real spec reaches (the largest example is ~3 KB; 100 deployments of 64 labels
# each stay under 1 MiB), sized so that validate stays under a second and 200 MB on any
# input (benchmarks/validate_limits.py: the worst shapes at each limit, timed).
MAX_FILE_BYTES = 1024 * 1024
MAX_DOCUMENTS = 100
MAX_NODES = 20_000  # values built, counting every expansion of an alias
# Keys and values as written: counted on the parser's events before any node is composed,
# since composing is the slow part (~6 us a node; 1 MiB of tiny flow maps is ~300k nodes).
MAX_WRITTEN_NODES = 2 * MAX_NODES
MAX_DEPTH = 64
MAX_COLLECTION_ITEMS = 10_000

_YAML = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _YAML + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "timestamp")
)


class _Builder:
    """Builds one document's data, counting nodes and depth and refusing alias cycles."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.nodes = 0
        self.active: set[int] = set()
        self.loader = _Loader("")

    def close(self) -> None:
        self.loader.dispose()

    def build(self, node: yaml.Node, path: Path, positions: dict[Path, Position]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _problem(
                self.file,
                node,
                path,
                f"the document expands to more than {MAX_NODES} values (limit {MAX_NODES})",
                hint="an anchor/alias is probably repeated exponentially ('billion laughs'); "
                "write the values out or split the spec",
            )
        if len(path) > MAX_DEPTH:
            raise _problem(
                self.file,
                node,
                path,
                f"nesting is deeper than {MAX_DEPTH} levels (limit {MAX_DEPTH})",
                hint="no spec field is nested this deeply; check for runaway indentation or aliases",
            )
        if node.tag not in _ALLOWED_TAGS:
            raise _problem(
                self.file,
                node,
                path,
                f"YAML tag {node.tag.replace(_YAML, '!!')!r} is not allowed",
                hint="specs use plain YAML values only; remove the tag",
            )
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in self.active:
                raise _problem(
                    self.file,
                    node,
                    path,
                    "an alias refers to the mapping or list that contains it (recursive alias)",
                    hint="recursive anchors are not allowed; write the value out",
                )
            if len(node.value) > MAX_COLLECTION_ITEMS:
                raise _problem(
                    self.file,
                    node,
                    path,
                    f"{len(node.value)} entries in one mapping or list (limit {MAX_COLLECTION_ITEMS})",
                )
            self.active.add(id(node))
            try:
                return self._collection(node, path, positions)
            finally:
                self.active.discard(id(node))
        positions.setdefault(path, _pos(node))
        return self.scalar(node)

    def _collection(self, node: yaml.Node, path: Path, positions: dict[Path, Position]) -> Any:
        positions.setdefault(path, _pos(node))
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), positions) for i, item in enumerate(node.value)]
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _YAML + "merge":
                merged = self.build(value_node, path, {})
                for m in merged if isinstance(merged, list) else [merged]:
                    if not isinstance(m, dict):
                        raise _problem(self.file, value_node, path, "'<<' merges mappings only")
                    for k, v in m.items():
                        result.setdefault(k, v)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _problem(self.file, key_node, path, "a mapping key must be a plain value")
            self.nodes += 1
            if key_node.tag not in _ALLOWED_TAGS:
                raise _problem(
                    self.file,
                    key_node,
                    path,
                    f"YAML tag {key_node.tag.replace(_YAML, '!!')!r} is not allowed",
                    hint="specs use plain YAML values only; remove the tag",
                )
            key = self.scalar(key_node)
            if key in result:
                raise _problem(
                    self.file,
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r}",
                    hint="each key may appear once in a mapping; remove one of them",
                )
            child = (*path, key)
            positions[child] = _pos(key_node)
            result[key] = self.build(value_node, child, positions)
        return result

    def scalar(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)


def _construct(node: yaml.Node, path: Path, positions: dict[Path, Position], file: str) -> Any:
    builder = _Builder(file)
    try:
        return builder.build(node, path, positions)
    finally:
        builder.close()


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


_NODE_EVENTS = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)


def _count_written_nodes(text: str, file: str) -> None:
    from cloudserve.errors import InvalidSpec

    count = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, _NODE_EVENTS):
            count += 1
            if count > MAX_WRITTEN_NODES:
                problem = SpecProblem(
                    f"the file holds more than {MAX_WRITTEN_NODES} keys and values "
                    f"(limit {MAX_WRITTEN_NODES})",
                    file=file,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                    column=event.start_mark.column + 1 if event.start_mark else None,
                    hint="no real spec is this large; split the deployments over several files",
                )
                raise InvalidSpec(problem.render(), problems=[problem])


def parse_documents(text: str, file: str) -> list[SourceDoc]:
    """Every document in a YAML stream, each with its positions. Raises InvalidSpec with
    the file, line and column of a syntax error."""
    from cloudserve.errors import InvalidSpec

    docs: list[SourceDoc] = []
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        problem = SpecProblem(
            f"the file is {size} bytes; specs are limited to {MAX_FILE_BYTES} bytes (1 MiB)",
            file=file,
            line=1,
            hint="split the deployments over several files in a directory",
        )
        raise InvalidSpec(problem.render(), problems=[problem])
    try:
        _count_written_nodes(text, file)
        for count, node in enumerate(yaml.compose_all(text, Loader=_Loader), start=1):
            if count > MAX_DOCUMENTS:
                problem = SpecProblem(
                    f"more than {MAX_DOCUMENTS} YAML documents in one file (limit {MAX_DOCUMENTS})",
                    file=file,
                    line=node.start_mark.line + 1 if node is not None else None,
                    hint="split the deployments over several files in a directory",
                )
                raise InvalidSpec(problem.render(), problems=[problem])
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
