"""The compact rollout record and lease kept in endpoint tags.

Tags are the only state every target lets us attach to an endpoint, and the strictest
(Vertex AI labels) allow 63 characters of [a-z0-9_-] per value; the record is encoded to
fit. Decoding never raises: a record that cannot be read is reported, not trusted.
"""

from __future__ import annotations

from typing import Any


def decode_record(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    fields: dict[str, Any] = {}
    for part in value.split("_"):
        if "-" not in part:
            continue
        key, _, val = part.partition("-")
        fields[key] = val
    return fields or {"raw": value}
