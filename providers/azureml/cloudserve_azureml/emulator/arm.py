"""The HTTP face of the Azure ML emulator: ARM and Azure ML REST routes and blob storage.

Requests arrive through `responses` callbacks as ``requests.PreparedRequest`` objects;
each route returns ``(status, headers, body)``. Long-running PUTs and DELETEs answer 201
or 202 with an ``Azure-AsyncOperation`` URL and ``retry-after-ms`` (``Retry-After: 0``
would make azure-core fall back to its default polling interval of several seconds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cloudserve_azureml.emulator.state import (
    MIRROR_MAX_TOTAL,
    TRAFFIC_MAX_TOTAL,
    EmulatedError,
    EmulatorState,
    name_problem,
    system_data,
    tag_problem,
)

ARM = "https://management.azure.com"
Reply = tuple[int, dict[str, str], str]
Handler = Callable[["ArmRouter", str, dict[str, list[str]], dict[str, Any], re.Match[str]], Reply]
# Called after each ARM reply with (method, url, raw request body, status, response body), so a
# test can read every exchange against the REST models (cloudserve_azureml.emulator.wire.WireChecker).
WireCheck = Callable[[str, str, Any, int, str], None]
# Metrics List answers errors flat ({"code", "message"}: its ErrorResponse), not in ARM's
# {"error": {...}} envelope (azure-mgmt-monitor MetricsOperations.list, 2024-02-01).
_FLAT_ERRORS = re.compile(r"/providers/Microsoft\.Insights/metrics$", re.IGNORECASE)

_WS = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    h = {"Content-Type": "application/json", "x-ms-request-id": "emulated-request"}
    h.update(headers or {})
    return status, h, json.dumps(body) if body is not None else ""


def error_reply(err: EmulatedError, *, flat: bool = False) -> Reply:
    headers = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(int(err.retry_after)) if err.retry_after >= 1 else "1"
        headers["retry-after-ms"] = str(int(err.retry_after * 1000))
    detail = {"code": err.code, "message": err.message}
    return _json(err.status, detail if flat else {"error": detail}, headers)


def _not_found(kind: str, name: str) -> EmulatedError:
    return EmulatedError(404, "ResourceNotFound", f"{kind} {name!r} was not found.")


class ArmRouter:
    """Dispatches one ARM request to its route, applying injected faults first."""

    def __init__(self, state: EmulatorState, wire_check: WireCheck | None = None) -> None:
        self.state = state
        self.wire_check = wire_check
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        from cloudserve_azureml.emulator import routes as _emulator_routes

        _emulator_routes.register(self)

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile("^" + pattern + "$", re.IGNORECASE), handler))

    def __call__(self, request: Any) -> Reply:
        reply = self._reply(request)
        if self.wire_check is not None:
            self.wire_check(request.method.upper(), request.url, request.body, reply[0], reply[2])
        return reply

    def _reply(self, request: Any) -> Reply:
        parts = urlsplit(request.url)
        path = unquote(parts.path).rstrip("/")
        query = parse_qs(parts.query)
        method = request.method.upper()
        body = _decode(request.body)
        flat = bool(_FLAT_ERRORS.search(path))
        with self.state.lock:
            self.state.calls.append((method, path))
            fault = self.state.take_fault(method, path)
            if fault is not None:
                return error_reply(
                    EmulatedError(fault.status, fault.code, fault.message, retry_after=fault.retry_after),
                    flat=flat,
                )
            for route_method, pattern, handler in self.routes:
                match = pattern.match(path)
                if match and route_method == method:
                    try:
                        return handler(self, path, query, body, match)
                    except EmulatedError as err:
                        return error_reply(err, flat=flat)
        return error_reply(EmulatedError(404, "NoRoute", f"the emulator has no route for {method} {path}"))

    # --- helpers for routes -----------------------------------------------------------------
    def operation_headers(self, op_id: str, *, location: bool = False) -> dict[str, str]:
        url = (
            f"{ARM}/subscriptions/{self.state.subscription_id}/providers/"
            f"Microsoft.MachineLearningServices/locations/{self.state.location}/"
            f"mfeOperationsStatus/{op_id}?api-version=2023-04-01"
        )
        headers = {"Azure-AsyncOperation": url, "retry-after-ms": "1"}
        if location:
            headers["Location"] = url.replace("mfeOperationsStatus", "mfeOperationResults")
        return headers

    def tracked(self, path: str, body: dict[str, Any], rtype: str, props: dict[str, Any]) -> dict[str, Any]:
        """A tracked ARM resource as the service returns it."""
        check_tags(body.get("tags"))
        old = self.state.get(path)
        return {
            "id": path,
            "name": path.rsplit("/", 1)[-1],
            "type": rtype,
            "location": body.get("location") or self.state.location,
            "tags": body.get("tags") or {},
            "kind": body.get("kind"),
            "sku": body.get("sku"),
            "identity": body.get("identity")
            or {
                "type": "SystemAssigned",
                "principalId": "00000000-0000-0000-0000-0000000000aa",
                "tenantId": "00000000-0000-0000-0000-0000000000bb",
            },
            "properties": props,
            "systemData": system_data(old.get("systemData") if old else None),
        }

    def proxy(self, path: str, body: dict[str, Any], rtype: str) -> dict[str, Any]:
        """A proxy (asset) resource: models, environments, code, datastores."""
        old = self.state.get(path)
        props = dict(body.get("properties") or {})
        # Asset "properties" are a string map (REST: additionalProperties string); a number
        # sent there comes back as its text.
        if isinstance(props.get("properties"), dict):
            props["properties"] = {
                k: v if isinstance(v, str) else json.dumps(v) for k, v in props["properties"].items()
            }
        # Data containers and versions have no provisioningState (REST DataContainerProperties,
        # DataVersionBaseProperties); models, environments and code do.
        if not rtype.lower().endswith(("/workspaces/data", "/workspaces/data/versions")):
            props.setdefault("provisioningState", "Succeeded")
        return {
            "id": path,
            "name": path.rsplit("/", 1)[-1],
            "type": rtype,
            "properties": props,
            "systemData": system_data(old.get("systemData") if old else None),
        }


def _decode(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def check_traffic(state: EmulatorState, endpoint: str, props: dict[str, Any]) -> None:
    """The endpoint traffic rules Azure ML enforces on a PUT/PATCH of an endpoint."""
    existing = {
        d["name"]
        for d in state.children(state.endpoint_path(endpoint) + "/deployments")
        if d["properties"].get("provisioningState") != "Deleting"
    }
    traffic = {k: int(v) for k, v in (props.get("traffic") or {}).items()}
    mirror = {k: int(v) for k, v in (props.get("mirrorTraffic") or {}).items()}
    for label, split in (("traffic", traffic), ("mirrorTraffic", mirror)):
        for name, pct in split.items():
            if pct and name not in existing:
                raise EmulatedError(
                    400,
                    "BadArgument",
                    f"{label}: deployment {name!r} does not exist under endpoint {endpoint!r}; "
                    "traffic can be set only for deployments that have been created.",
                )
            if pct < 0 or pct > 100:
                raise EmulatedError(400, "BadArgument", f"{label}[{name}] must be between 0 and 100.")
    if sum(traffic.values()) > TRAFFIC_MAX_TOTAL:
        raise EmulatedError(
            400,
            "BadArgument",
            f"Traffic values must sum to at most 100; they sum to {sum(traffic.values())}.",
        )
    if sum(mirror.values()) > MIRROR_MAX_TOTAL:
        raise EmulatedError(
            400,
            "BadArgument",
            f"Mirror traffic values must sum to at most {MIRROR_MAX_TOTAL}; "
            f"they sum to {sum(mirror.values())}.",
        )
    total = sum(traffic.values())
    if total not in (0, TRAFFIC_MAX_TOTAL):
        raise EmulatedError(
            400,
            "BadArgument",
            f"Traffic values must sum to 0 or 100; they sum to {total}.",
        )
    mirrored = sorted(n for n, pct in mirror.items() if pct)
    if len(mirrored) > 1:
        raise EmulatedError(
            400,
            "BadArgument",
            f"Mirror traffic can be set for a single deployment only; got {', '.join(mirrored)}.",
        )
    both = sorted(n for n in mirror if mirror[n] and traffic.get(n))
    if both:
        raise EmulatedError(
            400,
            "BadArgument",
            f"Deployment {both[0]!r} cannot receive both live and mirrored traffic.",
        )


def check_tags(tags: Any) -> None:
    """ARM's tag limits, on every write that carries tags."""
    problem = tag_problem(tags)
    if problem:
        raise EmulatedError(400, "InvalidTag", problem)


def check_name(kind: str, name: str) -> None:
    problem = name_problem(kind, name)
    if problem:
        raise EmulatedError(400, "BadArgument", problem)


__all__ = [
    "ARM",
    "ArmRouter",
    "EmulatedError",
    "WireCheck",
    "check_name",
    "check_tags",
    "check_traffic",
    "error_reply",
]
