"""JSON value checks both model walkers share: scalars, RFC 3339 times, ISO 8601 durations.

These are the formats the OpenAPI names (``string``/``date-time``/``duration``, ``integer``,
``number``, ``boolean``); the generated models only coerce them on deserialisation, so the
checks are written out here.
"""

from __future__ import annotations

import enum
import re
from typing import Any, Literal

import isodate  # type: ignore[import-untyped]

# RFC 3339 section 5.6 (``format: date-time`` in OpenAPI): a full date, "T", a time, an offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def type_name(value: Any) -> str:
    """The JSON name of a decoded value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def scalar_problem(value: Any, kind: str) -> str | None:
    """Why ``value`` is not a JSON ``kind`` (str, int, float, bool, datetime, duration, any)."""
    if kind == "any":
        return None
    if kind == "str":
        ok = isinstance(value, str)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "datetime":
        ok = isinstance(value, str) and bool(_RFC3339.match(value))
        if not ok:
            return f"{value!r} is not an RFC 3339 date-time"
    elif kind == "unix-time":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "duration":
        return None if _is_duration(value) else f"{value!r} is not an ISO 8601 duration"
    else:
        return f"the checker does not know the type {kind!r}"
    return None if ok else f"expected {kind}, got {type_name(value)} {value!r}"


def _is_duration(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith("P"):
        return False
    try:
        isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError):
        return False
    return True


def enum_values(enum_cls: type[enum.Enum]) -> str:
    return ", ".join(str(m.value) for m in enum_cls)


def known_value(value: Any, enum_cls: type[enum.Enum], direction: Literal["request", "response"]) -> bool:
    """Whether ``value`` is one of the enum's values. A request may use any letter case: the
    generated enums are ``CaseInsensitiveEnumMeta`` and azure-ai-ml itself sends lower-case
    forms ("enabled", "day", "classification"); a reply carries the service's spelling."""
    if not isinstance(value, str):
        return False
    values = [str(m.value) for m in enum_cls]
    if direction == "response":
        return value in values
    return value.lower() in (v.lower() for v in values)
