"""The drift report: ``report.json`` for machines, ``report.html`` for people.

The HTML page is one file with inline CSS and inline SVG charts -- no scripts, fonts or
CDNs -- so it opens the same from a CI artifact, an email attachment or an air-gapped
laptop. It leads with the verdict and a summary table, then shows each feature's
baseline and current distributions overlaid, drifted features first (the result's
own order).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from cloudserve.monitor.result import DriftResult, FeatureResult, Histogram, describe

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
CHART_WIDTH, CHART_HEIGHT = 640, 190
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM, MARGIN_TOP = 44, 34, 46, 10

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
standard deviation.</footer>
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
        new = ", ".join(f.new_categories[:3]) + (" &hellip;" if len(f.new_categories) > 3 else "")
        rows.append(
            f"<tr><td><a href='#f-{escape(f.name)}'>{escape(f.name)}</a></td>"
            f"<td>{escape(f.kind or '')}</td><td>{_badge(f.status)}</td>"
            f"<td>{escape(f.method or '')}</td><td class='num'>{_fmt(f.score)}</td>"
            f"<td class='num'>{_fmt(f.threshold)}</td>"
            f"<td class='num'>{f.baseline_count:,}</td><td class='num'>{f.current_count:,}</td>"
            f"<td class='num'>{_percent(f.baseline_null_fraction)} &rarr; "
            f"{_percent(f.current_null_fraction)}</td><td>{escape(new) if new else ''}</td></tr>"
        )
    head = (
        "<tr><th>Feature</th><th>Kind</th><th>Status</th><th>Method</th><th>Score</th>"
        "<th>Threshold</th><th>Baseline n</th><th>Current n</th><th>Missing</th>"
        "<th>New categories</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _feature_section(feature: FeatureResult) -> str:
    chart = _chart(feature.histogram) if feature.histogram is not None else ""
    stats = ", ".join(f"{k} {_fmt(v)}" for k, v in feature.statistics.items())
    why = escape(describe(feature))
    if feature.message and feature.score is not None:
        why += f" &middot; {escape(feature.message)}"
    return (
        f'<div class="feature" id="f-{escape(feature.name)}">'
        f"<h3>{escape(feature.name)} {_badge(feature.status)}</h3>"
        f'<p class="why">{why}</p>{chart}'
        f"{f'<p class=stats>{stats}</p>' if stats else ''}</div>"
    )


def _chart(histogram: Histogram) -> str:
    if histogram.numeric:
        return _numeric_chart(histogram)
    return _category_chart(histogram)


def _frame(peak: float, inner: str, x_labels: str) -> str:
    """Axes, the peak proportion on the y axis, and the bars drawn by the caller."""
    plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    base_y = CHART_HEIGHT - MARGIN_BOTTOM
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" font-size="11" '
        f'font-family="system-ui, sans-serif">'
        f'<line x1="{MARGIN_LEFT}" y1="{base_y}" x2="{MARGIN_LEFT + plot_w}" y2="{base_y}" '
        f'stroke="#9ca3af"/>'
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{base_y}" stroke="#9ca3af"/>'
        f'<text x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + 8}" text-anchor="end" fill="#6b7280">'
        f"{100 * peak:.0f}%</text>"
        f'<text x="{MARGIN_LEFT - 4}" y="{base_y}" text-anchor="end" fill="#6b7280">0</text>'
        f"{inner}{x_labels}</svg>"
    )


def _numeric_chart(histogram: Histogram) -> str:
    """Two overlaid histograms: filled baseline, outlined translucent current."""
    bins = len(histogram.baseline)
    peak = max([*histogram.baseline, *histogram.current, 1e-12])
    plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = CHART_HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    width = plot_w / bins
    base_y = CHART_HEIGHT - MARGIN_BOTTOM
    parts = []
    for index, (b, c) in enumerate(zip(histogram.baseline, histogram.current, strict=True)):
        x = MARGIN_LEFT + index * width
        hb, hc = plot_h * b / peak, plot_h * c / peak
        parts.append(
            f'<rect x="{x:.1f}" y="{base_y - hb:.1f}" width="{width - 1:.1f}" height="{hb:.1f}" '
            f'fill="{BASELINE_COLOR}" fill-opacity="0.45"/>'
            f'<rect x="{x:.1f}" y="{base_y - hc:.1f}" width="{width - 1:.1f}" height="{hc:.1f}" '
            f'fill="{CURRENT_COLOR}" fill-opacity="0.35" stroke="{CURRENT_COLOR}" stroke-width="1"/>'
        )
    labels = []
    for index in range(0, bins + 1, max(1, bins // 6)):
        x = MARGIN_LEFT + index * width
        labels.append(
            f'<text x="{x:.1f}" y="{base_y + 14}" text-anchor="middle" fill="#374151">'
            f"{escape(histogram.labels[index])}</text>"
        )
    return _frame(peak, "".join(parts), "".join(labels))


def _category_chart(histogram: Histogram) -> str:
    """Side-by-side bars per category, baseline then current."""
    count = max(1, len(histogram.labels))
    peak = max([*histogram.baseline, *histogram.current, 1e-12])
    plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = CHART_HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    slot = plot_w / count
    bar = min(28.0, slot * 0.4)
    base_y = CHART_HEIGHT - MARGIN_BOTTOM
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
                f"<title>{escape(label)}: {100 * value:.1f}%</title></rect>"
            )
        short = label if len(label) <= 14 else label[:13] + "\u2026"
        x = MARGIN_LEFT + index * slot + slot / 2
        labels.append(
            f'<text x="{x:.1f}" y="{base_y + 14}" text-anchor="end" fill="#374151" '
            f'transform="rotate(-30 {x:.1f} {base_y + 14})">{escape(short)}</text>'
        )
    return _frame(peak, "".join(parts), "".join(labels))
