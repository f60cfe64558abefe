"""The serving benchmark's models (20 features each) and their in-process ceilings."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODELS = ("logreg", "hgb", "rf", "xgb")
TITLES = {
    "logreg": "LogisticRegression",
    "hgb": "HistGradientBoosting, 100 iterations",
    "rf": "RandomForest, 100 trees, depth 12",
    "xgb": "XGBoost, 100 trees, depth 6",
}


def train(name: str, workdir: Path) -> tuple[Path, list[float]]:
    """Fit ``name`` on a seeded synthetic table; (saved artifact, one row of features).

    scikit-learn models are saved with joblib (every server loads the same file); XGBoost
    in its own JSON format, which cloudserve loads natively and the peers through
    XGBClassifier.load_model / mlflow.xgboost."""
    import joblib
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=5000, n_features=20, n_informative=10, random_state=0)
    model = _estimator(name).fit(x, y)
    if name == "xgb":
        path = workdir / f"{name}.json"
        model.save_model(path)
    else:
        path = workdir / f"{name}.joblib"
        joblib.dump(model, path)
    return path, [float(v) for v in x[0]]


def _estimator(name: str) -> Any:
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000)
    if name == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0)
    import xgboost

    return xgboost.XGBClassifier(n_estimators=100, max_depth=6, random_state=0)


def _raw(path: Path) -> Any:
    if path.suffix == ".json":
        import xgboost

        model = xgboost.XGBClassifier()
        model.load_model(path)
        return model
    import joblib

    return joblib.load(path)


def _rate(call: Callable[[], Any], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        n += 1
    return n / (time.perf_counter() - start)


def ceilings(path: Path, row: list[float], sizes: tuple[int, ...], seconds: float = 0.8) -> dict[str, Any]:
    """Rows/s with no HTTP, for one row and for batches of each size in ``sizes``.

    ``model.predict``: the library's own predict on a float64 array, best of its default
    thread pools and a pool of one (a full pool stalls on a busy host; taking the better
    makes the target harder, not easier). ``cloudserve``: the loaded model's predict as
    the server calls it (rows as JSON lists, conversion included). Run it in a fresh
    process (``ceilings_in_child``): the server's settings stay in the process."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from cloudserve.serving.app import configure_frameworks
    from cloudserve.serving.loaders import load_model

    raw = _raw(path)
    loaded = load_model({"uri": str(path), "trust_pickle": path.suffix == ".joblib"})
    matrices = {size: np.asarray([row] * size) for size in sizes}
    default = {size: _rate(lambda m=m: raw.predict(m), seconds) for size, m in matrices.items()}
    with threadpool_limits(limits=1):
        if hasattr(raw, "n_jobs"):
            raw.set_params(n_jobs=1)  # XGBoost's own pool; joblib's for a forest
        single = {size: _rate(lambda m=m: raw.predict(m), seconds) for size, m in matrices.items()}
    configure_frameworks()  # the server's own settings
    out: dict[str, Any] = {"model.predict": {}, "cloudserve": {}}
    for size in sizes:
        rows = [row] * size
        out["cloudserve"][size] = _rate(lambda rows=rows: loaded.predict(rows), seconds) * size
        out["model.predict"][size] = max(single[size], default[size]) * size
    return out


def ceilings_in_child(path: Path, row: list[float], sizes: tuple[int, ...]) -> dict[str, Any]:
    import json
    import subprocess
    import sys

    code = (
        "import json, sys; from pathlib import Path; from models import ceilings; "
        "row, sizes = json.loads(sys.argv[2]), tuple(json.loads(sys.argv[3])); "
        "print(json.dumps(ceilings(Path(sys.argv[1]), row, sizes)))"
    )
    args = [sys.executable, "-c", code, str(path), json.dumps(row), json.dumps(list(sizes))]
    out = subprocess.run(args, cwd=Path(__file__).parent, capture_output=True, text=True, check=True)
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return {kind: {int(k): v for k, v in by_size.items()} for kind, by_size in found.items()}
