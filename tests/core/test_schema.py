"""The published JSON Schema is current, and accepts the examples the docs show."""

from __future__ import annotations

import json
from pathlib import Path

from cloudserve.spec.schema import SCHEMA_FILE, published_schema_json, schema_json

ROOT = Path(__file__).resolve().parents[2]


def test_published_schema_is_current() -> None:
    published = (ROOT / "specs" / SCHEMA_FILE).read_text()
    assert published == published_schema_json(), (
        "specs/ is out of date: run `python -m cloudserve.spec.schema --write` and commit it"
    )


def test_schema_forbids_unknown_keys() -> None:
    data = json.loads(schema_json())
    assert data["additionalProperties"] is False
    assert all(
        d.get("additionalProperties") is False for d in data["$defs"].values() if d.get("type") == "object"
    )


def test_every_field_is_documented() -> None:
    """specs/README.md names every field of every model."""
    readme = (ROOT / "specs" / "README.md").read_text()
    data = json.loads(schema_json())
    missing = [
        f"{name}.{field}"
        for name, d in data["$defs"].items()
        for field in d.get("properties", {})
        if f"`{field}`" not in readme
    ]
    missing += [f for f in data["properties"] if f"`{f}`" not in readme]
    assert not missing, f"undocumented fields in specs/README.md: {missing}"


def test_reference_example_validates() -> None:
    import re

    import yaml

    from cloudserve.spec.loader import load

    text = (ROOT / "specs" / "README.md").read_text()
    example = re.search(r"```yaml\n(apiVersion.*?)```", text, re.S)
    assert example is not None
    assert load(yaml.safe_load(example.group(1)), environ={"API_TOKEN": "x"})[0].name == "churn"


def test_generated_reference_is_current() -> None:
    from cloudserve.spec.docs import reference

    assert reference() in (ROOT / "specs" / "README.md").read_text(), (
        "run `python -m cloudserve.spec.docs --write` and commit specs/README.md"
    )
