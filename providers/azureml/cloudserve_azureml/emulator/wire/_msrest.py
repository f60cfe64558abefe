"""Walk a JSON body against autorest (msrest) models: azure-mgmt-monitor's, and the
per-api-version Microsoft.MachineLearningServices packages azure-ai-ml generated.

These models describe the wire in class attributes: ``_attribute_map`` (attribute -> wire
key, with ``properties.x`` for a flattened property and a type string such as ``str``,
``[ScaleRule]``, ``{str}``, ``iso-8601``, ``duration``), ``_validation`` (required,
readonly, constant, and the OpenAPI constraints pattern/min_length/max_items/minimum/...)
and ``_subtype_map`` for discriminators. The constraints are checked with msrest's own
``Serializer.validate`` (the code ``Model.validate()`` runs per attribute); the rest is
walked here because msrest's Deserializer accepts unknown keys, coerces types ("5" -> 5,
anything -> str) and maps an unknown discriminator to the base class.

How enum fields are found: autorest types an enum attribute as plain ``str`` in
``_attribute_map`` and names the enum only in the class docstring
(``:vartype operator: str or ~azure.mgmt.monitor.models.ComparisonOperationType``), so the
docstring is read; the enum's members (in the same models module) are its known values.
"""

from __future__ import annotations

import enum
import functools
import re
import types
from typing import Any

from cloudserve_azureml.emulator.wire._json import enum_values, known_value, scalar_problem, type_name
from cloudserve_azureml.emulator.wire._tsp import Direction

_SCALARS = {
    "str": "str",
    "int": "int",
    "long": "int",
    "float": "float",
    "bool": "bool",
    "iso-8601": "datetime",
    "duration": "duration",
    "unix-time": "unix-time",
    "object": "any",
}
_ENUM_DOC = re.compile(r":vartype (\w+): (?:list\[)?str or\s+~[\w.]+\.models\.(\w+)")
_UNESCAPED_DOT = re.compile(r"(?<!\\)\.")


def model_class(models: types.ModuleType, name: str) -> type:
    cls = getattr(models, name, None)
    if not isinstance(cls, type) or not hasattr(cls, "_attribute_map"):
        raise LookupError(f"{models.__name__} has no model {name!r}")
    return cls


@functools.cache
def _enums(cls: type, models: types.ModuleType) -> dict[str, type[enum.Enum]]:
    found = _ENUM_DOC.findall(cls.__doc__ or "")
    return {
        attr: getattr(models, name) for attr, name in found if isinstance(getattr(models, name, None), type)
    }


@functools.cache
def _tree(cls: type) -> dict[str, Any]:
    """The wire layout: wire key -> attribute name, or a nested dict for flattened keys."""
    root: dict[str, Any] = {}
    for attr, desc in cls._attribute_map.items():  # type: ignore[attr-defined]
        if desc["key"] == "":
            root[""] = attr  # additionalProperties land in this attribute
            continue
        parts = [p.replace("\\.", ".") for p in _UNESCAPED_DOT.split(desc["key"])]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = attr
    return root


class Walker:
    """Collects every way a body departs from its model, as ``path: problem`` lines."""

    def __init__(self, direction: Direction, models: types.ModuleType) -> None:
        self.direction = direction
        self.models = models
        self.problems: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def model(self, data: Any, name: str, where: str) -> None:
        cls = model_class(self.models, name)
        if not isinstance(data, dict):
            self.fail(where, f"expected an object ({name}), got {type_name(data)}")
            return
        concrete = self._concrete(cls, data, where)
        if concrete is not None:
            self._level(data, _tree(concrete), concrete, where)

    def _concrete(self, cls: type, data: dict[str, Any], where: str) -> type | None:
        # A base declares its own _subtype_map; a leaf only inherits it (so: vars, not getattr).
        subtypes: dict[str, dict[str, str]] = vars(cls).get("_subtype_map") or {}
        for attr, mapping in subtypes.items():
            key = cls._attribute_map[attr]["key"].replace("\\.", ".")  # type: ignore[attr-defined]
            value = data.get(key)
            if value not in mapping:
                self.fail(f"{where}.{key}", f"{value!r} is not a {cls.__name__} subtype ({sorted(mapping)})")
                return None
            sub = model_class(self.models, mapping[value])
            return cls if sub is cls else self._concrete(sub, data, where)
        return cls

    def _level(self, data: dict[str, Any], tree: dict[str, Any], cls: type, where: str) -> None:
        for key, value in data.items():
            node = tree.get(key)
            if node is None:
                if "" not in tree:
                    self.fail(f"{where}.{key}", f"not a field of {cls.__name__} (fields: {', '.join(tree)})")
            elif isinstance(node, dict):
                if isinstance(value, dict):
                    self._level(value, node, cls, f"{where}.{key}")
                else:
                    self.fail(f"{where}.{key}", f"expected an object, got {type_name(value)}")
            else:
                self._attribute(value, cls, node, f"{where}.{key}")
        for key, node in tree.items():
            if key and key not in data:
                self._missing(node, cls, f"{where}.{key}")

    def _missing(self, node: Any, cls: type, where: str) -> None:
        rules = getattr(cls, "_validation", {})
        attrs = [node] if isinstance(node, str) else _leaves(node)
        for attr in attrs:
            rule = rules.get(attr, {})
            if rule.get("required") and not rule.get("readonly"):
                what = "required" if isinstance(node, str) else f"required ({attr} is inside it)"
                self.fail(where, f"{what} by {cls.__name__} but missing")

    def _attribute(self, value: Any, cls: type, attr: str, where: str) -> None:
        from msrest.exceptions import ValidationError
        from msrest.serialization import Serializer

        rule = dict(getattr(cls, "_validation", {}).get(attr, {}))
        if rule.get("readonly") and self.direction == "request" and value is not None:
            self.fail(where, f"read-only in {cls.__name__}; a client must not send it")
        if rule.pop("constant", False) and value != getattr(cls, attr):
            self.fail(where, f"{value!r} is not the constant {getattr(cls, attr)!r}")
        if self.direction == "response":
            # The OpenAPI constraints bind what a client sends; a reply is held to "required".
            rule = {"required": rule.get("required", False)}
        # OpenAPI's pattern is JSON Schema's: a match anywhere (ECMA-262 search); msrest's
        # validator anchors it at the start (re.match), which refuses e.g. "/score" for
        # "[a-zA-Z0-9_]". So the pattern is checked here and the rest by msrest.
        pattern = rule.pop("pattern", None)
        if pattern and isinstance(value, str) and not re.search(pattern, value):
            self.fail(where, f"{value!r} does not match the pattern {pattern!r}")
        try:
            Serializer.validate(value, where, **rule)  # type: ignore[no-untyped-call]
        except ValidationError as err:
            self.fail(where, str(err))
        self.value(value, cls._attribute_map[attr]["type"], where, _enums(cls, self.models).get(attr))  # type: ignore[attr-defined]

    def value(self, data: Any, kind: str, where: str, enum_cls: type[enum.Enum] | None = None) -> None:
        if data is None:
            return  # absent-or-null; "required" is msrest's check above
        if kind.startswith("[") or kind.startswith("{"):
            if not isinstance(data, list if kind[0] == "[" else dict):
                self.fail(
                    where, f"expected {'an array' if kind[0] == '[' else 'an object'}, got {type_name(data)}"
                )
                return
            places = [(f"{where}[{i}]", v) for i, v in enumerate(data)] if isinstance(data, list) else []
            places += [(f"{where}.{k}", v) for k, v in data.items()] if isinstance(data, dict) else []
            for place, item in places:
                self.value(item, kind[1:-1], place, enum_cls)
        elif kind in _SCALARS:
            problem = scalar_problem(data, _SCALARS[kind])
            if problem:
                self.fail(where, problem)
            elif enum_cls is not None and not known_value(data, enum_cls, self.direction):
                self.fail(
                    where, f"{data!r} is not a known {enum_cls.__name__} value ({enum_values(enum_cls)})"
                )
        else:
            self.model(data, kind, where)


def _leaves(node: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for child in node.values():
        out.extend([child] if isinstance(child, str) else _leaves(child))
    return out
