"""Random and mutated specs: the loader returns a Deployment or raises InvalidSpec, nothing else."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudserve.errors import InvalidSpec
from cloudserve.spec.loader import load
from cloudserve.spec.yamlpos import parse_documents
from cloudserve.testing.specs import EXAMPLE_SPEC as BASE
from cloudserve.testing.specs import EXAMPLE_YAML as SPEC_YAML

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["4Gi", "500m", "10m", "${HOME}", "${NOPE}", "AKIAABCDEFGHIJKLMNOP"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


ALL_PATHS = _paths(BASE)[1:]


@st.composite
def mutated_specs(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return data


def _check(data: Any) -> None:
    try:
        load(data, environ={"HOME": "/root"})
    except InvalidSpec as exc:
        assert str(exc)
        for problem in exc.problems:
            assert problem.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_specs())
def test_mutated_specs(data: Any) -> None:
    _check(data)


@settings(max_examples=150, deadline=None)
@given(values)
def test_random_documents(data: Any) -> None:
    if isinstance(data, dict | list):
        _check(data if isinstance(data, dict) else {"spec": data})


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SPEC_YAML) - 1), st.text(max_size=5))
def test_mutated_yaml_text(pos: int, insert: str) -> None:
    text = SPEC_YAML[:pos] + insert + SPEC_YAML[pos:]
    try:
        docs = parse_documents(text, "spec.yaml")
    except InvalidSpec:
        return
    for doc in docs:
        _check(doc.data) if isinstance(doc.data, dict) else None


def test_yaml_round_trip_of_base() -> None:
    assert load(yaml.safe_load(yaml.safe_dump(BASE)))[0].name == "churn"
