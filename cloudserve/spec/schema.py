"""The published JSON Schema of the spec (specs/cloudserve-v1.schema.json).

Regenerate with ``python -m cloudserve.spec.schema --write``; a test fails when the
committed file is out of date, so editors always complete against the real models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCHEMA_FILE = "cloudserve-v1.schema.json"
SCHEMA_ID = "https://cloudserve.dev/schemas/cloudserve-v1.schema.json"


def schema() -> dict[str, object]:
    from cloudserve.spec.models import Deployment

    data = Deployment.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **data}


def schema_json() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    if "--write" in sys.argv:
        out = Path(__file__).resolve().parents[2] / "specs" / SCHEMA_FILE
        out.write_text(schema_json(), encoding="utf-8")
        print(f"wrote {out}")
    else:
        sys.stdout.write(schema_json())


if __name__ == "__main__":
    main()
