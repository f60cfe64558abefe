"""framework_version pins below what the serving runtime needs are refused at plan time."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from cloudserve.serving.pins import RUNTIME_FLOORS, framework_pin_problems
from cloudserve.spec.models import Deployment

ROOT = Path(__file__).resolve().parents[2]


def _deployment(**models: dict[str, Any]) -> Deployment:
    return Deployment.model_validate(
        {
            "metadata": {"name": "pins"},
            "spec": {
                "target": "sagemaker",
                "versions": {name: {"model": {"uri": "s3://b/m", **m}} for name, m in models.items()},
                "traffic": {next(iter(models)): 100},
            },
        }
    )


def test_old_pins_are_named_with_the_floor_and_the_way_out() -> None:
    problems = framework_pin_problems(
        _deployment(
            old={"framework": "sklearn", "framework_version": "1.2"},
            ok={"framework": "sklearn", "framework_version": "1.5"},
            boost={"framework": "xgboost", "framework_version": "1.7"},
            bad={"framework": "sklearn", "framework_version": "latest"},
            free={"framework": "sklearn"},
            custom={"framework": "custom", "framework_version": "0.1"},
        )
    )
    assert problems == [
        "spec.versions.old.model.framework_version: '1.2' is older than cloudserve's serving runtime "
        "supports (scikit-learn >= 1.4); save the model with a newer scikit-learn, or give the "
        "version an image of your own",
        "spec.versions.boost.model.framework_version: '1.7' is older than cloudserve's serving "
        "runtime supports (xgboost >= 2.0); save the model with a newer xgboost, or give the version "
        "an image of your own",
        "spec.versions.bad.model.framework_version: 'latest' is not a version such as '1.5'",
    ]


def test_floors_match_the_serve_extra() -> None:
    serve = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    declared = {}
    for requirement in serve:
        match = re.match(r"^([A-Za-z0-9_.-]+)>=(\d+)\.(\d+)", requirement)
        if match:
            declared[match[1]] = (int(match[2]), int(match[3]))
    for package, floor in RUNTIME_FLOORS.values():
        assert declared[package] == floor, package
