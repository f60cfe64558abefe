"""Train the two example models (models/churn-v1 and models/churn-v2) with scikit-learn.

They must be written by the scikit-learn that deployment.yaml declares (framework_version):
Vertex AI's prebuilt container of that version unpickles them, and scikit-learn warns that
an estimator loaded by another version may break (``cloudserve plan`` refuses such a pair).
So this refuses to run under any other scikit-learn.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def declared_version(spec: Path = HERE / "deployment.yaml") -> str:
    """The one framework_version the spec gives its versions."""
    (version,) = set(re.findall(r'framework_version: "([^"]+)"', spec.read_text()))
    return version


def train(into: Path) -> None:
    import joblib
    import sklearn

    wanted = declared_version(into / "deployment.yaml")
    if not (sklearn.__version__ == wanted or sklearn.__version__.startswith(wanted + ".")):
        sys.exit(
            f"deployment.yaml declares scikit-learn {wanted} but this is {sklearn.__version__}: "
            f"train in an environment with it, e.g. python -m venv .venv-train && "
            f".venv-train/bin/pip install 'scikit-learn=={wanted}.*' && .venv-train/bin/python train.py"
        )
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    for name, model in {
        "churn-v1": LogisticRegression(max_iter=500),
        "churn-v2": DecisionTreeClassifier(max_depth=2, random_state=0),
    }.items():
        folder = into / "models" / name
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(model.fit(x, y), folder / "model.joblib")


if __name__ == "__main__":
    train(HERE)
