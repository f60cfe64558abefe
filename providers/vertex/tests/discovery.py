"""Google's discovery documents as JSON Schema, for checking the emulator's wire.

The documents are the ones google-api-python-client ships
(``googleapiclient/discovery_cache/documents/<api>.<version>.json``): Google's own
machine-readable description of each REST API, written apart from the ``aiplatform_v1``
protos the emulator parses with, so a field or type both got wrong cannot pass here.

Discovery conventions kept by the conversion (https://developers.google.com/discovery/v1/type-format):
int64/uint64 are JSON strings, ``google-datetime`` is RFC 3339, ``google-duration`` is
seconds with an ``s`` suffix, ``byte`` is base64, ``any`` is any JSON value, and an object
takes only the properties it lists unless it has ``additionalProperties`` (a map).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

DOCUMENTS = ("aiplatform.v1", "monitoring.v3", "storage.v1")
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# The proto3 JSON mapping writes these for float and double values that are not finite.
NON_FINITE = ["NaN", "Infinity", "-Infinity"]

FORMATS = FormatChecker(formats=())


def _strings_only(check: Any) -> Any:
    """A format applies to strings; a value of another JSON type fails on ``type`` instead."""

    def checker(value: object) -> bool:
        return not isinstance(value, str) or bool(check(value))

    return checker


def _in_range(text: str, low: int, high: int) -> bool:
    return re.fullmatch(r"-?[0-9]+", text) is not None and low <= int(text) <= high


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")


def _timestamp(text: str) -> bool:
    if not _RFC3339.fullmatch(text):
        return False
    datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00"))
    return True


def _date(text: str) -> bool:
    date.fromisoformat(text)
    return re.fullmatch(r"\d{4}-\d\d-\d\d", text) is not None


FORMATS.checks("int64", raises=ValueError)(_strings_only(lambda v: _in_range(v, *INT64)))
FORMATS.checks("uint64", raises=ValueError)(_strings_only(lambda v: _in_range(v, 0, 2**64 - 1)))
FORMATS.checks("google-datetime", raises=ValueError)(_strings_only(_timestamp))
FORMATS.checks("date-time", raises=ValueError)(_strings_only(_timestamp))
FORMATS.checks("date", raises=ValueError)(_strings_only(_date))
# Duration: "3600s", "1.5s", "-0.000000001s" (proto3 JSON mapping of google.protobuf.Duration).
FORMATS.checks("google-duration")(_strings_only(lambda v: re.fullmatch(r"-?[0-9]+(\.[0-9]{1,9})?s", v)))
# FieldMask: comma-separated lowerCamel paths, a dot between the levels.
_FIELD_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
FORMATS.checks("google-fieldmask")(
    _strings_only(lambda v: re.fullmatch(f"(?:{_FIELD_PATH}(?:,{_FIELD_PATH})*)?", v))
)
# Bytes: standard or URL-safe base64, padded or not (both are accepted by the JSON mapping).
FORMATS.checks("byte")(
    _strings_only(lambda v: re.fullmatch(r"[A-Za-z0-9+/_-]*={0,2}", v) and len(v) % 4 != 1)
)


@cache
def document(name: str) -> dict[str, Any]:
    root = resources.files("googleapiclient").joinpath("discovery_cache", "documents", f"{name}.json")
    return json.loads(root.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def convert(node: dict[str, Any], int_enums: bool) -> dict[str, Any]:
    """One discovery schema node -> JSON Schema. ``int_enums``: a request sent with
    ``$alt=json;enum-encoding=int`` (as the SDK's REST transport sends them) carries enum
    values as their numbers, which the document does not list, so any number >= 0 passes."""
    if "$ref" in node:
        return {"$ref": f"#/$defs/{node['$ref']}"}
    kind = node.get("type")
    if kind == "object":
        extra = node.get("additionalProperties")
        return {
            "type": "object",
            "properties": {k: convert(v, int_enums) for k, v in node.get("properties", {}).items()},
            "additionalProperties": convert(extra, int_enums) if extra is not None else False,
        }
    if kind == "array":
        return {"type": "array", "items": convert(node["items"], int_enums)}
    if kind == "string" and "enum" in node:
        names = {"type": "string", "enum": list(node["enum"])}
        return {"anyOf": [names, {"type": "integer", "minimum": 0}]} if int_enums else names
    if kind == "string":
        return {"type": "string", **({"format": node["format"]} if "format" in node else {})}
    if kind == "integer":
        low, high = (0, 2**32 - 1) if node.get("format") == "uint32" else INT32
        return {"type": "integer", "minimum": low, "maximum": high}
    if kind == "number":
        return {"anyOf": [{"type": "number"}, {"enum": NON_FINITE}]}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "any":
        return {}
    raise ValueError(f"discovery type {kind!r} is not known to this converter: {node}")


# google.rpc error details a reply may carry (google/rpc/error_details.proto); the API
# documents list them only as Any.
RPC_DETAILS: dict[str, dict[str, Any]] = {
    "GoogleRpcRequestInfo": {
        "properties": {"requestId": {"type": "string"}, "servingData": {"type": "string"}}
    },
    "GoogleRpcRetryInfo": {"properties": {"retryDelay": {"type": "string", "format": "google-duration"}}},
    "GoogleRpcErrorInfo": {
        "properties": {
            "reason": {"type": "string"},
            "domain": {"type": "string"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        }
    },
}


class Schemas:
    """One discovery document's ``schemas`` as JSON Schema ``$defs``, validators cached."""

    def __init__(self, doc: dict[str, Any], int_enums: bool) -> None:
        self.defs = {name: convert(node, int_enums) for name, node in doc["schemas"].items()}
        for name, body in RPC_DETAILS.items():
            self.defs.setdefault(name, {"type": "object", "additionalProperties": False, **body})
        self._validators: dict[str, Draft202012Validator] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.defs

    def problems(self, name: str, instance: object) -> list[str]:
        validator = self._validators.get(name)
        if validator is None:
            schema = {"$defs": self.defs, "$ref": f"#/$defs/{name}"}
            validator = self._validators[name] = Draft202012Validator(schema, format_checker=FORMATS)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
        return [f"{name} at {e.json_path}: {_short(e.message)}" for e in errors]


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "..."


@cache
def schemas(name: str, int_enums: bool = False) -> Schemas:
    return Schemas(document(name), int_enums)
