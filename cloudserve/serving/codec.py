"""Request bodies to instances and predictions to response bodies.

JSON follows the shapes the clouds define: ``{"instances": [...]}`` (Vertex AI's
predict body, https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements
and the TensorFlow-Serving-style JSON SageMaker documents), also ``{"inputs": ...}``,
``{"data": ...}`` (Azure ML scoring samples), ``{"input_data": {"columns", "data"}}`` (Azure
ML's MLflow deployments), MLflow's ``dataframe_records`` / ``dataframe_split``, or a bare
list of rows. ``text/csv`` is SageMaker's: one record per
line, values separated by commas, no header
(https://docs.aws.amazon.com/sagemaker/latest/dg/cdf-inference.html). ``application/x-npy``
is the SageMaker Python SDK predictor's default (``NumpySerializer``): one array in NumPy's
``.npy`` format, read without pickles. With
``Accept: text/csv`` predictions come back one per line. Anything else is an
:class:`InputError`, which the server turns into a 4xx with a JSON message.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from cloudserve.serving.loaders.base import InputError

_KEYS = ("instances", "inputs", "data", "dataframe_records")


def parse(body: bytes, content_type: str) -> list[Any]:
    """The instances in a request body."""
    if not body:
        raise InputError('empty request body; send {"instances": [[...], ...]}')
    if content_type.startswith("text/csv"):
        return parse_csv(body)
    if content_type.startswith(NPY):
        return parse_npy(body)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON ({exc})") from None
    return instances_of(payload)


def instances_of(payload: Any) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in _KEYS:
            value = payload.get(key)
            if value is not None:
                if not isinstance(value, list):
                    raise InputError(f"'{key}' must be a list of instances")
                return value
        split = payload.get("dataframe_split") or payload.get("input_data")
        if isinstance(split, list):
            return split
        if isinstance(split, dict):
            columns, data = split.get("columns"), split.get("data")
            if not isinstance(columns, list) or not isinstance(data, list):
                raise InputError("a split table needs 'columns' and 'data' lists")
            return [dict(zip(columns, row, strict=False)) for row in data]
    raise InputError('JSON body must be {"instances": [...]} or a list of instances')


def parse_csv(body: bytes) -> list[Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("text/csv body is not UTF-8") from None
    rows = [[_number(cell) for cell in row] for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        raise InputError("text/csv body has no rows")
    return rows


NPY = "application/x-npy"


def parse_npy(body: bytes) -> list[Any]:
    """An ``.npy`` array's rows; object arrays (pickles) are refused, never loaded."""
    import numpy as np

    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"{NPY} body is not a .npy array without pickled objects ({exc})") from None
    except Exception as exc:  # a truncated or foreign file
        raise InputError(f"{NPY} body is not a .npy array ({type(exc).__name__})") from None
    if not isinstance(array, np.ndarray) or array.ndim not in (1, 2):
        raise InputError(f"{NPY} body must hold one array of rows (1 or 2 dimensions)")
    rows: list[Any] = array.tolist()
    return rows


def _number(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell


def encode(predictions: list[Any], accept: str) -> tuple[bytes, bytes]:
    """(body, content type) for predictions, honouring ``Accept: text/csv``."""
    if accept.startswith("text/csv"):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for item in predictions:
            writer.writerow(item if isinstance(item, list) else [item])
        return out.getvalue().encode(), b"text/csv"
    return orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY), JSON


JSON = b"application/json"


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
