"""A spec problem pointed at the line of the field it is about."""

from __future__ import annotations

from cloudserve.errors import SpecProblem
from cloudserve.spec.models import Deployment


def located(deployment: Deployment, field: str, message: str, hint: str | None = None) -> SpecProblem:
    """A problem with ``field`` pointed at its line in the spec file, when it came from one."""
    position = deployment.locate(field)
    line, column = position if position is not None else (None, None)
    return SpecProblem(
        message, file=deployment._source_file, line=line, column=column, field=field, hint=hint
    )
