"""The library version an artifact records, read from real files without loading them."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sklearn
import xgboost

from cloudserve.serving.written_with import (
    pickle_version,
    skops_version,
    written_with,
    xgboost_version,
)
from cloudserve.spec.models import ModelSpec

SKLEARN = ModelSpec(uri="m", framework="sklearn")
XGBOOST = ModelSpec(uri="m", framework="xgboost")


def test_skops_file_records_the_scikit_learn_that_wrote_it(models_dir: Path) -> None:
    assert skops_version(models_dir / "skops" / "model.skops") == sklearn.__version__
    assert written_with(models_dir / "skops", SKLEARN) == sklearn.__version__


def test_a_pipeline_in_skops_is_read_too(tmp_path: Path, logreg: Any) -> None:
    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sio.dump(make_pipeline(StandardScaler(), logreg), tmp_path / "p.skops")
    assert written_with(tmp_path / "p.skops", SKLEARN) == sklearn.__version__


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_joblib_files_plain_and_compressed(tmp_path: Path, logreg: Any, compress: Any) -> None:
    import joblib

    path = tmp_path / "model.joblib"
    joblib.dump(logreg, path, compress=compress)
    assert written_with(path, SKLEARN) == sklearn.__version__


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickles_of_every_protocol(tmp_path: Path, logreg: Any, protocol: int) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(logreg, protocol=protocol))
    assert pickle_version(path) == sklearn.__version__


class _Boom:
    """Unpickling this runs os.system: the detector must read the version and not run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


def test_reading_a_hostile_pickle_runs_none_of_its_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"payload": _Boom(marker), "_sklearn_version": "1.4.2"}))
    assert pickle_version(path) == "1.4.2"
    assert not marker.exists()


def test_the_version_straddling_a_read_chunk_is_found(tmp_path: Path, monkeypatch: Any) -> None:
    from cloudserve.serving import written_with as ww

    path = tmp_path / "model.pkl"
    data = pickle.dumps({"pad": b"x" * 5000, "_sklearn_version": "1.5.2"})
    path.write_bytes(data)
    at = data.index(b"_sklearn_version")
    for chunk in range(at - 20, at + 30, 7):  # the key or its value cut at every place
        monkeypatch.setattr(ww, "_CHUNK", chunk)
        assert pickle_version(path) == "1.5.2", chunk


def test_not_recorded_or_not_a_model_is_none(tmp_path: Path, models_dir: Path) -> None:
    (tmp_path / "garbage.joblib").write_bytes(b"\x78\x9c not zlib at all")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    (tmp_path / "bad.skops").write_bytes(b"PK not a zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", '{"__loader__": "ObjectNode", "content": "\\"1.5\\""}')
    (tmp_path / "empty.skops").write_bytes(buffer.getvalue())
    for name in ("garbage.joblib", "plain.pkl", "bad.skops", "empty.skops"):
        assert written_with(tmp_path / name, SKLEARN) is None, name
    assert written_with(models_dir / "handler", SKLEARN) is None
    assert written_with(tmp_path / "absent.skops", SKLEARN) is None
    # The version of the *model's* library only: an XGBoost spec over a scikit-learn pickle.
    assert written_with(models_dir / "joblib", XGBOOST) is None


@pytest.mark.parametrize("folder", ["xgb-json", "xgb-ubj", "xgb-booster"])
def test_xgboost_json_and_ubj_models(models_dir: Path, folder: str) -> None:
    assert written_with(models_dir / folder, XGBOOST) == xgboost.__version__


def test_xgboost_ubj_written_as_bst_and_truncated(tmp_path: Path, models_dir: Path) -> None:
    data = (models_dir / "xgb-ubj" / "model.ubj").read_bytes()
    (tmp_path / "model.bst").write_bytes(data)
    assert written_with(tmp_path / "model.bst", XGBOOST) == xgboost.__version__
    (tmp_path / "cut.ubj").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        xgboost_version(tmp_path / "cut.ubj")
    assert written_with(tmp_path / "cut.ubj", XGBOOST) is None
    (tmp_path / "old.bst").write_bytes(b"\x00\x00\x00\x3f binary format of XGBoost < 1.0")
    assert xgboost_version(tmp_path / "old.bst") is None


def test_mlflow_model_records_it_in_mlmodel(models_dir: Path) -> None:
    assert written_with(models_dir / "mlflow-skops", SKLEARN) == sklearn.__version__
