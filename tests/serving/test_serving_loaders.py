"""Every loader, on a model trained at test time: real predictions, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cloudserve.serving.loaders import InputError, LoaderError, load_model
from cloudserve.spec.models import ModelSpec


def expected(logreg: Any, rows: list[list[float]]) -> list[Any]:
    return list(logreg.predict(np.asarray(rows)).tolist())


@pytest.mark.parametrize("sub", ["joblib", "skops", "mlflow-skops"])
def test_sklearn_formats_predict_like_the_model(
    models_dir: Path, logreg: Any, rows: list[list[float]], sub: str
) -> None:
    loaded = load_model({"uri": str(models_dir / sub), "trust_pickle": sub == "joblib"})
    assert loaded.predict(rows) == expected(logreg, rows)
    json.dumps(loaded.predict(rows))


def test_detection_by_format_name(models_dir: Path) -> None:
    assert load_model({"uri": str(models_dir / "joblib"), "trust_pickle": True}).format == "joblib"
    assert load_model({"uri": str(models_dir / "skops" / "model.skops")}).format == "skops"
    assert load_model({"uri": str(models_dir / "mlflow-skops")}).format == "mlflow"
    assert load_model({"uri": str(models_dir / "xgb-ubj")}).format == "xgboost"
    assert load_model({"uri": str(models_dir / "handler")}).format == "handler"


def test_relative_uri_resolves_against_base_dir(models_dir: Path) -> None:
    loaded = load_model(ModelSpec(uri="joblib/model.joblib", trust_pickle=True), base_dir=models_dir)
    assert loaded.format == "joblib"


def test_pickle_needs_trust(models_dir: Path, logreg: Any, rows: list[list[float]]) -> None:
    with pytest.raises(LoaderError, match="runs code"):
        load_model({"uri": str(models_dir / "pickle")})
    loaded = load_model({"uri": str(models_dir / "pickle"), "trust_pickle": True})
    assert loaded.predict(rows) == expected(logreg, rows)


def test_mlflow_cloudpickle_needs_trust(models_dir: Path, logreg: Any, rows: list[list[float]]) -> None:
    with pytest.raises(LoaderError, match="cloudpickle"):
        load_model({"uri": str(models_dir / "mlflow-cloudpickle")})
    loaded = load_model({"uri": str(models_dir / "mlflow-cloudpickle"), "trust_pickle": True})
    assert loaded.predict(rows) == expected(logreg, rows)
    assert loaded.info["serialization_format"] == "cloudpickle"


def test_mlflow_without_sklearn_flavor(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors:\n  pytorch: {model_data: data}\n")
    with pytest.raises(LoaderError, match="no 'sklearn' flavor"):
        load_model({"uri": str(tmp_path)})


def test_xgboost_classifier_returns_labels(models_dir: Path, data: Any, rows: list[list[float]]) -> None:
    import xgboost as xgb

    ref = xgb.XGBClassifier()
    ref.load_model(models_dir / "xgb-json" / "model.json")
    want = ref.predict(np.asarray(rows)).tolist()
    for sub in ("xgb-json", "xgb-ubj"):
        assert load_model({"uri": str(models_dir / sub)}).predict(rows) == want


def test_xgboost_booster(models_dir: Path, rows: list[list[float]]) -> None:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(models_dir / "xgb-booster" / "model.json")
    want = booster.predict(xgb.DMatrix(np.asarray(rows))).tolist()
    got = load_model({"uri": str(models_dir / "xgb-booster")}).predict(rows)
    assert got == pytest.approx(want)


def test_handler(models_dir: Path) -> None:
    loaded = load_model({"uri": str(models_dir / "handler"), "framework": "custom"})
    assert loaded.predict([[1, 2], [3, 4]]) == [6, 14]


def test_handler_without_functions(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("x = 1\n")
    with pytest.raises(LoaderError, match="must define load"):
        load_model({"uri": str(tmp_path), "handler": "handler.py"})


def test_skops_refuses_foreign_types(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    sio.dump(FunctionTransformer(func=json.dumps), tmp_path / "model.skops")
    with pytest.raises(LoaderError, match=r"refusing to load types.*json\.dumps"):
        load_model({"uri": str(tmp_path / "model.skops")})


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        (b"not a model", "model.joblib", "not a readable joblib"),
        (b"garbage", "model.skops", "not a readable skops"),
        (b'{"learner": 1}', "model.json", "not an XGBoost model"),
    ],
)
def test_broken_artifacts_give_the_loaders_reason(
    tmp_path: Path, content: bytes, name: str, match: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(LoaderError, match=match):
        load_model({"uri": str(tmp_path), "trust_pickle": name.endswith(".joblib")})


def test_unknown_and_ambiguous_artifacts(tmp_path: Path, models_dir: Path) -> None:
    with pytest.raises(LoaderError, match="does not exist"):
        load_model({"uri": str(tmp_path / "missing")})
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(LoaderError, match="no model file"):
        load_model({"uri": str(tmp_path)})
    (tmp_path / "a.joblib").write_bytes((models_dir / "joblib" / "model.joblib").read_bytes())
    (tmp_path / "b.skops").write_bytes((models_dir / "skops" / "model.skops").read_bytes())
    with pytest.raises(LoaderError, match="several model files"):
        load_model({"uri": str(tmp_path)})
    with pytest.raises(LoaderError, match="remote model URIs"):
        load_model({"uri": "s3://bucket/model"})


def test_nested_single_folder_is_found(tmp_path: Path, models_dir: Path) -> None:
    (tmp_path / "churn").mkdir()
    (tmp_path / "churn" / "m.joblib").write_bytes((models_dir / "joblib" / "model.joblib").read_bytes())
    assert load_model({"uri": str(tmp_path), "trust_pickle": True}).format == "joblib"


def test_bad_instances_are_input_errors(models_dir: Path) -> None:
    loaded = load_model({"uri": str(models_dir / "skops")})
    for bad in ([[1.0, 2.0]], [], [["a"] * 20], [[1.0] * 20, [1.0]], [{"a": 1}]):
        with pytest.raises(InputError):
            loaded.predict(bad)


def test_records_use_feature_names(tmp_path: Path, data: Any) -> None:
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    x, y = data
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    model = LogisticRegression(max_iter=500).fit(frame, y)
    sio.dump(model, tmp_path / "m.skops")
    loaded = load_model({"uri": str(tmp_path)})
    records = frame.iloc[:3].to_dict(orient="records")
    assert loaded.predict(records) == model.predict(frame.iloc[:3]).tolist()
    with pytest.raises(InputError, match="lacks column"):
        loaded.predict([{"f0": 1.0}])
