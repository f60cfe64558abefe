"""Small models trained at test time, saved in every format the runtime loads."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

N_FEATURES = 20

HANDLER = """
import json, os

def load(model_dir):
    with open(os.path.join(model_dir, "params.json")) as fh:
        return json.load(fh)

def predict(model, instances):
    if model.get("fail"):
        raise RuntimeError("handler asked to fail")
    return [sum(row) * model["scale"] for row in instances]
"""


@pytest.fixture(scope="session")
def data() -> tuple[Any, Any]:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=200, n_features=N_FEATURES, random_state=0)
    return x, y


@pytest.fixture(scope="session")
def logreg(data: tuple[Any, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = data
    return LogisticRegression(max_iter=500).fit(x, y)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, data: tuple[Any, Any], logreg: Any) -> Path:
    """One directory per format, each holding exactly one model."""
    import joblib
    import skops.io as sio

    root = tmp_path_factory.mktemp("models")
    for name in ("joblib", "skops", "pickle", "xgb-json", "xgb-ubj", "xgb-booster", "handler"):
        (root / name).mkdir()
    joblib.dump(logreg, root / "joblib" / "model.joblib")
    sio.dump(logreg, root / "skops" / "model.skops")
    (root / "pickle" / "model.pkl").write_bytes(pickle.dumps(logreg))
    _xgboost(root, data)
    (root / "handler" / "handler.py").write_text(HANDLER)
    (root / "handler" / "params.json").write_text('{"scale": 2}')
    write_mlflow_dir(root / "mlflow-skops", logreg, "skops")
    write_mlflow_dir(root / "mlflow-cloudpickle", logreg, "cloudpickle")
    return root


def _xgboost(root: Path, data: tuple[Any, Any]) -> None:
    import xgboost as xgb

    x, y = data
    clf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    clf.save_model(root / "xgb-json" / "model.json")
    clf.save_model(root / "xgb-ubj" / "model.ubj")
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(x, label=y), 3)
    booster.save_model(root / "xgb-booster" / "model.json")


def write_mlflow_dir(path: Path, model: Any, fmt: str) -> None:
    """The layout mlflow.sklearn.save_model writes: MLmodel with the sklearn and
    python_function flavors, the serialized model, and its environment files."""
    import sklearn

    path.mkdir()
    if fmt == "skops":
        import skops.io as sio

        sio.dump(model, path / "model.skops")
        file = "model.skops"
    else:
        import cloudpickle  # type: ignore[import-untyped]

        (path / "model.pkl").write_bytes(cloudpickle.dumps(model))
        file = "model.pkl"
    (path / "MLmodel").write_text(
        textwrap.dedent(
            f"""\
            artifact_path: model
            flavors:
              python_function:
                env:
                  conda: conda.yaml
                  virtualenv: python_env.yaml
                loader_module: mlflow.sklearn
                model_path: {file}
                predict_fn: predict
                python_version: 3.11.7
              sklearn:
                code: null
                pickled_model: {file}
                serialization_format: {fmt}
                sklearn_version: {sklearn.__version__}
            mlflow_version: 2.17.0
            model_size_bytes: {(path / file).stat().st_size}
            model_uuid: 4f1c2d3e5a6b4c7d8e9f0a1b2c3d4e5f
            utc_time_created: '2024-10-01 12:00:00.000000'
            """
        )
    )
    (path / "requirements.txt").write_text(f"scikit-learn=={sklearn.__version__}\n")
    (path / "python_env.yaml").write_text("python: 3.11.7\nbuild_dependencies: [pip]\n")
    (path / "conda.yaml").write_text("name: mlflow-env\ndependencies: [python=3.11.7]\n")


@pytest.fixture(scope="session")
def rows(data: tuple[Any, Any]) -> list[list[float]]:
    x, _ = data
    out: list[list[float]] = np.asarray(x[:5]).tolist()
    return out


class ServerThread:
    """A real uvicorn server on 127.0.0.1, port 0, in a thread of the test process."""

    def __init__(self, app: Any) -> None:
        import threading

        from cloudserve.serving import runner

        self.app = app
        self.sock = runner.bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._started = threading.Event()
        self.server = runner.make_server(app, self._started.set)
        for controller in (getattr(app, "admin", None),):
            if controller is not None:
                controller.request_shutdown = self.stop
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.daemon = True

    def __enter__(self) -> ServerThread:
        self.thread.start()
        assert self._started.wait(30), "server did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.thread.join(30)


@pytest.fixture(scope="session")
def server_thread() -> type[ServerThread]:
    """The ServerThread class, handed out as a fixture (test modules import nothing)."""
    return ServerThread
