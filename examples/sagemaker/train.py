"""Train the two example models (models/churn-v1 and models/churn-v2) with scikit-learn, saved
with skops (data only: loading it runs no code, so the spec needs no trust_pickle)."""

from __future__ import annotations

from pathlib import Path


def train(into: Path) -> None:
    import skops.io as sio
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
        sio.dump(model.fit(x, y), folder / "model.skops")


if __name__ == "__main__":
    train(Path(__file__).resolve().parent)
