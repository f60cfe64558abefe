"""The neutral error hierarchy.

Each adapter translates its SDK's exceptions into these once, at its boundary, so that
the core (retries, plan, CLI exit codes) never needs to know which cloud raised them.
The cloud's request id and the original exception (as ``__cause__``) are kept.
"""

from __future__ import annotations

import http
import json
import re
from collections.abc import Sequence
from typing import Any

# How much of any one value an error message shows, how long one message may get, and how
# many distinct spec problems are listed before the rest are only counted.
MAX_VALUE_CHARS = 200
MAX_MESSAGE_CHARS = 2000
MAX_BODY_CHARS = 500
MAX_PROBLEMS_SHOWN = 20
MAX_PROBLEMS_JSON = 100
_MORE_LOCATIONS = 3
_LONG_RUN = re.compile(rf"\S{{{MAX_VALUE_CHARS + 1},}}")


def shorten(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was: ``abc… (10,485,760 chars)``."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} chars)"


def bounded(text: object, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message safe to show: every single value in it (a run without spaces) longer than
    MAX_VALUE_CHARS is cut, and then the whole to ``limit`` characters.

    The one place cloudserve bounds what it echoes back; every error message and JSON error
    object goes through it, so a 10 MB name in a spec is not printed whole."""
    text = str(text)
    if len(text) > MAX_VALUE_CHARS:
        text = _LONG_RUN.sub(lambda m: shorten(m.group(0)), text)
    return shorten(text, limit)


def bounded_data(value: Any) -> Any:
    """``value`` with every string in it bounded, for JSON error output."""
    if isinstance(value, str):
        return bounded(value)
    if isinstance(value, dict):
        return {k: bounded_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bounded_data(v) for v in value]
    return value


def one_line(text: object) -> str:
    """``text`` bounded and on one line."""
    return " ".join(bounded(text).split())


class CloudServeError(Exception):
    """Base of every error cloudserve raises on purpose."""

    exit_code = 1
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        request_id: str | None = None,
        target: str | None = None,
        retry_after: float | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.hint = hint
        self.request_id = request_id
        self.target = target
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [bounded(self.message)]
        if self.hint:
            parts.append(f"hint: {bounded(self.hint)}")
        if self.request_id:
            parts.append(f"request id: {bounded(self.request_id)}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, object]:
        """A JSON error object; every string in it is bounded (see :func:`bounded`)."""
        data = {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "request_id": self.request_id,
            "target": self.target,
            **self.details,
        }
        return bounded_data(data)  # type: ignore[no-any-return]


class InvalidSpec(CloudServeError):
    """The spec is wrong. Carries every problem found, each with file, line and field."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[SpecProblem] | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        return render_problems(self.problems)

    def to_dict(self) -> dict[str, object]:
        """Problems with the same field, message and hint are one entry with a ``count``
        (and the first few other places in ``also_at``); at most MAX_PROBLEMS_JSON entries,
        the rest counted in ``problems_omitted``."""
        d = super().to_dict()
        groups = group_problems(self.problems)
        entries = []
        for group in groups[:MAX_PROBLEMS_JSON]:
            entry = group[0].to_dict()
            entry["count"] = len(group)
            if len(group) > 1:
                entry["also_at"] = [p.location() for p in group[1 : 1 + _MORE_LOCATIONS]]
            entries.append(bounded_data(entry))
        d["problems"] = entries
        omitted = sum(len(g) for g in groups[MAX_PROBLEMS_JSON:])
        if omitted:
            d["problems_omitted"] = omitted
        return d


def group_problems(problems: Sequence[SpecProblem]) -> list[list[SpecProblem]]:
    """Problems grouped by (field, message, hint), in order of first appearance."""
    groups: dict[tuple[str | None, str, str | None], list[SpecProblem]] = {}
    for p in problems:
        groups.setdefault((p.field, p.message, p.hint), []).append(p)
    return list(groups.values())


def render_problems(problems: Sequence[SpecProblem], *, limit: int = MAX_PROBLEMS_SHOWN) -> str:
    """Spec problems for people: the same problem in many places is shown once with a
    count, and after ``limit`` distinct problems the rest are only counted."""
    groups = group_problems(problems)
    lines: list[str] = []
    for group in groups[:limit]:
        lines.append(group[0].render())
        if len(group) > 1:
            where = ", ".join(bounded(p.location()) for p in group[1 : 1 + _MORE_LOCATIONS])
            more = ", …" if len(group) > 1 + _MORE_LOCATIONS else ""
            lines.append(f"  … and {len(group) - 1:,} more like this ({where}{more})")
    rest = groups[limit:]
    if rest:
        count = sum(len(g) for g in rest)
        lines.append(f"… and {count:,} more problem{'s' if count != 1 else ''} not shown")
    return "\n".join(lines)


class SpecProblem:
    """One problem in a spec file, located as precisely as the source allows."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.hint = hint

    def location(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def render(self) -> str:
        text = f"{bounded(self.location())}: "
        if self.field:
            text += f"{bounded(self.field)}: "
        text += bounded(self.message)
        if self.hint:
            text += f"\n  hint: {bounded(self.hint)}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
        }


class NotFound(CloudServeError):
    exit_code = 4


class AlreadyExists(CloudServeError):
    pass


class Conflict(CloudServeError):
    """The resource is busy (being updated, or leased by another rollout)."""

    exit_code = 5


class Throttled(CloudServeError):
    retryable = True


class Unavailable(CloudServeError):
    """A transient server-side failure (5xx); safe to retry."""

    retryable = True


class QuotaExceeded(CloudServeError):
    pass


class AuthError(CloudServeError):
    exit_code = 6


class CapacityUnavailable(CloudServeError):
    pass


class NotSupported(CloudServeError):
    exit_code = 2


class Timeout(CloudServeError):
    exit_code = 7


class ProviderError(CloudServeError):
    """Anything else the cloud reported; the message is the cloud's own."""


class DeploymentFailed(ProviderError):
    """A resource reached a terminal failed state; the message is the cloud's reason."""


class InvalidSpecValue(InvalidSpec, ValueError):
    """A spec model built in Python with a wrong value. Also a ValueError, so a model made
    inside a validator still fails as that field's validation error."""


class TargetNotInstalled(CloudServeError):
    exit_code = 2


class RolloutFailed(CloudServeError):
    """A rollout gate failed; traffic was rolled back or paused as the spec says."""

    exit_code = 3


class InvalidInput(CloudServeError):
    """A command's input other than the spec (``invoke --data``, say) is wrong or unreadable."""

    exit_code = 2


class InvokeFailed(CloudServeError):
    """The endpoint answered with an error status. ``status_code`` says which; 4xx
    (``client_error``) means the request was refused, 5xx the model or its server failed.

    ``details`` carries ``status_code``, ``kind`` ("client" or "server"), ``version`` and a
    bounded excerpt of the answer in ``body``. Not retried: the endpoint did answer."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        version: str | None = None,
        **kw: Any,
    ) -> None:
        self.status_code = status_code
        self.client_error = 400 <= status_code < 500
        self.body_excerpt = _body_excerpt(body)
        details: dict[str, object] = {
            "status_code": status_code,
            "kind": "client" if self.client_error else "server",
            "version": version,
            "body": self.body_excerpt,
        }
        super().__init__(message, details=details, **kw)

    @classmethod
    def from_answer(
        cls, deployment: str, status_code: int, body: Any, *, version: str | None, target: str | None
    ) -> InvokeFailed:
        try:
            phrase = f" {http.HTTPStatus(status_code).phrase}"
        except ValueError:
            phrase = ""
        by = f" (version {version})" if version else ""
        excerpt = one_line(_body_excerpt(body))
        message = f"{deployment}{by} answered HTTP {status_code}{phrase}"
        if excerpt:
            message += f": {excerpt}"
        if 400 <= status_code < 500:
            hint = "the endpoint refused the request; check the payload against what the model expects"
        else:
            hint = "the model or its server failed; see the endpoint's logs"
        return cls(message, status_code=status_code, body=body, version=version, target=target, hint=hint)


def _body_excerpt(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        try:
            body = json.dumps(body, default=str)
        except (TypeError, ValueError):
            body = repr(body)
    return shorten(body, MAX_BODY_CHARS)
