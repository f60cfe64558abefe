"""Hostile model artifacts are refused before any of their code runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudserve.serving.loaders import LoaderError, load_model


def test_skops_runstring_via_function_transformer_is_refused(tmp_path: Path) -> None:
    import numpy as np
    import skops.io as sio
    from numpy.testing._private.utils import runstring
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    marker = tmp_path / "pwned"
    X = np.random.rand(10, 2)
    y = np.array([0, 1] * 5)
    model = make_pipeline(FunctionTransformer(), LogisticRegression()).fit(X, y)
    model.steps[0][1].func = runstring  # set after fit so nothing runs while building it
    sio.dump(model, tmp_path / "m.skops")
    with pytest.raises(LoaderError, match="runstring"):
        load_model({"uri": str(tmp_path / "m.skops")})
    assert not marker.exists()


def test_ordinary_skops_models_still_load(tmp_path: Path) -> None:
    import numpy as np
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    X = np.random.rand(20, 2)
    y = np.array([0, 1] * 10)
    for i, m in enumerate(
        [RandomForestClassifier(n_estimators=2), HistGradientBoostingClassifier(max_iter=2)]
    ):
        sio.dump(m.fit(X, y), tmp_path / f"m{i}.skops")
        assert load_model({"uri": str(tmp_path / f"m{i}.skops")}).format == "skops"
