"""botocore exceptions -> cloudserve's neutral errors, once, at the adapter's boundary.

The core retries Throttled and Unavailable (honouring ``retry_after``) and maps the rest
to exit codes, so every AWS failure must arrive here as one of the neutral classes, with
AWS's request id kept for support cases and the original exception as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cloudserve.errors import (
    AlreadyExists,
    AuthError,
    CapacityUnavailable,
    CloudServeError,
    Conflict,
    NotFound,
    ProviderError,
    QuotaExceeded,
    Throttled,
    Unavailable,
)

TARGET = "sagemaker"

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
UNAVAILABLE_CODES = frozenset(
    {
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "InternalError",
        "InternalDependencyException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "ConcurrentUpdateException",
    }
)
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "NotAuthorized",
        "AuthFailure",
        "MissingAuthenticationToken",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFound",
        "ResourceNotFoundException",
        "ObjectNotFoundException",
        "NoSuchKey",
        "NoSuchBucket",
        "NotFound",
        "404",
    }
)
QUOTA_CODES = frozenset({"ResourceLimitExceeded", "LimitExceededException", "ServiceQuotaExceededException"})
CONFLICT_CODES = frozenset({"ConflictException", "ConcurrentModificationException"})
EXISTS_CODES = frozenset({"ResourceInUse", "ResourceInUseException", "BucketAlreadyOwnedByYou"})


def _classify(code: str, message: str, status: int | None) -> type[CloudServeError]:
    lowered = message.lower()
    if code in THROTTLING_CODES:
        return Throttled
    if code in AUTH_CODES:
        return AuthError
    if code in NOT_FOUND_CODES:
        return NotFound
    if code in QUOTA_CODES:
        return QuotaExceeded
    if code in CONFLICT_CODES:
        return Conflict
    if code in EXISTS_CODES:
        return AlreadyExists
    if code in UNAVAILABLE_CODES or (status is not None and status >= 500):
        return Unavailable
    if code == "ValidationException":
        # SageMaker reports missing resources and state conflicts as validation errors;
        # the message is the only signal, so read it.
        if (
            lowered.startswith("could not find")
            or "does not exist" in lowered
            or (lowered.startswith("no ") and " found" in lowered)
        ):
            return NotFound
        if "already existing" in lowered or "already exists" in lowered:
            return AlreadyExists
        if "in-progress" in lowered or "in progress" in lowered:
            return Conflict
    if "insufficientinstancecapacity" in lowered or "insufficient capacity" in lowered:
        return CapacityUnavailable
    return ProviderError


def _retry_after(response: dict[str, Any]) -> float | None:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate_client_error(exc: Any, operation: str) -> CloudServeError:
    """One botocore ClientError -> its neutral class, with the request id kept."""
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    error = response.get("Error", {}) or {}
    meta = response.get("ResponseMetadata", {}) or {}
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", "")) or str(exc)
    status = meta.get("HTTPStatusCode")
    request_id = meta.get("RequestId") or (meta.get("HTTPHeaders", {}) or {}).get("x-amzn-requestid")
    cls = _classify(code, message, status)
    retry_after = _retry_after(response) if cls in (Throttled, Unavailable) else None
    if cls is Throttled and retry_after is None:
        retry_after = 1.0
    return cls(
        f"SageMaker {operation} failed ({code}): {message}",
        request_id=request_id,
        target=TARGET,
        retry_after=retry_after,
    )


def translate_botocore_error(exc: Exception, operation: str) -> CloudServeError:
    """Non-ClientError botocore failures: credentials, connections, timeouts."""
    name = type(exc).__name__
    if name in {"NoCredentialsError", "PartialCredentialsError", "NoRegionError"}:
        return AuthError(
            f"AWS credentials or region missing for {operation}: {exc}",
            hint="configure the standard AWS chain (profile, environment, or role) "
            "and targets.sagemaker.region",
            target=TARGET,
        )
    if name in {"ProfileNotFound"}:
        return AuthError(str(exc), target=TARGET)
    if name in {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    }:
        return Unavailable(f"SageMaker {operation}: {exc}", target=TARGET, retry_after=1.0)
    return ProviderError(f"SageMaker {operation}: {name}: {exc}", target=TARGET)


@contextmanager
def aws_errors(operation: str) -> Iterator[None]:
    """Translate whatever botocore raises inside the block."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        raise translate_client_error(exc, operation) from exc
    except BotoCoreError as exc:
        raise translate_botocore_error(exc, operation) from exc
