"""Tampered tree structures in skops files are refused at load (tree_checks.py).

Each case saves a real model with skops, edits its trees the way an attacker could (load,
rewrite the node arrays through ``__getstate__``/``__setstate__`` or the TreePredictor's
``nodes``, save again: skops' allow-list still admits the file), and shows that cloudserve
refuses it at load, naming the file. Loads run in a child process, so a checker that let
one through could crash the child, not pytest. ``test_the_unchecked_path_misbehaves``
shows what plain ``skops.io.load`` + ``predict`` (what the loader did before) does with
some of them; untampered files load and predict exactly as scikit-learn does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HUGE = 10**9  # far past any array here: an unchecked read there is a segfault
N_FEATURES = 6


def _data(classes: int = 2) -> tuple[Any, Any]:
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=300, n_features=N_FEATURES, n_informative=4, n_classes=classes, random_state=0
    )


def _categorical_data() -> tuple[Any, Any]:
    x, y = _data()
    noise = np.random.default_rng(0).integers(0, 3, size=y.shape)
    x[:, 0] = 3 * y + noise  # categories 0..5 that tell the class: the trees split on them
    return x, y


def _fit(kind: str) -> Any:
    from sklearn import ensemble, tree

    x, y = _data()
    if kind == "dt":
        return tree.DecisionTreeClassifier(random_state=0).fit(x, y)
    if kind == "rf":
        return ensemble.RandomForestClassifier(n_estimators=8, random_state=0).fit(x, y)
    if kind == "et":
        return ensemble.ExtraTreesRegressor(n_estimators=8, random_state=0).fit(x, y)
    if kind == "gb":
        return ensemble.GradientBoostingClassifier(n_estimators=8, random_state=0).fit(x, y)
    if kind == "gb3":
        x3, y3 = _data(3)
        return ensemble.GradientBoostingClassifier(n_estimators=5, random_state=0).fit(x3, y3)
    if kind == "gbr":
        return ensemble.GradientBoostingRegressor(n_estimators=8, random_state=0).fit(x, y)
    if kind == "hgb":
        return ensemble.HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(x, y)
    if kind == "hgbr":
        return ensemble.HistGradientBoostingRegressor(max_iter=8, random_state=0).fit(x, y)
    if kind == "hgb-cat":
        # Categorical splits without the ColumnTransformer (its FunctionTransformer is not on
        # the allow-list): categories 0..5 already equal their ordinal codes, so this is the
        # same model, and one a crafted file can hold.
        xc, yc = _categorical_data()
        model = ensemble.HistGradientBoostingClassifier(max_iter=8, categorical_features=[0], random_state=0)
        model.fit(xc, yc)
        model._preprocessor = None
        return model
    raise AssertionError(kind)


def _edit_tree(tree: Any, edit: Callable[[Any], None], **state: Any) -> None:
    """Rewrite a Tree's node array in place, as a tampered file would carry it."""
    current = tree.__getstate__()
    nodes = current["nodes"].copy()
    edit(nodes)
    tree.__setstate__({**current, "nodes": nodes, **state})


def _internal(nodes: Any, k: int = 0) -> int:
    return int(np.flatnonzero(nodes["left_child"] != -1)[k])


def _leaf(nodes: Any) -> int:
    return int(np.flatnonzero(nodes["left_child"] == -1)[0])


def _set(field: str, value: int, node: Callable[[Any], int] = _internal) -> Callable[[Any], None]:
    def edit(nodes: Any) -> None:
        nodes[field][node(nodes)] = value

    return edit


def _loop_to_root(nodes: Any) -> None:
    nodes["left_child"][0] = nodes["right_child"][0] = 0


def _two_parents(nodes: Any) -> None:
    nodes["right_child"][0] = nodes["left_child"][0]


def _wider_classes(model: Any) -> None:
    """The tree claims 3 classes (value padded to match) for a 2-class estimator."""
    from sklearn.tree._tree import Tree

    old = model.tree_.__getstate__()
    values = np.concatenate([old["values"], np.zeros_like(old["values"][:, :, :1])], axis=2)
    tree = Tree(N_FEATURES, np.array([3], dtype=np.intp), 1)
    tree.__setstate__({**old, "values": np.ascontiguousarray(values)})
    model.tree_ = tree


def _hgb_nodes(model: Any, i: int = 0) -> Any:
    return model._predictors[i][0].nodes


def _hgb_root(field: str, value: int) -> Callable[[Any], None]:
    def edit(model: Any) -> None:
        _hgb_nodes(model)[field][0] = value

    return edit


def _hgb_loop(model: Any) -> None:
    nodes = _hgb_nodes(model)
    nodes["left"][0] = nodes["right"][0] = 0


def _hgb_bitset(model: Any) -> None:
    for iteration in model._predictors:
        nodes = iteration[0].nodes
        split = np.flatnonzero((nodes["is_categorical"] == 1) & (nodes["is_leaf"] == 0))
        if split.size:
            nodes["bitset_idx"][split[0]] = HUGE
            return
    raise AssertionError("no categorical split to tamper with")


def _hgb_numeric_as_categorical(model: Any) -> None:
    nodes = _hgb_nodes(model)
    nodes["is_categorical"][0] = 1


def _gb_grid(model: Any) -> None:
    model.estimators_ = np.hstack([model.estimators_, model.estimators_])


def _no_width(model: Any) -> None:
    del model.n_features_in_


def _tree_of(pick: Callable[[Any], Any], edit: Callable[[Any], None], **state: Any) -> Callable[[Any], None]:
    return lambda model: _edit_tree(pick(model).tree_, edit, **state)


def _tree_owner(model: Any) -> Any:  # the estimator owning tree_
    return model


def _forest_member_3(model: Any) -> Any:
    return model.estimators_[3]


def _gb_stage_2(model: Any) -> Any:
    return model.estimators_[2, 0]


# name: (model kind, tamper, what the refusal names)
CASES: dict[str, tuple[str, Callable[[Any], None], str]] = {
    "child-out-of-range": ("dt", _tree_of(_tree_owner, _set("left_child", HUGE)), "children_left 1000000000"),
    "negative-child": ("dt", _tree_of(_tree_owner, _set("right_child", -7)), "children_right -7"),
    "feature-out-of-range": ("dt", _tree_of(_tree_owner, _set("feature", HUGE)), "feature 1000000000"),
    "negative-feature": ("dt", _tree_of(_tree_owner, _set("feature", -HUGE)), "feature -1000000000"),
    "loop-to-root": ("dt", _tree_of(_tree_owner, _loop_to_root), "a link back that would loop"),
    "half-leaf": ("dt", _tree_of(_tree_owner, _set("right_child", 1, _leaf)), "is a leaf"),
    "two-parents": ("dt", _tree_of(_tree_owner, _two_parents), "parents, not 1"),
    "max-depth-too-small": ("dt", _tree_of(_tree_owner, lambda n: None, max_depth=0), "max_depth is 0"),
    "n-classes-disagree": ("dt", _wider_classes, "n_classes [3]"),
    "forest-member-feature": (
        "rf",
        _tree_of(_forest_member_3, _set("feature", HUGE)),
        "estimators_[3].tree_",
    ),
    "forest-width-removed": ("rf", _no_width, "n_features_in_ is None"),
    "extra-trees-child": ("et", _tree_of(_forest_member_3, _set("left_child", HUGE)), "estimators_[3].tree_"),
    "gb-stage-child": ("gb", _tree_of(_gb_stage_2, _set("left_child", HUGE)), "estimators_[2, 0].tree_"),
    "gb-grid-wider": ("gb", _gb_grid, "expected (n, 1)"),
    "hgb-left-out-of-range": ("hgb", _hgb_root("left", HUGE), "has left 1000000000"),
    "hgb-loop-to-root": ("hgbr", _hgb_loop, "a link back that would loop"),
    "hgb-feature-out-of-range": ("hgb", _hgb_root("feature_idx", HUGE), "feature_idx 1000000000"),
    "hgb-bitset-out-of-range": ("hgb-cat", _hgb_bitset, "uses bitset 1000000000"),
    "hgb-numeric-as-categorical": ("hgb", _hgb_numeric_as_categorical, "bitset 0 of 0"),
}


def _write(kind: str, tamper: Callable[[Any], None] | None, path: Path) -> Path:
    """A skops file of ``kind``, saved, reloaded, tampered and saved again."""
    import skops.io as sio

    sio.dump(_fit(kind), path)
    if tamper is not None:
        model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        tamper(model)
        sio.dump(model, path)
    return path


def _child(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


LOAD_IN_CHILD = """
    import sys
    import numpy as np
    from cloudserve.serving.loaders import LoaderError, load_model
    try:
        model = load_model({{"uri": {path!r}}})
    except LoaderError as exc:
        print("REFUSED", exc)
        sys.exit(0)
    print("LOADED", model.predict(np.zeros((4, {width})).tolist()))
"""


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_tampered_tree_is_refused_at_load(case: str, tmp_path: Path) -> None:
    kind, tamper, names = CASES[case]
    path = _write(kind, tamper, tmp_path / f"{case}.skops")
    done = _child(LOAD_IN_CHILD.format(path=str(path), width=N_FEATURES))
    assert done.returncode == 0, f"child died with {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.startswith("REFUSED"), done.stdout
    assert f"{case}.skops: malformed or tampered model file" in done.stdout
    assert names in done.stdout, done.stdout


# What ``read_skops`` + ``predict`` did before the check: skops' load, then scikit-learn.
UNCHECKED = """
    import sys
    import numpy as np
    import skops.io as sio
    path = {path!r}
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    rows = np.random.default_rng(0).normal(size=(64, {width}))
    print("PREDICTING", flush=True)
    out = model.{call}(rows)
    print("RETURNED", flush=True)
"""

# case -> what the unchecked path did with it on scikit-learn 1.9.1 / skops 0.16. The other
# cases returned (wrong or arbitrary) predictions, or scikit-learn refused the rows.
MISBEHAVES = {
    # decision_path writes 1 + max_depth nodes per row into its buffer: a heap overflow
    # (it then fails on the overrun index array and dies at the next free)
    "max-depth-too-small": "crash",
    "child-out-of-range": "crash",
    "feature-out-of-range": "crash",
    "loop-to-root": "hang",
    "forest-member-feature": "crash",
    "gb-stage-child": "crash",
    "hgb-left-out-of-range": "crash",
    "hgb-bitset-out-of-range": "crash",
}


@pytest.mark.parametrize("case", sorted(MISBEHAVES))
def test_the_unchecked_path_misbehaves(case: str, tmp_path: Path) -> None:
    kind, tamper, _ = CASES[case]
    path = _write(kind, tamper, tmp_path / f"{case}.skops")
    call = "decision_path" if case == "max-depth-too-small" else "predict"
    code = UNCHECKED.format(path=str(path), width=N_FEATURES, call=call)
    if MISBEHAVES[case] == "hang":
        with pytest.raises(subprocess.TimeoutExpired) as hung:
            _child(code, timeout=8)
        assert "PREDICTING" in str(hung.value.stdout)
        return
    done = _child(code)
    assert "PREDICTING" in done.stdout, done.stderr[-2000:]
    assert done.returncode < 0, f"expected a crash (signal), got {done.returncode}: {done.stdout}"


KINDS = ["dt", "rf", "et", "gb", "gb3", "gbr", "hgb", "hgbr", "hgb-cat"]


@pytest.mark.parametrize("kind", KINDS)
def test_untampered_tree_models_load_and_predict_as_sklearn_does(kind: str, tmp_path: Path) -> None:
    import skops.io as sio

    from cloudserve.serving.loaders import load_model

    path = _write(kind, None, tmp_path / f"{kind}.skops")
    reference = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    x, _ = _categorical_data() if kind == "hgb-cat" else _data()
    rows = np.vstack([x[:50], np.random.default_rng(1).normal(size=(50, N_FEATURES)) * 2])
    served = load_model({"uri": str(path)})
    assert served.format == "skops"
    assert np.array_equal(np.asarray(served.predict(rows.tolist())), reference.predict(rows))
