"""The neutral error hierarchy.

Each adapter translates its SDK's exceptions into these once, at its boundary, so that
the core (retries, plan, CLI exit codes) never needs to know which cloud raised them.
The cloud's request id and the original exception (as ``__cause__``) are kept.
"""

from __future__ import annotations


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
        parts = [self.message]
        if self.hint:
            parts.append(f"hint: {self.hint}")
        if self.request_id:
            parts.append(f"request id: {self.request_id}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "request_id": self.request_id,
            "target": self.target,
            **self.details,
        }


class InvalidSpec(CloudServeError):
    """The spec is wrong. Carries every problem found, each with file, line and field."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[SpecProblem] | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        return "\n".join(p.render() for p in self.problems)

    def to_dict(self) -> dict[str, object]:
        d = super().to_dict()
        d["problems"] = [p.to_dict() for p in self.problems]
        return d


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
        text = f"{self.location()}: "
        if self.field:
            text += f"{self.field}: "
        text += self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
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


class TargetNotInstalled(CloudServeError):
    exit_code = 2


class RolloutFailed(CloudServeError):
    """A rollout gate failed; traffic was rolled back or paused as the spec says."""

    exit_code = 3
