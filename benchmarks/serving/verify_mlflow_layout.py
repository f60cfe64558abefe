"""Check the MLflow loader against directories written by real mlflow (not a test: mlflow
is not a dependency; it lives in benchmarks/.venv-peers, created by bench_serving.py).

    .venv/bin/python benchmarks/serving/verify_mlflow_layout.py

Saves one model with ``mlflow.sklearn.save_model`` in each serialization format, loads
each with ``cloudserve.serving.loaders.load_model`` (no mlflow import) and compares the
predictions with mlflow's own ``mlflow.pyfunc.load_model(...).predict``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

PEER_PY = Path(__file__).resolve().parents[1] / ".venv-peers" / "bin" / "python"

SAVE_AND_PREDICT = """
import json, sys
import joblib, mlflow.pyfunc, mlflow.sklearn, numpy as np
model, out, fmt, rows = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
mlflow.sklearn.save_model(joblib.load(model), out, serialization_format=fmt)
print(json.dumps(mlflow.pyfunc.load_model(out).predict(np.asarray(rows)).tolist()))
"""


def main() -> int:
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from cloudserve.serving.loaders import load_model

    x, y = make_classification(n_samples=300, n_features=20, random_state=1)
    rows = x[:10].tolist()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.joblib"
        joblib.dump(LogisticRegression(max_iter=500).fit(x, y), model)
        for fmt in ("skops", "cloudpickle", "pickle"):
            out = Path(tmp) / f"mlflow-{fmt}"
            done = subprocess.run(
                [str(PEER_PY), "-c", SAVE_AND_PREDICT, str(model), str(out), fmt, json.dumps(rows)],
                capture_output=True,
                text=True,
                check=True,
            )
            theirs = json.loads(done.stdout.strip().splitlines()[-1])
            ours = load_model({"uri": str(out), "trust_pickle": fmt != "skops"}).predict(rows)
            same = ours == theirs
            failures += not same
            print(
                f"{fmt:<12} mlflow {theirs[:5]}... cloudserve {ours[:5]}... "
                f"{'identical' if same else 'DIFFERENT'}"
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
