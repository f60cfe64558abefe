"""The spec's ``monitoring.drift`` section, as this package needs it.

Kept as a small dataclass of its own so the engine does not depend on the spec models:
``DriftConfig.from_spec`` accepts the pydantic ``Drift`` model (or any object or mapping
with the same fields), and everything else takes a ``DriftConfig`` or plain arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, cast

Method = Literal["auto", "psi", "ks", "chi2", "js", "wasserstein"]
#: Methods whose threshold is a significance level (drift when the p-value is below it).
TEST_METHODS = frozenset({"ks", "chi2"})

_NAMED_SCHEDULES = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
}
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta | None:
    """``hourly``/``daily``/``weekly`` or ``90s``, ``30m``, ``6h``, ``1d``, ``2w``; else None."""
    lowered = text.strip().lower()
    if lowered in _NAMED_SCHEDULES:
        return _NAMED_SCHEDULES[lowered]
    match = _DURATION.match(lowered)
    if match is None:
        return None
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def threshold_problems(
    method: str, threshold: float | None, thresholds: Mapping[str, float], where: str = ""
) -> list[str]:
    """Thresholds that could never mean what they say: NaN or infinite (nothing would ever
    drift, or everything), not above 0, or, for a significance test (``ks``, ``chi2``),
    not below 1 (a p-value is at most 1, so every column would drift)."""
    import math

    named = [(f"{where}threshold", threshold)] + [
        (f"{where}thresholds.{name}", value) for name, value in thresholds.items()
    ]
    problems = []
    for field_name, value in named:
        if value is None:
            continue
        if not math.isfinite(value) or value <= 0:
            problems.append(f"{field_name}: {value!r} is not a positive number")
        elif method in TEST_METHODS and value >= 1:
            problems.append(
                f"{field_name}: {value!r} is a significance level for {method} (drift when the "
                "p-value is below it), so it must lie between 0 and 1, e.g. 0.05"
            )
    return problems


@dataclass(frozen=True)
class DriftConfig:
    """What to compare, how to judge it, how often, and whom to tell."""

    baseline: str
    features: tuple[str, ...] | None = None
    schedule: str = "hourly"
    method: Method = "auto"
    threshold: float | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    webhook: str | None = None

    @classmethod
    def from_spec(cls, drift: Any) -> DriftConfig:
        """Build from the spec's drift model or a mapping of the same fields.

        A threshold the spec merely defaulted is not passed on: each method then keeps
        its own default, since a single default number cannot suit distances and
        p-values alike. ``model_fields_set`` tells an explicit value from a default.
        """

        def get(key: str) -> Any:
            if isinstance(drift, Mapping):
                return drift.get(key)
            return getattr(drift, key, None)

        explicit = getattr(drift, "model_fields_set", None)
        threshold = get("threshold")
        if explicit is not None and "threshold" not in explicit:
            threshold = None
        alert = get("alert")
        webhook = alert.get("webhook") if isinstance(alert, Mapping) else getattr(alert, "webhook", None)
        features = get("features")
        return cls(
            baseline=str(get("baseline")),
            features=tuple(features) if features is not None else None,
            schedule=str(get("schedule") or "hourly"),
            method=cast(Method, get("method") or "auto"),
            threshold=float(threshold) if threshold is not None else None,
            thresholds=dict(get("thresholds") or {}),
            webhook=webhook,
        )

    @property
    def window(self) -> timedelta | None:
        """How far back one scheduled evaluation looks: one schedule interval."""
        return parse_duration(self.schedule)
