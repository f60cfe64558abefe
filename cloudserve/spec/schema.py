"""The published JSON Schema of the spec (specs/cloudserve-v1.schema.json).

Regenerate with ``python -m cloudserve.spec.schema --write``; a test fails when the
committed file is out of date, so editors always complete against the real models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_FILE = "cloudserve-v1.schema.json"
SCHEMA_ID = "https://cloudserve.dev/schemas/cloudserve-v1.schema.json"


def schema(targets: list[str] | None = None) -> dict[str, object]:
    """The spec's schema with the settings of ``targets`` (default: every installed target)."""
    from cloudserve.spec import targets as registry
    from cloudserve.spec.models import Deployment

    data = Deployment.model_json_schema(by_alias=True, mode="validation")
    names = registry.installed() if targets is None else targets
    _add_targets(data, names)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **data}


def _add_targets(data: dict[str, Any], names: list[str]) -> None:
    """Each target's settings model under targets.<name>, and the names for spec.target."""
    from cloudserve.spec.targets import TARGET_NAME, settings_model

    defs: dict[str, Any] = data.setdefault("$defs", {})
    blocks: dict[str, Any] = {}
    for name in sorted(names):
        model = settings_model(name)
        if model is None:
            continue
        sub = model.model_json_schema(by_alias=True, mode="validation", ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        defs[model.__name__] = sub
        blocks[name] = {"$ref": f"#/$defs/{model.__name__}"}
    targets = data["properties"]["targets"]
    targets.pop("additionalProperties", None)
    # Another installed target's block is checked by cloudserve itself, not by this file.
    targets.update(properties=blocks, additionalProperties={"type": ["object", "null"]})
    spec_target = defs["DeploymentSpec"]["properties"]["target"]
    spec_target["anyOf"] = [
        {"enum": sorted(names), "type": "string"},
        {"pattern": TARGET_NAME.pattern, "type": "string"},
        {"type": "null"},
    ]


def schema_json(targets: list[str] | None = None) -> str:
    return json.dumps(schema(targets), indent=2, sort_keys=True) + "\n"


def published_schema_json() -> str:
    """The committed schema: the bundled targets, whatever else is installed."""
    from cloudserve.spec.targets import BUNDLED, settings_model

    missing = [name for name in BUNDLED if settings_model(name) is None]
    if missing:
        raise SystemExit(f"install the bundled targets first ({', '.join(missing)}): scripts/test does")
    return schema_json(list(BUNDLED))


def main() -> None:
    if "--write" in sys.argv:
        out = Path(__file__).resolve().parents[2] / "specs" / SCHEMA_FILE
        out.write_text(published_schema_json(), encoding="utf-8")
        print(f"wrote {out}")
    else:
        sys.stdout.write(schema_json())


if __name__ == "__main__":
    main()
