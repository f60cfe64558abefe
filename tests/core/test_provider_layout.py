"""Each provider keeps its emulator in its own emulator/ package, and no production module
reaches into it (an emulator written apart from the adapter cannot share its mistakes)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROVIDERS = Path(__file__).resolve().parents[2] / "providers"
# The modules that exist to start the emulator for tests (the cloudserve.emulators entry point).
EMULATOR_FACING = {"testing.py"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("target", ["sagemaker", "vertex", "azureml"])
def test_production_modules_do_not_import_the_emulator(target: str) -> None:
    package = PROVIDERS / target / f"cloudserve_{target}"
    assert (package / "emulator" / "__init__.py").is_file()
    emulator = f"cloudserve_{target}.emulator"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "emulator" not in path.relative_to(package).parts and path.name not in EMULATOR_FACING
        if any(name == emulator or name.startswith(emulator + ".") for name in _imports(path))
    ]
    assert offenders == []
    assert not list(package.glob("_emulator_*.py")), "emulator modules belong in emulator/"
