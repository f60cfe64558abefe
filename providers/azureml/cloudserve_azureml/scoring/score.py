"""Azure ML scoring script: cloudserve's serving runtime behind the inference server.

Azure ML's inference server imports this file, calls ``init()`` once and ``run(body)``
per request. The model is mounted under ``AZUREML_MODEL_DIR``; cloudserve's deployment
puts the model spec (format, framework, trust_pickle, the model's folder inside the mount)
in ``CLOUDSERVE_MODEL_SPEC``, and the serving runtime's loaders do the rest, so the same
artifact loads the same way on every target.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_model: Any = None


def build(model_dir: str, env: Mapping[str, str]) -> Any:
    """Load the model from ``model_dir`` as the spec in ``env`` describes."""
    from cloudserve.serving.loaders import load_model

    spec = json.loads(env.get("CLOUDSERVE_MODEL_SPEC", "{}"))
    sub = spec.pop("subdir", "")
    spec["uri"] = str(Path(model_dir) / sub)
    return load_model(spec)


def init() -> None:
    global _model
    _model = build(os.environ["AZUREML_MODEL_DIR"], os.environ)


def predict(model: Any, raw: str | bytes) -> dict[str, Any]:
    """``{"instances": [...]}`` (or a bare list, or Azure's ``{"input_data": ...}``) in,
    ``{"predictions": [...]}`` out."""
    payload = json.loads(raw)
    if isinstance(payload, dict):
        payload = payload.get("instances", payload.get("input_data", payload.get("data")))
    if not isinstance(payload, list):
        raise ValueError('send {"instances": [[...], ...]} or a list of rows')
    return {"predictions": model.predict(payload)}


def run(raw_data: str) -> dict[str, Any]:
    return predict(_model, raw_data)
