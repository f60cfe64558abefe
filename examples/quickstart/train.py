"""Train the quickstart's two models on the iris data that ships with scikit-learn.

``stable`` is a scaled logistic regression, ``candidate`` a small random forest. Both are
saved with skops (models/<version>/model.skops): loading a skops file does not run code
from it, unlike a pickle. No download happens: the data is part of scikit-learn.

A model that is already there is kept (``--force`` retrains): skops files are not
byte-for-byte reproducible, and new bytes mean a new config hash, which `apply` would
roll out as a replacement of that version.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def train(into: Path = HERE / "models", *, force: bool = False) -> dict[str, str]:
    """Fit and save the models missing under ``into``; returns what happened to each."""
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
    models = {
        "stable": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "candidate": RandomForestClassifier(n_estimators=25, max_depth=3, random_state=0),
    }
    report = {}
    for name, model in models.items():
        path = into / name / "model.skops"
        if path.exists() and not force:
            report[name] = f"kept {path.relative_to(HERE)} (--force retrains)"
            continue
        model.fit(x_train, y_train)
        path.parent.mkdir(parents=True, exist_ok=True)
        sio.dump(model, path)
        accuracy = model.score(x_test, y_test)
        report[name] = f"trained, held-out accuracy {accuracy:.3f} -> {path.relative_to(HERE)}"
    return report


if __name__ == "__main__":
    for version, what in train(force="--force" in sys.argv[1:]).items():
        print(f"{version}: {what}")
