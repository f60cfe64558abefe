"""What a drift evaluation returns: a verdict per feature and for the window as a whole.

Results are plain dataclasses with a JSON form (``to_dict``) that is the contract for
machines: ``cloudserve monitor run --output json`` prints it and ``report.json`` holds
it. A feature is *judged* when its status is ``ok`` or ``drift``; a window in which no
feature could be judged (no rows, nothing parseable) has status ``empty_window`` or
``not_judged``, never ``ok``, and says why. Text that comes from the data (feature
names, categories, notes) is cut to ``MAX_TEXT`` characters with a count of the rest,
so a hostile capture cannot make a report or a CI log echo megabytes.
Features are ordered worst first -- drifted by how far past their threshold, then
features that could not be judged, then the rest -- since that is the order a person
reading a report or a CI log should see them in.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal[
    "ok",  # judged, no drift
    "drift",  # judged, drifted
    "missing",  # in the baseline, absent from the window
    "no_data",  # present but with no values in this window (empty or all missing)
    "baseline_empty",  # every baseline value is missing, nothing to compare against
    "not_in_baseline",  # in the window (or asked for) but not in the baseline
    "unsupported",  # a type the engine does not compare (dates, nested values)
]
#: The feature statuses that are a verdict; every other one means "could not judge".
JUDGED: frozenset[str] = frozenset({"ok", "drift"})
WindowStatus = Literal["ok", "drift", "empty_window", "not_judged"]
#: Longest text taken from the data (names, categories) shown whole in a result.
MAX_TEXT = 200
#: Longest message or note (which may quote a name or a value) shown whole.
MAX_MESSAGE = 500
#: Not-judged features named in the window's ``reason``; the rest are counted.
REASON_FEATURES = 5
STATUS_ORDER: dict[str, int] = {
    "drift": 0,
    "missing": 1,
    "no_data": 2,
    "baseline_empty": 3,
    "not_in_baseline": 4,
    "unsupported": 5,
    "ok": 6,
}


@dataclass
class Histogram:
    """Baseline and current proportions over shared bins, for the report's charts.

    Numeric: ``labels`` are the bin edges (one more than the proportions; the first and
    last bins also hold values beyond them). Categorical: ``labels`` are categories.
    ``integer``: a numeric column of whole numbers, binned at half-integer edges so each
    bin holds whole values (no empty bins between integers); its labels are plain numbers.
    """

    labels: list[str]
    baseline: list[float]
    current: list[float]
    numeric: bool
    integer: bool = False


@dataclass
class FeatureResult:
    """One feature's verdict, the statistics behind it, and the counts it rests on."""

    name: str
    kind: str = ""
    status: Status = "ok"
    drifted: bool = False
    method: str = ""
    score: float | None = None
    threshold: float | None = None
    statistics: dict[str, float] = field(default_factory=dict)
    baseline_count: int = 0
    current_count: int = 0
    baseline_null_fraction: float | None = None
    current_null_fraction: float | None = None
    new_categories: list[str] = field(default_factory=list)
    new_category_fraction: float = 0.0
    #: Each listed new category's share of the current window (same order).
    new_category_shares: list[float] = field(default_factory=list)
    #: How many new categories there are in all (``new_categories`` lists the first ones).
    new_category_count: int = 0
    #: Exact moments of a numeric feature's present values, per side (None otherwise).
    baseline_mean: float | None = None
    baseline_std: float | None = None
    current_mean: float | None = None
    current_std: float | None = None
    message: str = ""
    histogram: Histogram | None = None

    def severity(self) -> float:
        """How far past (or short of) its threshold the feature is; larger is worse."""
        if self.score is None or self.threshold is None or math.isnan(self.score):
            return 0.0
        if self.method in ("ks", "chi2"):
            p = max(self.score, 1e-300)
            return math.log10(p) / math.log10(self.threshold) if self.threshold < 1 else 0.0
        return self.score / self.threshold if self.threshold > 0 else 0.0


@dataclass
class DriftResult:
    """The window's verdict: drifted when any judged feature drifted."""

    status: WindowStatus
    drifted: bool
    drifted_features: list[str]
    method: str
    baseline_source: str
    baseline_rows: int
    current_source: str
    current_rows: int
    features: list[FeatureResult]
    counts: dict[str, int]
    notes: list[str]
    generated_at: str
    #: Features with a verdict (status ``ok`` or ``drift``).
    judged: int = 0
    #: Names of the features that could not be judged, worst first.
    not_judged: list[str] = field(default_factory=list)
    #: Why nothing (or not everything) could be judged; empty when everything was.
    reason: str = ""

    @classmethod
    def build(
        cls,
        *,
        features: list[FeatureResult],
        method: str,
        baseline_source: str,
        baseline_rows: int,
        current_source: str,
        current_rows: int,
        notes: list[str],
        generated_at: str,
    ) -> DriftResult:
        """Order features worst first and derive the window's verdict from them."""
        features = [_bounded(f) for f in features]
        notes = [clip(n, MAX_MESSAGE) for n in notes]
        ordered = sorted(features, key=lambda f: (STATUS_ORDER[f.status], -f.severity(), f.name))
        drifted = [f.name for f in ordered if f.drifted]
        counts: dict[str, int] = {}
        for feature in ordered:
            counts[feature.status] = counts.get(feature.status, 0) + 1
        unjudged = [f for f in ordered if f.status not in JUDGED]
        judged = len(ordered) - len(unjudged)
        status: WindowStatus = "drift" if drifted else "ok"
        if current_rows == 0:
            status = "empty_window"
            notes = [*notes, "the current window has no rows"]
        elif judged == 0:
            status = "not_judged"
        return cls(
            status=status,
            drifted=bool(drifted),
            drifted_features=drifted,
            method=method,
            baseline_source=baseline_source,
            baseline_rows=baseline_rows,
            current_source=current_source,
            current_rows=current_rows,
            features=ordered,
            counts=counts,
            notes=notes,
            generated_at=generated_at,
            judged=judged,
            not_judged=[f.name for f in unjudged],
            reason=_reason(unjudged, notes, current_rows, total=len(ordered)),
        )

    @property
    def judged_nothing(self) -> bool:
        """Whether no feature got a verdict (an empty or unreadable window, or no features)."""
        return self.judged == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; NaN and infinities become null so any JSON parser accepts it."""
        cleaned = _finite(asdict(self))
        assert isinstance(cleaned, dict)
        return cleaned

    def summary_lines(self) -> list[str]:
        """A few lines for a terminal or a CI log."""
        total = len(self.features)
        unjudged = len(self.not_judged)
        if self.judged_nothing:
            verdict = f"could judge 0 of {total} features (why: {self.reason})"
            if self.status == "empty_window":
                verdict = f"empty window: {verdict}"
            else:
                verdict = f"NOT JUDGED: {verdict}"
        elif self.drifted:
            verdict = f"DRIFT in {len(self.drifted_features)} of {self.judged} judged features"
        else:
            verdict = f"no drift: judged {self.judged} features"
        if unjudged and not self.judged_nothing:
            verdict += f"; {unjudged} of {total} not judged"
        lines = [f"{verdict} ({self.current_rows} rows vs baseline of {self.baseline_rows})"]
        for feature in self.features:
            if feature.status == "ok":
                continue
            prefix = "" if feature.status in JUDGED else "not judged, "
            lines.append(f"  {feature.name}: {prefix}{describe(feature)}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return lines


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line, cut to ``limit`` characters with a count of what was cut."""
    flat = text if "\n" not in text and "\r" not in text else " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit]}\u2026 (+{len(flat) - limit} chars)"


def _bounded(feature: FeatureResult) -> FeatureResult:
    """The feature with every text from the data cut to size (names, categories, labels)."""
    feature.name = clip(feature.name)
    feature.message = clip(feature.message, MAX_MESSAGE)
    feature.new_categories = [clip(c) for c in feature.new_categories]
    if feature.histogram is not None:
        feature.histogram.labels = [clip(label) for label in feature.histogram.labels]
    return feature


def _reason(unjudged: list[FeatureResult], notes: list[str], rows: int, *, total: int) -> str:
    """Why features went unjudged: the window as a whole first, then feature by feature."""
    parts: list[str] = []
    if total == 0:
        parts.append("the baseline has no comparable features")
    elif rows == 0:
        parts.append("no rows in the current window")
    if rows > 0 or total == 0:
        shown = unjudged[:REASON_FEATURES]
        parts.extend(f"{f.name}: {f.message or f.status}" for f in shown)
        if len(unjudged) > len(shown):
            parts.append(f"{len(unjudged) - len(shown)} more not judged")
    parts.extend(n for n in notes if n != "the current window has no rows")
    return clip("; ".join(parts), 4 * MAX_MESSAGE) if unjudged or total == 0 else ""


def describe(feature: FeatureResult) -> str:
    """One feature's verdict in a few words."""
    if feature.score is None or feature.threshold is None:
        return f"{feature.status}: {feature.message}" if feature.message else feature.status
    score, limit = _number(feature.score), _number(feature.threshold)
    text = f"{feature.status} ({feature.method} {score} {_relation(feature)} {limit})"
    if feature.new_categories:
        text += f"; new categories: {', '.join(feature.new_categories[:5])}"
        more = max(feature.new_category_count, len(feature.new_categories)) - 5
        if more > 0:
            text += f" and {more} more"
    return text


def drift_rule(feature: FeatureResult) -> str:
    """Which way the feature's score reads, with its own threshold: tests give p-values
    (small is drift), distances give effect sizes (large is drift)."""
    if feature.threshold is None or not feature.method:
        return ""
    limit = _number(feature.threshold)
    if feature.method in ("ks", "chi2"):
        return f"p < {limit} means drift"
    return f"\u2265 {limit} means drift"


def _relation(feature: FeatureResult) -> str:
    if feature.method in ("ks", "chi2"):
        return "p <" if feature.drifted else "p >="
    return ">=" if feature.drifted else "<"


def _number(value: float) -> str:
    return f"{value:.3g}" if value == 0 or abs(value) >= 1e-3 else f"{value:.2e}"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
