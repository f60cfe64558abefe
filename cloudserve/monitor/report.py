"""The drift report: ``report.json`` for machines, ``report.html`` for people.

The HTML page is one file with inline CSS and inline SVG charts -- no scripts, fonts or
CDNs -- so it opens the same from a CI artifact, an email attachment or an air-gapped
laptop. It leads with the verdict and a summary table, then shows each feature's
baseline and current distributions overlaid, drifted features first (the result's
own order).
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path

from cloudserve.monitor.result import DriftResult, FeatureResult, Histogram, describe, drift_rule

BASELINE_COLOR = "#2563eb"
CURRENT_COLOR = "#ea580c"
STATUS_COLORS = {
    "drift": "#b91c1c",
    "ok": "#15803d",
    "missing": "#a16207",
    "no_data": "#a16207",
    "baseline_empty": "#a16207",
    "not_in_baseline": "#6b7280",
    "unsupported": "#6b7280",
}
LISTED_NOT_JUDGED = 50
#: New categories named in the summary table; the card lists every one the result keeps.
TABLE_NEW_CATEGORIES = 3
#: A change in the missing rate this large (in fractions of rows) is highlighted.
MISSING_JUMP = 0.05
#: Longest axis title taken from a feature name.
AXIS_TITLE_CHARS = 60
CHART_WIDTH, PLOT_HEIGHT = 640, 140
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP = 58, 34, 10
#: The x axis line; tick labels and the axis title go below it, the chart grows to fit.
BASE_Y = MARGIN_TOP + PLOT_HEIGHT
#: Category labels longer than this are drawn slanted so neighbours do not overlap.
UPRIGHT_LABEL_CHARS = 6
CATEGORY_LABEL_CHARS = 14

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #111827; margin: 24px auto; max-width: 1040px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #4b5563; margin: 2px 0; }
.verdict { padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 14px 0; }
.verdict.drift { background: #fee2e2; color: #991b1b; }
.verdict.ok { background: #dcfce7; color: #166534; }
.verdict.empty_window, .verdict.not_judged { background: #fef9c3; color: #854d0e; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e5e7eb; }
th { background: #f9fafb; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
         font-size: 12px; font-weight: 600; }
.feature { border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px; margin: 14px 0; }
.feature h3 { margin: 0 0 4px; font-size: 16px; }
.why { color: #374151; margin: 0 0 8px; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; color: #374151; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.stats { color: #4b5563; font-size: 12px; margin-top: 6px; }
.facts { color: #374151; margin: 0 0 6px; font-size: 13px; }
.jump { color: #b91c1c; font-weight: 600; }
.rule { color: #6b7280; font-size: 12px; white-space: nowrap; }
ul.notes { color: #4b5563; }
footer { color: #6b7280; font-size: 12px; margin-top: 28px; }
"""


def write_report(result: DriftResult, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return both paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "report.json", folder / "report.html"
    json_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_html(result), encoding="utf-8")
    return json_path, html_path


def render_html(result: DriftResult) -> str:
    """The whole page as one string."""
    verdict = result.summary_lines()[0]
    notes = "".join(f"<li>{escape(n)}</li>" for n in result.notes)
    if result.not_judged:
        unjudged = ", ".join(result.not_judged[:LISTED_NOT_JUDGED])
        if len(result.not_judged) > LISTED_NOT_JUDGED:
            unjudged += f" and {len(result.not_judged) - LISTED_NOT_JUDGED} more"
        notes = f"<li>not judged: {escape(unjudged)}</li>{notes}"
    sections = "".join(_feature_section(f) for f in result.features)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drift report: {escape(verdict)}</title><style>{CSS}</style></head>
<body>
<h1>Drift report</h1>
<p class="meta">Baseline: {escape(result.baseline_source or "(in memory)")} &middot;
{result.baseline_rows:,} rows</p>
<p class="meta">Current: {escape(result.current_source or "(in memory)")} &middot;
{result.current_rows:,} rows &middot; method: {escape(result.method)} &middot;
generated {escape(result.generated_at)}</p>
<div class="verdict {escape(result.status)}">{escape(verdict)}</div>
{f'<ul class="notes">{notes}</ul>' if notes else ""}
<h2>Summary</h2>
{_summary_table(result)}
<h2>Features</h2>
<p class="legend"><span><i class="swatch" style="background:{BASELINE_COLOR}"></i>baseline</span>
<span><i class="swatch" style="background:{CURRENT_COLOR}"></i>current</span></p>
{sections}
<footer>cloudserve drift report. Distances (psi, js, wasserstein) drift at score &ge; threshold;
tests (ks, chi2) drift at p-value &lt; threshold. Wasserstein is divided by the baseline's
standard deviation. Bars are shares of the rows where the feature has a value; each card
gives the missing rate of both sides.</footer>
</body></html>
"""


def _badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#6b7280")
    return f'<span class="badge" style="background:{color}">{escape(status)}</span>'


def _fmt(value: float | None) -> str:
    if value is None or value != value:
        return "&ndash;"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _percent(value: float | None) -> str:
    return "&ndash;" if value is None else f"{100 * value:.1f}%"


def _summary_table(result: DriftResult) -> str:
    rows = []
    for f in result.features:
        rule = drift_rule(f) if f.score is not None else ""
        rows.append(
            f"<tr><td><a href='#f-{escape(f.name)}'>{escape(f.name)}</a></td>"
            f"<td>{escape(f.kind or '')}</td><td>{_badge(f.status)}</td>"
            f"<td>{escape(f.method or '')}</td><td class='num'>{_fmt(f.score)}"
            f"{f'<br><span class=rule>{escape(rule)}</span>' if rule else ''}</td>"
            f"<td class='num'>{_fmt(f.threshold)}</td>"
            f"<td class='num'>{f.baseline_count:,}</td><td class='num'>{f.current_count:,}</td>"
            f"<td class='num'>{_missing(f)}</td><td>{_table_new_categories(f)}</td></tr>"
        )
    head = (
        "<tr><th>Feature</th><th>Kind</th><th>Status</th><th>Method</th><th>Score</th>"
        "<th>Threshold</th><th>Baseline n</th><th>Current n</th><th>Missing</th>"
        "<th>New categories</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _new_total(feature: FeatureResult) -> int:
    # Results made before the count existed only have the listed names.
    return max(feature.new_category_count, len(feature.new_categories))


def _table_new_categories(feature: FeatureResult) -> str:
    """A few names, then how many more there are, never a silent cut."""
    shown = escape(", ".join(feature.new_categories[:TABLE_NEW_CATEGORIES]))
    more = _new_total(feature) - min(len(feature.new_categories), TABLE_NEW_CATEGORIES)
    return f"{shown} and {more:,} more" if more > 0 else shown


def _missing(feature: FeatureResult) -> str:
    """Baseline &rarr; current missing rate, marked when it jumps."""
    before, after = feature.baseline_null_fraction, feature.current_null_fraction
    text = f"{_percent(before)} &rarr; {_percent(after)}"
    if before is not None and after is not None and abs(after - before) >= MISSING_JUMP:
        return f'<span class="jump">{text}</span>'
    return text


def _feature_section(feature: FeatureResult) -> str:
    new = frozenset(feature.new_categories)
    chart = _chart(feature.histogram, feature.name, new) if feature.histogram is not None else ""
    stats = ", ".join(f"{k} {_fmt(v)}" for k, v in feature.statistics.items())
    why = escape(describe(feature))
    rule = drift_rule(feature) if feature.score is not None else ""
    if rule:
        why += f' <span class="rule">({escape(rule)})</span>'
    if feature.message and feature.score is not None:
        why += f" &middot; {escape(feature.message)}"
    facts = "".join(f'<p class="facts">{line}</p>' for line in _facts(feature))
    return (
        f'<div class="feature" id="f-{escape(feature.name)}">'
        f"<h3>{escape(feature.name)} {_badge(feature.status)}</h3>"
        f'<p class="why">{why}</p>{facts}{chart}'
        f"{f'<p class=stats>{stats}</p>' if stats else ''}</div>"
    )


def _facts(feature: FeatureResult) -> list[str]:
    """The numbers a reader checks first: missing rate, moments, new categories."""
    lines = [f"missing (baseline &rarr; current): {_missing(feature)}"]
    if feature.baseline_mean is not None or feature.current_mean is not None:
        lines.append(_moments(feature))
    if feature.new_categories:
        shares = feature.new_category_shares
        listed = ", ".join(
            escape(name) + (f" ({_share(shares[i])})" if i < len(shares) else "")
            for i, name in enumerate(feature.new_categories)
        )
        total = _new_total(feature)
        more = total - len(feature.new_categories)
        lines.append(
            f"new categories ({total:,}, {_share(feature.new_category_fraction)} of current): {listed}"
            + (f" and {more:,} more" if more > 0 else "")
        )
    return lines


def _moments(feature: FeatureResult) -> str:
    """Both sides' mean and std, the means to a hundredth of the smaller std, so two
    means that differ where it matters never print the same (1000.0012 vs 1000.0031)."""
    stds = [v for v in (feature.baseline_std, feature.current_std) if v is not None and v > 0]
    resolution = min(stds) / 100 if stds else None

    def number(value: float | None) -> str:
        if value is None or value != value:
            return "&ndash;"
        if resolution is None or not 1e-6 <= abs(value) + resolution < 1e15:
            return _fmt(value)
        return f"{value:,.{max(0, math.ceil(-math.log10(resolution)))}f}"

    def std(value: float | None) -> str:
        if value is None or value != value or value == 0 or not 1e-6 <= value < 1e15:
            return _fmt(value)
        return f"{value:,.{max(0, 2 - math.floor(math.log10(value)))}f}"  # 3 significant digits

    return (
        f"baseline mean {number(feature.baseline_mean)}, std {std(feature.baseline_std)}"
        f" &middot; current mean {number(feature.current_mean)}, std {std(feature.current_std)}"
    )


def _share(value: float) -> str:
    """A share that stays visible when small: 0.04%, not 0.0%."""
    if value == 0:
        return "0%"
    return f"{100 * value:.1f}%" if value >= 0.01 else f"{100 * value:.2g}%"


def _chart(histogram: Histogram, name: str, new: frozenset[str] = frozenset()) -> str:
    title = name if len(name) <= AXIS_TITLE_CHARS else name[: AXIS_TITLE_CHARS - 1] + "\u2026"
    if histogram.numeric:
        return _numeric_chart(histogram, title)
    return _category_chart(histogram, title, new)


def _frame(peak: float, inner: str, x_labels: str, x_title: str, *, title_y: float) -> str:
    """Axes with their titles, the peak proportion on the y axis, and the caller's bars."""
    plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    base_y = BASE_Y
    mid_y = (MARGIN_TOP + base_y) / 2
    height = round(title_y + 8)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" role="img" font-size="11" '
        f'font-family="system-ui, sans-serif">'
        f'<line x1="{MARGIN_LEFT}" y1="{base_y}" x2="{MARGIN_LEFT + plot_w}" y2="{base_y}" '
        f'stroke="#9ca3af"/>'
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{base_y}" stroke="#9ca3af"/>'
        f'<text x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + 8}" text-anchor="end" fill="#6b7280">'
        f"{_axis_percent(peak)}</text>"
        f'<text x="{MARGIN_LEFT - 4}" y="{base_y}" text-anchor="end" fill="#6b7280">0</text>'
        f'<text x="14" y="{mid_y:.1f}" text-anchor="middle" fill="#374151" '
        f'transform="rotate(-90 14 {mid_y:.1f})">share of rows</text>'
        f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{title_y:.1f}" text-anchor="middle" '
        f'fill="#374151" font-weight="600">{escape(x_title)}</text>'
        f"{inner}{x_labels}</svg>"
    )


def _axis_percent(peak: float) -> str:
    return f"{100 * peak:.0f}%" if peak >= 0.1 else f"{100 * peak:.2g}%"


def _numeric_chart(histogram: Histogram, title: str) -> str:
    """Two overlaid histograms: filled baseline, outlined translucent current."""
    peak = max([*histogram.baseline, *histogram.current, 1e-12])
    plot_h, base_y = PLOT_HEIGHT, BASE_Y
    xs = _bar_positions(histogram)
    parts = []
    for index, (b, c) in enumerate(zip(histogram.baseline, histogram.current, strict=True)):
        x, width = xs[index], xs[index + 1] - xs[index]
        hb, hc = plot_h * b / peak, plot_h * c / peak
        parts.append(
            f'<rect x="{x:.1f}" y="{base_y - hb:.1f}" width="{width - 1:.1f}" height="{hb:.1f}" '
            f'fill="{BASELINE_COLOR}" fill-opacity="0.45"/>'
            f'<rect x="{x:.1f}" y="{base_y - hc:.1f}" width="{width - 1:.1f}" height="{hc:.1f}" '
            f'fill="{CURRENT_COLOR}" fill-opacity="0.35" stroke="{CURRENT_COLOR}" stroke-width="1"/>'
        )
    ticks = _integer_ticks(histogram, xs) if histogram.integer else _edge_ticks(histogram, xs)
    labels = [
        f'<text x="{x:.1f}" y="{base_y + 14}" text-anchor="middle" fill="#374151">{escape(text)}</text>'
        for x, text in ticks
    ]
    return _frame(peak, "".join(parts), "".join(labels), title, title_y=base_y + 32)


def _bar_positions(histogram: Histogram) -> list[float]:
    """Where each bin edge falls: on a linear value scale for whole-number bins (whose
    last bin may be narrower), evenly spaced otherwise (their bins are equal-width)."""
    plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    bins = len(histogram.baseline)
    if histogram.integer and bins:
        edges = [float(label) for label in histogram.labels]
        span = (edges[-1] - edges[0]) or 1.0
        return [MARGIN_LEFT + plot_w * (e - edges[0]) / span for e in edges]
    return [MARGIN_LEFT + plot_w * i / max(1, bins) for i in range(bins + 1)]


def _edge_ticks(histogram: Histogram, xs: list[float]) -> list[tuple[float, str]]:
    """About six bin edges, labelled as the engine wrote them."""
    bins = len(histogram.baseline)
    step = max(1, bins // 6)
    return [(xs[i], histogram.labels[i]) for i in range(0, bins + 1, step)]


def _integer_ticks(histogram: Histogram, xs: list[float]) -> list[tuple[float, str]]:
    """Whole-number bins are labelled at their centres by the values they hold ("18" or
    "18-20"), since their half-integer edges are not values anyone has."""
    edges = [float(label) for label in histogram.labels]
    bins = len(edges) - 1
    per_bin = round(edges[1] - edges[0]) if bins else 1
    step = max(1, -(-bins // (10 if per_bin == 1 else 6)))
    ticks = []
    for i in range(0, bins, step):
        first, last = round(edges[i] + 0.5), round(edges[i + 1] - 0.5)
        text = f"{first}" if first == last else f"{first}\u2013{last}"
        ticks.append(((xs[i] + xs[i + 1]) / 2, text))
    return ticks


def _category_chart(histogram: Histogram, title: str, new: frozenset[str] = frozenset()) -> str:
    """Side-by-side bars per category, baseline then current; new categories' names in
    the current colour, marked "(new)", since their bars may be too small to see."""
    count = max(1, len(histogram.labels))
    peak = max([*histogram.baseline, *histogram.current, 1e-12])
    plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h, base_y = PLOT_HEIGHT, BASE_Y
    slot = plot_w / count
    bar = min(28.0, slot * 0.4)
    names = [_category_label(label, label in new) for label in histogram.labels]
    slanted = any(len(name) > UPRIGHT_LABEL_CHARS for name in names)
    parts, labels = [], []
    for index, label in enumerate(histogram.labels):
        left = MARGIN_LEFT + index * slot + slot / 2 - bar
        for offset, (value, color) in enumerate(
            ((histogram.baseline[index], BASELINE_COLOR), (histogram.current[index], CURRENT_COLOR))
        ):
            height = plot_h * value / peak
            parts.append(
                f'<rect x="{left + offset * bar:.1f}" y="{base_y - height:.1f}" width="{bar - 1:.1f}" '
                f'height="{height:.1f}" fill="{color}" fill-opacity="0.75">'
                f"<title>{escape(label)}: {_share(value)}</title></rect>"
            )
        x = MARGIN_LEFT + index * slot + slot / 2
        fill = CURRENT_COLOR if label in new else "#374151"
        turn = f' transform="rotate(-30 {x:.1f} {base_y + 14})"' if slanted else ""
        labels.append(
            f'<text x="{x:.1f}" y="{base_y + 14}" text-anchor="{"end" if slanted else "middle"}" '
            f'fill="{fill}"{turn}>{escape(names[index])}</text>'
        )
    # A slanted label drops half its length (sin 30 degrees) at about 6 px a character.
    drop = max((len(n) for n in names), default=0) * 3.1 if slanted else 0.0
    return _frame(peak, "".join(parts), "".join(labels), title, title_y=base_y + 32 + drop)


def _category_label(label: str, new: bool) -> str:
    short = label if len(label) <= CATEGORY_LABEL_CHARS else label[: CATEGORY_LABEL_CHARS - 1] + "\u2026"
    return f"{short} (new)" if new else short
