"""What the per-target call-count benchmarks share: two small models to deploy."""

from __future__ import annotations

from pathlib import Path


def train_two_models(folder: Path, names: tuple[str, str] = ("a", "b")) -> dict[str, Path]:
    """Two different iris classifiers saved with joblib, one folder each, keyed by name."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    models = (LogisticRegression(max_iter=500), DecisionTreeClassifier(max_depth=2, random_state=0))
    out = {}
    for name, model in zip(names, models, strict=True):
        (folder / name).mkdir(parents=True)
        joblib.dump(model.fit(x, y), folder / name / "model.joblib")
        out[name] = folder / name
    return out
