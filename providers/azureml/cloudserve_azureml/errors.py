"""azure.core / azure-ai-ml exceptions -> cloudserve's neutral errors, in one place.

Retryable failures (429, 5xx, transport errors) become Throttled/Unavailable carrying the
server's Retry-After, so the core's retry loop waits as long as Azure asked. A deployment
whose provisioning ends Failed becomes DeploymentFailed with Azure's own reason.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from cloudserve import errors as E

TARGET = "azureml"

_BY_CODE: dict[str, type[E.CloudServeError]] = {
    "QuotaExceeded": E.QuotaExceeded,
    "OutOfQuota": E.QuotaExceeded,
    "InsufficientQuota": E.QuotaExceeded,
    "SkuNotAvailable": E.CapacityUnavailable,
    "OutOfCapacity": E.CapacityUnavailable,
    "AuthorizationFailed": E.AuthError,
    "InvalidAuthenticationToken": E.AuthError,
}


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for key, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("Retry-After", 1.0)):
        value = headers.get(key)
        if value is not None:
            with contextlib.suppress(ValueError):
                return float(value) * scale
    return None


def _request_id(response: Any) -> str | None:
    headers = getattr(response, "headers", None) or {}
    return (
        headers.get("x-ms-request-id") or headers.get("x-request-id") or headers.get("x-ms-client-request-id")
    )


def _code_and_message(exc: Any) -> tuple[str | None, str]:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    if code is None:
        match = re.search(r"\((\w+)\)", str(exc))
        code = match.group(1) if match else None
    return code, str(message).strip()


AUTH_HINT = (
    "sign in with `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET "
    "(a service principal), or run where a managed identity is assigned"
)
_TRIED = re.compile(r"^\s+(\w+Credential):", re.MULTILINE)


def credential_summary(text: str) -> str:
    """DefaultAzureCredential's failure (one line per credential, with links) as one line
    naming the chain it tried; any other authentication error's first line."""
    tried = _TRIED.findall(text)
    if "DefaultAzureCredential failed" in text and tried:
        names = ", ".join(t.removesuffix("Credential") for t in tried)
        return f"no Azure credential is set up here (DefaultAzureCredential tried: {names})"
    return text.strip().splitlines()[0] if text.strip() else "authentication failed"


def translate(exc: BaseException, what: str = "") -> E.CloudServeError:
    """The neutral error for an Azure SDK exception (already-neutral errors pass through)."""
    if isinstance(exc, E.CloudServeError):
        return exc
    from azure.core import exceptions as az

    prefix = f"{what}: " if what else ""
    kw: dict[str, Any] = {"target": TARGET}
    if isinstance(exc, az.ServiceRequestError | az.ServiceResponseError) and not isinstance(
        exc, az.HttpResponseError
    ):
        return E.Unavailable(f"{prefix}could not reach Azure: {exc}", **kw)
    if isinstance(exc, az.ClientAuthenticationError):
        return E.AuthError(f"{prefix}{credential_summary(str(exc))}", hint=AUTH_HINT, **kw)
    if isinstance(exc, az.HttpResponseError):
        response = getattr(exc, "response", None)
        status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
        code, message = _code_and_message(exc)
        kw.update(request_id=_request_id(response))
        text = f"{prefix}{message}"
        if code == "DeploymentFailed" or (status is not None and status < 400):
            # A long-running operation whose status ended Failed: Azure's reason as message.
            return E.DeploymentFailed(text, **kw)
        if status == 429 or code == "TooManyRequests":
            return E.Throttled(text, retry_after=_retry_after(response), **kw)
        if status is not None and status >= 500:
            return E.Unavailable(text, retry_after=_retry_after(response), **kw)
        if code in _BY_CODE:
            return _BY_CODE[code](text, **kw)
        if isinstance(exc, az.ResourceNotFoundError) or status == 404:
            return E.NotFound(text, **kw)
        if isinstance(exc, az.ResourceExistsError):
            return E.AlreadyExists(text, **kw)
        if status in (401, 403):
            return E.AuthError(text, **kw)
        if status == 409:
            return E.Conflict(text, **kw)
        if status == 400:
            return E.InvalidSpec(text, **kw)
        return E.ProviderError(text, **kw)
    name = type(exc).__name__
    if name in ("ValidationException", "ValidationError"):
        return E.InvalidSpec(f"{prefix}{getattr(exc, 'message', exc)}", **kw)
    return E.ProviderError(f"{prefix}{name}: {exc}", **kw)


@contextlib.contextmanager
def azure_errors(what: str = "") -> Iterator[None]:
    """Translate any Azure SDK exception raised inside the block."""
    try:
        yield
    except E.CloudServeError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("azure.", "requests.")) or _is_azure(exc):
            raise translate(exc, what) from exc
        raise


def _is_azure(exc: BaseException) -> bool:
    return any(c.__module__.startswith("azure.") for c in type(exc).__mro__)
