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
_collectors: tuple[Any, Any] | None = None  # model_inputs, model_outputs (drift monitoring)


def build(model_dir: str, env: Mapping[str, str]) -> Any:
    """Load the model from ``model_dir`` as the spec in ``env`` describes."""
    from cloudserve.serving.loaders import load_model

    spec = json.loads(env.get("CLOUDSERVE_MODEL_SPEC", "{}"))
    sub = spec.pop("subdir", "")
    spec["uri"] = str(Path(model_dir) / sub)
    return load_model(spec)


def init() -> None:
    global _model, _collectors
    _model = build(os.environ["AZUREML_MODEL_DIR"], os.environ)
    if os.environ.get("CLOUDSERVE_INPUT_COLUMNS"):
        try:  # Azure ML's data collector SDK: what the drift monitor reads as model_inputs
            from azureml.ai.monitoring import Collector  # type: ignore[import-not-found]

            _collectors = (Collector(name="model_inputs"), Collector(name="model_outputs"))
        except Exception:  # not installed, or data collection not enabled on the deployment
            # (Collector raises then): serve without logging rather than fail init().
            _collectors = None


_ROW_KEYS = ("instances", "inputs", "input_data", "data")


def rows_of(payload: Any) -> tuple[list[Any], list[str] | None]:
    """The rows of a request body and, for the split form, their column names.

    Accepted: a bare list; ``{"instances"|"inputs"|"input_data"|"data": [...]}``; and
    Azure's split form ``{"input_data": {"columns": [...], "index": [...], "data": [...]}}``
    (the body Azure ML Studio's test tab and MLflow deployments send)."""
    if isinstance(payload, dict):
        key = next((k for k in _ROW_KEYS if k in payload), None)
        if key is None:
            raise ValueError(f"send a JSON body with one of {', '.join(_ROW_KEYS)}, or a list of rows")
        payload = payload[key]
        if isinstance(payload, dict) and "data" in payload:
            columns = payload.get("columns")
            return _rows(payload["data"]), [str(c) for c in columns] if isinstance(columns, list) else None
    return _rows(payload), None


def _rows(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError('send {"instances": [[...], ...]} or a list of rows')
    return value


def predict(model: Any, raw: str | bytes) -> dict[str, Any]:
    """Any accepted body (:func:`rows_of`) in, ``{"predictions": [...]}`` out."""
    rows, _ = rows_of(json.loads(raw))
    return {"predictions": model.predict(rows)}


def run(raw_data: str) -> dict[str, Any]:
    result = predict(_model, raw_data)
    if _collectors is not None:
        _collect(raw_data, result)
    return result


def _collect(raw: str | bytes, result: dict[str, Any]) -> None:
    """Log the rows (named as the baseline's columns, or as the split form names them) and
    predictions for the drift monitor; a logging failure never fails the request."""
    try:
        import pandas as pd

        rows, named = rows_of(json.loads(raw))
        columns = named or json.loads(os.environ["CLOUDSERVE_INPUT_COLUMNS"])
        frame = pd.DataFrame(rows)
        if all(isinstance(c, int) for c in frame.columns) and len(columns) == frame.shape[1]:
            frame.columns = columns
        inputs, outputs = _collectors  # type: ignore[misc]
        context = inputs.collect(frame)
        outputs.collect(pd.DataFrame({"prediction": list(result["predictions"])}), context)
    except Exception:  # best effort: logging never fails a request
        pass
