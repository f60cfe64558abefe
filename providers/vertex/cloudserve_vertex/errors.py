"""google.api_core exceptions and failed operations -> cloudserve's neutral errors.

This is the single place where Google's error vocabulary is translated, so the core can
retry (Throttled, Unavailable), stop (QuotaExceeded, AuthError) or report (DeploymentFailed
with Vertex AI's own message) without knowing which cloud it talks to. google.api_core is
imported lazily: it comes with the SDK, which this module must not pull in at import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from cloudserve import errors as neutral

F = TypeVar("F", bound=Callable[..., Any])
TARGET = "vertex"


def _detail(exc: Any, kind: str) -> dict[str, Any] | None:
    for item in getattr(exc, "details", None) or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith(kind):
            return item
    return None


def _request_id(exc: Any) -> str | None:
    info = _detail(exc, "google.rpc.RequestInfo")
    return str(info["requestId"]) if info and info.get("requestId") else None


def _retry_after(exc: Any) -> float | None:
    info = _detail(exc, "google.rpc.RetryInfo")
    if not info:
        return None
    delay = str(info.get("retryDelay", "")).rstrip("s")
    try:
        return float(delay)
    except ValueError:
        return None


def _is_quota(message: str) -> bool:
    """429 RESOURCE_EXHAUSTED means both "slow down" and "you are out of quota"; only the
    second needs a person (a quota increase), so it must not be retried forever."""
    text = message.lower()
    return "quota" in text and "per minute" not in text and "rate" not in text


def translate(exc: BaseException, *, context: str = "") -> neutral.CloudServeError:
    """The neutral error for an SDK exception; the caller raises it ``from exc``."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, neutral.CloudServeError):
        return exc
    message = getattr(exc, "message", None) or str(exc)
    if context:
        message = f"{context}: {message}"
    kw: dict[str, Any] = {"request_id": _request_id(exc), "target": TARGET}
    cls = _neutral_class(exc, gexc)
    if cls is neutral.QuotaExceeded:
        kw["hint"] = "request a quota increase for Vertex AI in this region, or lower replicas/size"
    elif cls is neutral.AuthError:
        kw["hint"] = (
            "check Application Default Credentials (gcloud auth application-default login) and IAM roles"
        )
    if cls in (neutral.Throttled, neutral.Unavailable):
        kw["retry_after"] = _retry_after(exc)
    return cls(message, **kw)


def _neutral_class(exc: BaseException, gexc: Any) -> type[neutral.CloudServeError]:
    from google.auth import exceptions as auth_exc

    if isinstance(exc, auth_exc.GoogleAuthError):
        return neutral.AuthError
    by_status = _BY_RPC_STATUS.get(_rpc_status(exc) or "")
    if by_status is not None:
        return by_status
    if isinstance(exc, gexc.TooManyRequests | gexc.ResourceExhausted):
        return neutral.QuotaExceeded if _is_quota(getattr(exc, "message", str(exc))) else neutral.Throttled
    if isinstance(
        exc,
        gexc.ServiceUnavailable
        | gexc.InternalServerError
        | gexc.GatewayTimeout
        | gexc.DeadlineExceeded
        | gexc.RetryError,
    ):
        return neutral.Unavailable
    if isinstance(exc, gexc.NotFound):
        return neutral.NotFound
    if isinstance(exc, gexc.AlreadyExists) or (
        isinstance(exc, gexc.Conflict) and "already exists" in str(exc).lower()
    ):
        return neutral.AlreadyExists
    if isinstance(exc, gexc.Conflict | gexc.Aborted | gexc.FailedPrecondition):
        return neutral.Conflict
    if isinstance(exc, gexc.Unauthorized | gexc.Forbidden | gexc.Unauthenticated | gexc.PermissionDenied):
        return neutral.AuthError
    if _is_connection_error(exc):
        return neutral.Unavailable
    return neutral.ProviderError


# Google's REST errors say FAILED_PRECONDITION, ABORTED or ALREADY_EXISTS with HTTP 400/409;
# api_core classifies HTTP errors by status code only, so the rpc status decides here.
_BY_RPC_STATUS: dict[str, type[neutral.CloudServeError]] = {
    "FAILED_PRECONDITION": neutral.Conflict,
    "ABORTED": neutral.Conflict,
    "ALREADY_EXISTS": neutral.AlreadyExists,
    "PERMISSION_DENIED": neutral.AuthError,
    "UNAUTHENTICATED": neutral.AuthError,
}


def _rpc_status(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if response is None or not hasattr(response, "json"):
        return None
    try:
        return str(response.json()["error"]["status"])
    except Exception:
        return None


def _is_connection_error(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def operation_failed(exc: BaseException, what: str) -> neutral.CloudServeError:
    """A long-running operation that ended in error: the cloud's message reaches the user.

    Transient codes stay retryable; anything else is a DeploymentFailed naming the step."""
    err = translate(exc, context=what)
    if isinstance(err, neutral.Throttled | neutral.Unavailable | neutral.QuotaExceeded | neutral.AuthError):
        return err
    return neutral.DeploymentFailed(err.message, request_id=err.request_id, target=TARGET)


def translated(context: str = "") -> Callable[[F], F]:
    """Decorator: translate any Google SDK/HTTP error raised inside into a neutral one."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except neutral.CloudServeError:
                raise
            except Exception as exc:
                if not _is_google_error(exc):
                    raise
                raise translate(exc, context=context or fn.__name__.replace("_", " ")) from exc

        return inner  # type: ignore[return-value]

    return wrap


def _is_google_error(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    return isinstance(exc, gexc.GoogleAPIError | auth_exc.GoogleAuthError) or _is_connection_error(exc)
