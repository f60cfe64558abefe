"""Tree structures from a skops file are checked before anything predicts with them.

skops' allow-list decides which *types* a file may build; it does not look at the data
those types hold. ``sklearn.tree._tree.Tree.__setstate__`` checks only the dtypes and the
value array's shape, and ``TreePredictor.__setstate__`` only casts its ``nodes``; the
compiled traversals then follow the stored indices without bounds checks
(boundscheck=False). A crafted file can therefore make ``predict`` read far outside the
node array or the input row (a crash or garbage), spin forever on a cycle, or (through
``decision_path``'s ``max_depth``-sized buffer, or gradient boosting's ``out[i, k]``) write
out of bounds. What the compiled code relies on, from scikit-learn 1.9's sources:

- ``sklearn/tree/_tree.pyx`` ``Tree._apply_dense``/``_apply_sparse_csr``: start at
  ``nodes[0]``; a node is a leaf iff ``left_child == TREE_LEAF`` (-1); otherwise
  ``X[i, node.feature]`` picks the branch and ``nodes[left_child]``/``nodes[right_child]`` is
  taken unchecked. ``predict`` then takes ``value[leaf]`` with ``mode='clip'`` (a leaf past
  ``node_count`` silently reads another node's value). ``_decision_path_dense`` fills a
  buffer of ``n_samples * (1 + max_depth)``.
- ``sklearn/ensemble/_gradient_boosting.pyx`` ``predict_stages``: the same walk over every
  ``estimators_[i, k].tree_``, adding ``value[leaf]`` into ``out[i, k]`` for
  ``k < estimators_.shape[1]``, where ``out`` has the init estimator's width.
- ``sklearn/ensemble/_hist_gradient_boosting/_predictor.pyx``
  ``_predict_one_from_raw_data`` (record layout in ``common.pxd`` ``node_struct``): start
  at ``nodes[0]``, stop at ``is_leaf``; otherwise ``numeric_data[row, feature_idx]``,
  ``nodes[left]``/``nodes[right]``, and for categorical splits
  ``raw_left_cat_bitsets[bitset_idx, value // 32]`` and
  ``known_cat_bitsets[f_idx_map[feature_idx], ...]`` (``sklearn/utils/_bitset.pyx``).

So every tree must be a proper binary tree stored the way scikit-learn's builders store
it: children inside the array and numbered after their parent (so every walk ends), one
parent per node, leaves with both children -1, split features inside the width the
estimator validates, bitset rows that exist, and shapes that agree with the estimator.
Each check is a few vectorised passes over the node array: linear in nodes, once at load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cloudserve.serving.loaders.base import LoaderError

TREE_LEAF = -1  # sklearn.tree._tree.TREE_LEAF
_BITSET_WORDS = 8  # uint32 words per category bitset: 256 binned values (utils/_bitset.pyx)


class Malformed(Exception):
    """One broken invariant; ``str()`` says where and what."""


@dataclass
class _Walk:
    """Everything reachable from the model, with the trees each owner vouched for."""

    checked: set[int] = field(default_factory=set)  # ids of trees checked in an owner's context
    seen: set[int] = field(default_factory=set)
    later: list[tuple[str, Any]] = field(default_factory=list)  # checks that call Python code


def check_trees(model: Any, filename: str) -> None:
    """Refuse ``model`` (loaded from ``filename``) if any tree in it breaks an invariant."""
    try:
        _walk(model)
    except Malformed as exc:
        raise LoaderError(
            f"{filename}: malformed or tampered model file, refusing to serve it: {exc}"
        ) from None


def _walk(model: Any) -> None:
    walk = _Walk()
    stack: list[tuple[str, Any]] = [("model", model)]
    while stack:
        where, obj = stack.pop()
        if id(obj) in walk.seen or obj is None or isinstance(obj, str | bytes | int | float | bool):
            continue
        walk.seen.add(id(obj))
        stack.extend(_visit(where, obj, walk))
    for where, gb in walk.later:  # after every tree, including an init estimator's, passed
        _check_gb_init_width(where, gb)


def _visit(where: str, obj: Any, walk: _Walk) -> list[tuple[str, Any]]:
    """Check ``obj`` itself; return what it holds, to be visited next."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    if isinstance(obj, Tree):
        if id(obj) not in walk.checked:  # a tree outside any estimator: its own width
            check_tree(where, obj, int(obj.n_features))
        return []
    if isinstance(obj, TreePredictor):
        if id(obj) not in walk.checked:
            check_predictor(where, obj, None, None)
        return []
    if isinstance(obj, dict):
        return [(f"{where}[{k!r}]", v) for k, v in obj.items()]
    if isinstance(obj, list | tuple):
        return [(f"{where}[{i}]", v) for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        if obj.dtype != object:
            return []
        return [(f"{where}[{', '.join(map(str, i))}]", v) for i, v in np.ndenumerate(obj)]
    _check_estimator(where, obj, walk)
    attrs = getattr(obj, "__dict__", None)
    return [(f"{where}.{k}", v) for k, v in attrs.items()] if isinstance(attrs, dict) else []


def _check_estimator(where: str, est: Any, walk: _Walk) -> None:
    from sklearn.ensemble._forest import BaseForest
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting
    from sklearn.tree._classes import BaseDecisionTree

    if isinstance(est, BaseDecisionTree) and hasattr(est, "tree_"):
        _check_decision_tree(where, est)
        walk.checked.add(id(est.tree_))
    elif isinstance(est, BaseForest) and hasattr(est, "estimators_"):
        _check_members(where, est, list(est.estimators_), est.n_outputs_)
    elif isinstance(est, BaseGradientBoosting) and hasattr(est, "estimators_"):
        _check_gb(where, est)
        walk.later.append((where, est))
    elif isinstance(est, BaseHistGradientBoosting) and hasattr(est, "_predictors"):
        _check_hgb(where, est, walk)


def _width(where: str, est: Any) -> int:
    """``n_features_in_``: the width ``validate_data`` holds rows to (absent, it checks none)."""
    width = getattr(est, "n_features_in_", None)
    if not isinstance(width, int | np.integer) or isinstance(width, bool) or width < 1:
        raise Malformed(f"{where}: n_features_in_ is {width!r}, not a positive integer")
    return int(width)


def _check_decision_tree(where: str, est: Any) -> None:
    from sklearn.base import is_classifier
    from sklearn.tree._tree import Tree

    tree = est.tree_
    if not isinstance(tree, Tree):
        raise Malformed(f"{where}.tree_ is a {type(tree).__name__}, not a Tree")
    n_outputs = getattr(est, "n_outputs_", None)
    if tree.n_outputs != n_outputs:
        raise Malformed(f"{where}.tree_ has {tree.n_outputs} outputs, the estimator {n_outputs!r}")
    if is_classifier(est):
        expected = np.atleast_1d(np.asarray(getattr(est, "n_classes_", None)))
    else:
        expected = np.ones(tree.n_outputs, dtype=np.intp)
    if not np.array_equal(tree.n_classes, expected):
        raise Malformed(
            f"{where}.tree_ has n_classes {tree.n_classes.tolist()}, the estimator {expected.tolist()}"
        )
    check_tree(f"{where}.tree_", tree, _width(where, est))


def check_tree(where: str, tree: Any, width: int) -> None:
    """The invariants ``Tree.apply``/``predict``/``decision_path`` index by."""
    n = int(tree.node_count)
    if n < 1:
        raise Malformed(f"{where}: node_count is {n}; a tree has at least its root")
    if tree.n_features != width:
        raise Malformed(f"{where}: n_features is {tree.n_features}, the estimator validates {width}")
    if tree.n_outputs < 1 or tree.max_n_classes < 1 or tree.n_classes.shape != (tree.n_outputs,):
        raise Malformed(f"{where}: n_outputs {tree.n_outputs} / n_classes {tree.n_classes.tolist()}")
    if tree.max_n_classes != int(tree.n_classes.max()):
        raise Malformed(f"{where}: max_n_classes {tree.max_n_classes} is not max(n_classes)")
    if tree.value.shape != (n, tree.n_outputs, tree.max_n_classes):
        raise Malformed(f"{where}: value has shape {tree.value.shape} for {n} nodes")
    left, right = tree.children_left, tree.children_right
    leaf = left == TREE_LEAF
    odd = np.flatnonzero(leaf & (right != TREE_LEAF))
    if odd.size:
        node = odd[0]
        raise Malformed(
            f"{where}: node {node} is a leaf (children_left -1) with children_right {right[node]}"
        )
    depth = _check_links(where, leaf, left, right, "children_left", "children_right")
    if tree.max_depth < depth:  # decision_path's buffer holds 1 + max_depth nodes per row
        raise Malformed(f"{where}: max_depth is {tree.max_depth}, the nodes are {depth} deep")
    _check_features(where, ~leaf, tree.feature, width, "feature")


def _check_links(where: str, leaf: Any, left: Any, right: Any, lname: str, rname: str) -> int:
    """Children inside the array, numbered after their parent, one parent each; the depth.

    Numbered after the parent is how scikit-learn's builders (and HGB's grower) store trees,
    and it makes every walk from the root end: indices only grow."""
    n = leaf.size
    ids = np.flatnonzero(~leaf)
    for name, child in ((lname, left), (rname, right)):
        kids = child[ids].astype(np.int64)
        bad = np.flatnonzero((kids <= ids) | (kids >= n))
        if bad.size:
            node = ids[bad[0]]
            raise Malformed(
                f"{where}: node {node} has {name} {kids[bad[0]]}, outside ({node}, {n}) "
                "(out of range, or a link back that would loop)"
            )
    parents = np.bincount(np.concatenate([left[ids], right[ids]]).astype(np.int64), minlength=n)
    bad = np.flatnonzero(parents[1:] != 1)
    if bad.size:
        raise Malformed(f"{where}: node {bad[0] + 1} has {parents[bad[0] + 1]} parents, not 1")
    return _depth(leaf, left, right)


def _depth(leaf: Any, left: Any, right: Any) -> int:
    """Levels below the root, one numpy pass per level (each node is in one level)."""
    level, depth = np.array([0]), 0
    while True:
        inner = level[~leaf[level]]
        if not inner.size:
            return depth
        level = np.concatenate([left[inner], right[inner]]).astype(np.int64)
        depth += 1


def _check_features(where: str, internal: Any, feature: Any, width: int | None, name: str) -> None:
    ids = np.flatnonzero(internal)
    used = feature[ids].astype(np.int64)
    outside = used < 0 if width is None else (used < 0) | (used >= width)
    bad = np.flatnonzero(outside)
    if bad.size:
        raise Malformed(f"{where}: node {ids[bad[0]]} splits on {name} {used[bad[0]]}, outside [0, {width})")


def _check_members(where: str, ensemble: Any, members: list[Any], n_outputs: int) -> None:
    """Members see the rows the ensemble validated (``check_input=False`` inside)."""
    from sklearn.tree._classes import BaseDecisionTree

    width = _width(where, ensemble)
    if not members:
        raise Malformed(f"{where}: estimators_ is empty")
    for i, member in enumerate(members):
        if not isinstance(member, BaseDecisionTree) or not hasattr(member, "tree_"):
            raise Malformed(f"{where}.estimators_[{i}] is a {type(member).__name__}, not a fitted tree")
        if _width(f"{where}.estimators_[{i}]", member) != width:
            raise Malformed(f"{where}.estimators_[{i}] takes {member.n_features_in_} features, not {width}")
        if member.n_outputs_ != n_outputs:
            raise Malformed(f"{where}.estimators_[{i}] has {member.n_outputs_} outputs")


def _check_gb(where: str, gb: Any) -> None:
    """``predict_stages`` walks ``estimators_[i, k].tree_`` and adds into ``out[:, k]``."""
    from sklearn.tree import DecisionTreeRegressor

    stages = gb.estimators_
    width = int(getattr(gb, "n_trees_per_iteration_", -1))
    if not isinstance(stages, np.ndarray) or stages.ndim != 2 or stages.shape[1] != width:
        shape = getattr(stages, "shape", None)
        raise Malformed(f"{where}: estimators_ has shape {shape}, expected (n, {width})")
    if any(not isinstance(t, DecisionTreeRegressor) for t in stages.ravel()):
        raise Malformed(f"{where}: estimators_ holds something other than DecisionTreeRegressor")
    _check_members(where, gb, list(stages.ravel()), 1)  # one output per tree, k picks the column


def _check_gb_init_width(where: str, gb: Any) -> None:
    """``out`` comes from the init estimator: as wide as ``estimators_`` or ``out[i, k]`` overflows."""
    probe = np.zeros((1, gb.n_features_in_), dtype=np.float32)
    try:
        start = gb._raw_predict_init(probe)
    except Exception as exc:
        raise Malformed(f"{where}: its init estimator does not predict ({exc})") from None
    if start.ndim != 2 or start.shape[1] != gb.estimators_.shape[1]:
        raise Malformed(
            f"{where}: the init estimator gives {start.shape[1:]} columns for "
            f"{gb.estimators_.shape[1]} trees per stage"
        )


def _check_hgb(where: str, hgb: Any, walk: _Walk) -> None:
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    width, per_iteration = _width(where, hgb), getattr(hgb, "n_trees_per_iteration_", None)
    if getattr(hgb, "_in_fit", False):  # predict would take raw floats as binned uint8
        raise Malformed(f"{where}: _in_fit is set")
    categorical = getattr(getattr(hgb, "_bin_mapper", None), "is_categorical_", None)
    if not isinstance(categorical, np.ndarray) or categorical.shape != (width,):
        shape = getattr(categorical, "shape", None)
        raise Malformed(f"{where}: _bin_mapper.is_categorical_ has shape {shape}, not ({width},)")
    for i, iteration in enumerate(hgb._predictors):
        if not isinstance(iteration, list) or len(iteration) != per_iteration:
            raise Malformed(f"{where}._predictors[{i}] does not hold {per_iteration} predictors")
        for k, predictor in enumerate(iteration):
            if not isinstance(predictor, TreePredictor):
                raise Malformed(f"{where}._predictors[{i}][{k}] is a {type(predictor).__name__}")
            check_predictor(f"{where}._predictors[{i}][{k}]", predictor, width, categorical)
            walk.checked.add(id(predictor))


def check_predictor(where: str, predictor: Any, width: int | None, categorical: Any) -> None:
    """The invariants ``_predict_one_from_raw_data`` (and the binned twin) index by."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1:
        raise Malformed(f"{where}: nodes is not a 1-d array of PREDICTOR_RECORD_DTYPE")
    if nodes.size < 1:
        raise Malformed(f"{where}: nodes is empty; a tree has at least its root")
    leaf = nodes["is_leaf"] != 0
    _check_links(where, leaf, nodes["left"], nodes["right"], "left", "right")
    _check_features(where, ~leaf, nodes["feature_idx"], width, "feature_idx")
    for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
        bits = getattr(predictor, name, None)
        if not isinstance(bits, np.ndarray) or bits.ndim != 2 or bits.shape[1] != _BITSET_WORDS:
            raise Malformed(f"{where}: {name} has shape {getattr(bits, 'shape', None)}, not (n, 8)")
    split = np.flatnonzero(~leaf & (nodes["is_categorical"] != 0))
    rows = min(predictor.raw_left_cat_bitsets.shape[0], predictor.binned_left_cat_bitsets.shape[0])
    if split.size and int(nodes["bitset_idx"][split].max()) >= rows:
        node = split[np.argmax(nodes["bitset_idx"][split])]
        raise Malformed(f"{where}: node {node} uses bitset {nodes['bitset_idx'][node]} of {rows}")
    if split.size and categorical is not None:
        numeric = split[categorical[nodes["feature_idx"][split]] == 0]
        if numeric.size:  # f_idx_map maps it to row 0 of known_cat_bitsets, which may not exist
            raise Malformed(
                f"{where}: node {numeric[0]} is a categorical split on feature "
                f"{nodes['feature_idx'][numeric[0]]}, which is not categorical"
            )
