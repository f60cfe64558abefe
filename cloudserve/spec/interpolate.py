"""``${VAR}`` and ``${VAR:-default}`` in spec values, resolved from the environment.

``$${`` writes a literal ``${``. A missing variable with no default is an error that names
where it is used, rather than an empty string deployed by accident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cloudserve.errors import SpecProblem
from cloudserve.spec.yamlpos import Path, SourceDoc, format_path

_VAR_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(doc: SourceDoc, environ: Mapping[str, str]) -> tuple[Any, list[SpecProblem], set[Path]]:
    """Returns the interpolated data, problems found, and the paths whose value came
    from the environment (so secret checks can tell inline values from references)."""
    problems: list[SpecProblem] = []
    from_env: set[Path] = set()

    def sub(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return {k: sub(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v, (*path, i)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "$" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            name, default = match.group(1), match.group(2)
            from_env.add(path)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            pos = doc.locate(path)
            problems.append(
                SpecProblem(
                    f"environment variable {name} is not set",
                    file=doc.file,
                    line=pos.line if pos else None,
                    column=pos.column if pos else None,
                    field=format_path(path),
                    hint=f"export {name}=... before running, or give a default: ${{{name}:-value}}",
                )
            )
            return ""

        return _VAR_RE.sub(replace, value)

    return sub(doc.data, ()), problems, from_env
