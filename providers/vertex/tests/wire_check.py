"""Every call the Vertex emulator answers, read against Google's discovery documents.

The emulator parses bodies with the SDK's ``aiplatform_v1`` types and writes replies
from them; this reader shares none of that. Each call is mapped to its discovery method by
``httpMethod`` and the method's ``flatPath`` (or ``path``) template; then the query
parameters are checked against the method's and the document's ``parameters``, the
request body against ``request.$ref``, and the reply against ``response.$ref`` (an error
reply against the google.rpc error envelope instead). A long-running Operation's
``response`` / ``metadata`` Any is checked against the schema its ``@type`` names.

The provider's conftest installs a :class:`WireChecker` on every emulator the tests
create and fails a test that left violations.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from cloudserve_vertex.testing import Exchange

from .discovery import DOCUMENTS, FORMATS, document, schemas

TYPE_URL = "type.googleapis.com/"
# HTTP status per google.rpc.Code (google/rpc/code.proto, "HTTP Mapping" of each code;
# https://cloud.google.com/apis/design/errors#handling_errors).
RPC_HTTP = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}
# The JSON error body of Google REST APIs (https://cloud.google.com/apis/design/errors#http_mapping).
ERROR_ENVELOPE = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"enum": list(RPC_HTTP)},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["@type"],
                        "properties": {"@type": {"type": "string"}},
                    },
                },
            },
        }
    },
}
# System parameters every Google REST API takes beside each document's own top-level
# ``parameters`` (https://cloud.google.com/apis/docs/system-parameters). The SDK's REST
# transport sends ``$alt=json;enum-encoding=int`` (google-api-core rest_helpers.transcode).
SYSTEM_PARAMETERS: dict[str, dict[str, Any]] = {
    "$alt": {"type": "string", "pattern": r"(json(;enum-encoding=int)?|media|proto|sse)"},
    "$fields": {"type": "string"},
    "$callback": {"type": "string"},
}
# The SDK polls operations at /ui/{name}: an additional HTTP binding of
# google.longrunning.Operations.GetOperation in the Vertex AI protos that the discovery
# document, which lists one binding per method, leaves out. It is the same method.
PATH_ALIASES = (("/ui/", "/v1/"),)


@dataclass(frozen=True)
class Route:
    document: str
    http_method: str
    pattern: re.Pattern[str]
    literal: int  # characters outside {variables}: the most specific template wins
    method: dict[str, Any]
    kind: str = "json"  # "upload": a media upload body; "download": a media reply


def _pattern(template: str, method: dict[str, Any]) -> tuple[re.Pattern[str], int]:
    parts, literal, pos = [], 0, 0
    for var in re.finditer(r"\{(\+?)([^}]+)\}", template):
        parts.append(re.escape(template[pos : var.start()]))
        literal += var.start() - pos
        if var.group(1):  # {+name}: reserved expansion, slashes allowed, the parameter's pattern
            param = method["parameters"].get(var.group(2), {})
            parts.append("(?:" + param.get("pattern", "^.+$").strip("^$") + ")")
        else:
            parts.append("[^/]+")
        pos = var.end()
    parts.append(re.escape(template[pos:]))
    literal += len(template) - pos
    return re.compile("".join(parts)), literal


def _methods(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(resource.get("methods", {}).values())
    for child in resource.get("resources", {}).values():
        found.extend(_methods(child))
    return found


@cache
def routes() -> list[Route]:
    out: list[Route] = []
    for name in DOCUMENTS:
        doc = document(name)
        for method in _methods(doc):
            full = "/" + doc["servicePath"] + (method.get("flatPath") or method["path"])
            pattern, literal = _pattern(full, method)
            out.append(Route(name, method["httpMethod"], pattern, literal, method))
            simple = method.get("mediaUpload", {}).get("protocols", {}).get("simple", {}).get("path")
            if simple:
                up, up_literal = _pattern(simple, method)
                out.append(Route(name, method["httpMethod"], up, up_literal, method, "upload"))
            if method.get("useMediaDownloadService"):
                down, down_literal = _pattern("/download" + full, method)
                out.append(Route(name, method["httpMethod"], down, down_literal, method, "download"))
    return out


def find_route(http_method: str, path: str) -> Route | None:
    for alias, real in PATH_ALIASES:
        if path.startswith(alias):
            path = real + path[len(alias) :]
    found = [r for r in routes() if r.http_method == http_method and r.pattern.fullmatch(path)]
    return max(found, key=lambda r: r.literal, default=None)


def _strict_json(data: bytes) -> Any:
    """JSON as RFC 8259 has it: Python's json module would also take NaN and Infinity."""

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not JSON")

    return json.loads(data, parse_constant=refuse)


class WireChecker:
    """A :data:`cloudserve_vertex.testing.WireCheck` that records what it finds."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.checked = 0
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        try:
            found = self.problems(exchange)
        except Exception as exc:  # a bug here must show as a finding, not drop the connection
            found = [f"the wire check itself failed: {type(exc).__name__}: {exc}"]
        with self._lock:
            self.checked += 1
            self.violations.extend(
                f"{exchange.method} {exchange.path} -> {exchange.status}: {p}" for p in found
            )

    def take(self) -> list[str]:
        """The violations so far, forgotten (a test that sent a bad request on purpose)."""
        with self._lock:
            found, self.violations = self.violations, []
        return found

    def problems(self, ex: Exchange) -> list[str]:
        route = find_route(ex.method, ex.path)
        found: list[str] = []
        if route is None and ex.status < 400:
            return ["no method of the aiplatform v1, monitoring v3 or storage v1 documents has this path"]
        int_enums = any("enum-encoding=int" in v for v in ex.query.get("$alt", []))
        if route is not None:
            found += self._query(route, ex.query, int_enums)
            found += self._request(route, ex, int_enums)
        if ex.status >= 400:
            return found + self._error(ex, route)
        assert route is not None
        return found + self._response(route, ex)

    # --- the parts of one call ------------------------------------------------------------------
    def _query(self, route: Route, query: dict[str, list[str]], int_enums: bool) -> list[str]:
        doc = document(route.document)
        known = {**SYSTEM_PARAMETERS, **doc["parameters"], **route.method.get("parameters", {})}
        found = []
        for name, values in query.items():
            spec = known.get(name)
            if spec is None or spec.get("location", "query") != "query":
                found.append(f"query parameter {name!r} is not a parameter of {route.method['id']}")
                continue
            if len(values) > 1 and not spec.get("repeated"):
                found.append(f"query parameter {name!r} is given {len(values)} times but is not repeated")
            found += [
                f"query parameter {name}={v!r}: {p}"
                for v in values
                for p in _param_problems(spec, v, int_enums)
            ]
        return found

    def _request(self, route: Route, ex: Exchange, int_enums: bool) -> list[str]:
        ref = route.method.get("request", {}).get("$ref")
        if route.kind == "upload":
            return []  # uploadType=media: the body is the object's bytes
        if ref is None:
            return [] if not ex.body.strip() else [f"{route.method['id']} takes no request body"]
        try:
            body = _strict_json(ex.body or b"{}")
        except ValueError as exc:
            return [f"request body is not JSON: {exc}"]
        return [f"request {p}" for p in schemas(route.document, int_enums).problems(ref, body)]

    def _response(self, route: Route, ex: Exchange) -> list[str]:
        if route.kind == "download" or "media" in ex.query.get("alt", []):
            return []  # the object's bytes
        try:
            reply = _strict_json(ex.reply)
        except ValueError as exc:
            return [f"reply is not JSON: {exc}"]
        ref = route.method.get("response", {}).get("$ref")
        if ref is None:
            return [] if reply == {} else [f"{route.method['id']} replies with no body, got {reply!r}"]
        found = [f"reply {p}" for p in schemas(route.document).problems(ref, reply)]
        if ref == "GoogleLongrunningOperation" and isinstance(reply, dict):
            found += _operation_problems(route.document, reply)
        return found

    def _error(self, ex: Exchange, route: Route | None) -> list[str]:
        from jsonschema import Draft202012Validator

        try:
            reply = _strict_json(ex.reply)
        except ValueError as exc:
            return [f"error reply is not JSON: {exc}"]
        validator = Draft202012Validator(ERROR_ENVELOPE)
        found = [f"error reply at {e.json_path}: {e.message}" for e in validator.iter_errors(reply)]
        if found:
            return found
        error = reply["error"]
        if error["code"] != ex.status:
            found.append(f"error.code {error['code']} is not the HTTP status {ex.status}")
        if RPC_HTTP[error["status"]] != ex.status:
            found.append(
                f"error.status {error['status']} maps to HTTP {RPC_HTTP[error['status']]}, not {ex.status}"
            )
        doc = route.document if route is not None else "aiplatform.v1"
        for i, detail in enumerate(error.get("details", [])):
            found += [f"error.details[{i}] {p}" for p in _any_problems(doc, detail)]
        return found


def _param_problems(spec: dict[str, Any], value: str, int_enums: bool) -> list[str]:
    if "enum" in spec and value not in spec["enum"] and not (int_enums and value.isdigit()):
        return [f"not one of {spec['enum']}"]
    if "pattern" in spec and not re.fullmatch(spec["pattern"], value):
        return [f"does not match {spec['pattern']}"]
    kind = spec.get("type")
    if kind == "integer" and not re.fullmatch(r"-?[0-9]+", value):
        return ["not an integer"]
    if kind == "boolean" and value not in ("true", "false"):
        return ["not true or false"]
    fmt = spec.get("format")
    if kind == "string" and fmt and not FORMATS.conforms(value, fmt):
        return [f"not a {fmt}"]
    return []


def _operation_problems(doc: str, op: dict[str, Any]) -> list[str]:
    # "If true, the operation is completed, and either error or response is available."
    # (GoogleLongrunningOperation.done)
    found = []
    ends = [k for k in ("error", "response") if k in op]
    if op.get("done") and len(ends) != 1:
        found.append(f"a done operation carries exactly one of error, response; it has {ends}")
    if not op.get("done") and ends:
        found.append(f"an operation still running carries {ends}")
    for key in ("response", "metadata"):
        if isinstance(op.get(key), dict):
            found += [f"operation.{key} {p}" for p in _any_problems(doc, op[key])]
    return found


def _any_problems(doc: str, value: dict[str, Any]) -> list[str]:
    """A google.protobuf.Any in JSON: ``@type`` plus the fields of the message it names,
    checked against that message's schema (google.cloud.aiplatform.v1.DeployModelResponse
    -> GoogleCloudAiplatformV1DeployModelResponse, as the documents name them)."""
    type_url = value.get("@type")
    if not isinstance(type_url, str) or not type_url.startswith(TYPE_URL):
        return [f"@type {type_url!r} is not a {TYPE_URL}<message> URL"]
    full_name = type_url.removeprefix(TYPE_URL)
    name = "".join(part[:1].upper() + part[1:] for part in full_name.split("."))
    known = schemas(doc)
    if name not in known:
        return [f"@type {full_name} names no schema of {doc} ({name})"]
    return known.problems(name, {k: v for k, v in value.items() if k != "@type"})
