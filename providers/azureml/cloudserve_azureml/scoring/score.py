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
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# cloudserve's runtime travels beside this file (cloudserve/). The inference server puts only
# AML_APP_ROOT and AML_APP_ROOT/AZUREML_SOURCE_DIRECTORY on sys.path (1.5.1,
# server/aml_blueprint.py), which need not be this folder; first, so the bundled runtime wins
# over any other copy in the image.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

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
            raise _input_error(f"send a JSON body with one of {', '.join(_ROW_KEYS)}, or a list of rows")
        payload = payload[key]
        if isinstance(payload, dict) and "data" in payload:
            columns = payload.get("columns")
            return _rows(payload["data"]), [str(c) for c in columns] if isinstance(columns, list) else None
    return _rows(payload), None


def _rows(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _input_error('send {"instances": [[...], ...]} or a list of rows')
    return value


def _input_error(message: str) -> ValueError:
    from cloudserve.serving.loaders import InputError

    return InputError(message)


def predict(model: Any, raw: str | bytes) -> dict[str, Any]:
    """Any accepted body (:func:`rows_of`) in, ``{"predictions": [...]}`` out."""
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise _input_error(f"the body is not JSON ({exc})") from None
    rows, _ = rows_of(payload)
    return {"predictions": model.predict(rows)}


def run(raw_data: str) -> Any:
    """The inference server's entry point. A body that does not fit (not JSON, no rows, rows
    the model refuses: the runtime's InputError) is the caller's mistake: a 400 with a JSON
    message, as on every other target, instead of the server's 500 for an exception."""
    from cloudserve.serving.loaders import InputError

    try:
        result = predict(_model, raw_data)
    except InputError as exc:
        # The server returns a Response from run() as it is (azureml-inference-server-http
        # 1.5.1, server/routes.py); AMLResponse is its own Response class for score.py.
        from azureml_inference_server_http.api.aml_response import (  # type: ignore[import-not-found]
            AMLResponse,
        )

        return AMLResponse({"error": str(exc)}, 400, json_str=True)
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
        frame = pd.DataFrame(_one_row_per_prediction(rows, len(result["predictions"])))
        if all(isinstance(c, int) for c in frame.columns) and len(columns) == frame.shape[1]:
            frame.columns = columns
        inputs, outputs = _collectors  # type: ignore[misc]
        context = inputs.collect(frame)
        outputs.collect(pd.DataFrame({"prediction": list(result["predictions"])}), context)
    except Exception:  # best effort: logging never fails a request
        pass


def _one_row_per_prediction(rows: list[Any], predictions: int) -> list[Any]:
    """The rows as the model saw them. The runtime takes a flat list of values as one row
    when it has the model's width, else as one value per row (loaders/tabular.py); one
    prediction for several values is the first case, which pandas would read as a column."""
    flat = bool(rows) and not isinstance(rows[0], list | tuple | dict)
    return [rows] if flat and predictions != len(rows) else rows
