"""The base of every spec model: unknown keys refused, errors located like the loader's."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)

    def __init__(self, /, **data: Any) -> None:
        """Built from Python, a spec model fails as a spec file does: InvalidSpec with the
        field, the loader's message and did-you-mean (not pydantic's raw ValidationError).
        ``model_validate`` (the loader's path) is untouched."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            from cloudserve.errors import InvalidSpecValue, render_problems
            from cloudserve.spec.errors_map import problems_from
            from cloudserve.spec.yamlpos import SourceDoc

            problems = problems_from(exc, SourceDoc(data, {}, f"<{type(self).__name__}(...)>"), type(self))
            raise InvalidSpecValue(render_problems(problems), problems=problems) from None

    # Tells pydantic this __init__ only wraps BaseModel's, so validation (model_validate and
    # nested models) never calls it: the loader keeps its own located errors.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]
