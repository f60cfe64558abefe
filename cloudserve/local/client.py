"""A small HTTP client for one local server: its admin API and its data plane.

It uses ``urllib.request`` so that the local target costs no import beyond the
standard library, and translates HTTP failures into the neutral errors once, here.
The admin token travels in a header and never appears in an error message.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from cloudserve.errors import (
    AuthError,
    CloudServeError,
    Conflict,
    DeploymentFailed,
    NotFound,
    ProviderError,
    Unavailable,
)

TOKEN_HEADER = "X-Cloudserve-Token"
VERSION_HEADER = "X-Cloudserve-Version"
ADMIN = "/_cloudserve"

# Model loads happen inside the admin call; a big artifact can take a while.
ADMIN_TIMEOUT = 300.0
PROBE_TIMEOUT = 2.0
INVOKE_TIMEOUT = 60.0

# Never send a request to a proxy: the server is on this machine.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: dict[str, str]
    latency_ms: float


def _decode(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


class ServerClient:
    """Talks to one server at ``host:port``."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        if ":" in connect_host and not connect_host.startswith("["):
            connect_host = f"[{connect_host}]"  # IPv6 literal
        self.base_url = f"http://{connect_host}:{port}"
        self._token = token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = ADMIN_TIMEOUT,
        raw: bytes | None = None,
    ) -> Response:
        """One HTTP exchange. Answers of any status come back; no answer raises Unavailable."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if body is not None and raw is None:
            req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        if path.startswith(ADMIN) and self._token is not None:
            req.add_header(TOKEN_HEADER, self._token)
        start = time.perf_counter()
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                payload, status, hdrs = resp.read(), resp.status, dict(resp.headers.items())
        except urllib.error.HTTPError as err:
            payload, status, hdrs = err.read(), err.code, dict(err.headers.items())
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise Unavailable(f"local server at {self.base_url} did not answer: {reason}") from err
        latency = (time.perf_counter() - start) * 1000.0
        content_type = next((v for k, v in hdrs.items() if k.lower() == "content-type"), "")
        return Response(status, _decode(payload, content_type), hdrs, latency)

    def admin(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        what: str = "",
        unprocessable: type[CloudServeError] = DeploymentFailed,
    ) -> Any:
        """An admin call whose non-2xx answers become neutral errors. A 422 means a model
        that would not load (DeploymentFailed) or, for other calls, a refused request."""
        resp = self.request(method, ADMIN + path, body)
        if 200 <= resp.status < 300:
            return resp.body
        raise _error(resp, what or f"{method} {path}", unprocessable)

    def ping(self) -> bool:
        try:
            return self.request("GET", "/ping", timeout=PROBE_TIMEOUT).status == 200
        except Unavailable:
            return False

    def state(self, timeout: float = PROBE_TIMEOUT) -> dict[str, Any]:
        resp = self.request("GET", ADMIN + "/state", timeout=timeout)
        if resp.status != 200 or not isinstance(resp.body, dict):
            raise _error(resp, "read the server state")
        return resp.body

    def metrics(self, window_seconds: float) -> dict[str, Any]:
        query = urllib.parse.urlencode({"window": f"{window_seconds:g}"})
        body = self.admin("GET", f"/metrics?{query}", what="read metrics")
        return body if isinstance(body, dict) else {}


def _message(body: Any) -> str:
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return str(body)[:500]


def _error(
    resp: Response, what: str, unprocessable: type[CloudServeError] = DeploymentFailed
) -> CloudServeError:
    message = f"local server refused to {what}: {_message(resp.body)} (HTTP {resp.status})"
    if resp.status == 401 or resp.status == 403:
        return AuthError(
            f"local server refused the admin token while trying to {what}",
            hint="the token in the state directory does not match the running server",
        )
    if resp.status == 404:
        return NotFound(message)
    if resp.status == 409:
        return Conflict(message)
    if resp.status == 422:
        return unprocessable(message)
    if resp.status >= 500:
        return Unavailable(message)
    return ProviderError(message)
