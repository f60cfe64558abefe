"""The core's layering, read from its source: no import cycles between modules (lazy and
type-checking imports count, since they are how cycles hide), and no module reaching for
another's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import cloudserve

ROOT = Path(cloudserve.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    base = ROOT.parent / dotted.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports(path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, imported name or None) for every cloudserve import in one file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((a.name, None) for a in node.names if a.name.startswith("cloudserve"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not node.module.startswith("cloudserve"):
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield (submodule, None) if _is_module(submodule) else (node.module, alias.name)


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): {m for m, _ in _imports(p)} for p in ROOT.rglob("*.py")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_core_has_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_another_modules_private_names() -> None:
    reached = [
        f"{_module_name(path)} imports {name} from {module}"
        for path in ROOT.rglob("*.py")
        for module, name in _imports(path)
        if name and name.startswith("_") and not name.startswith("__")
    ]
    assert reached == []
