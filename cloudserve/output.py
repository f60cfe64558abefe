"""Human output for plans and status: a readable diff, coloured only on a terminal."""

from __future__ import annotations

import json
from typing import Any

import click

from cloudserve.errors import bounded
from cloudserve.planner import ActionKind, Plan
from cloudserve.rollout.record import STATE_WORDS

_SYMBOL = {
    ActionKind.CREATE: ("+", "green"),
    ActionKind.UPDATE: ("~", "yellow"),
    ActionKind.REPLACE: ("-/+", "magenta"),
    ActionKind.DELETE: ("-", "red"),
}


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def echo_json(data: Any) -> None:
    """What every command prints for --output json."""
    click.echo(dumps(data))


def format_value(value: Any) -> str:
    """The one rendering of maps and lists in text output: {stable: 90, candidate: 10}."""
    return _fmt(value)


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return "-" if value is None else str(value)


def _price(note: Any) -> str:
    if note is None:
        return ""
    parts = []
    if note.instance_type:
        parts.append(note.instance_type)
    if note.hourly_price_usd is not None:
        parts.append(f"${note.hourly_price_usd:.4g}/h per replica")
        if note.replicas and note.replicas > 1:
            parts.append(f"${note.hourly_price_at_min_usd:.4g}/h at {note.replicas} replicas")
    return f"  ({', '.join(parts)})" if parts else ""


def render_plan(plan: Plan) -> str:
    lines = [
        click.style(f"deployment {plan.deployment} on {plan.target}", bold=True)
        + (" (offline: planned from scratch)" if plan.offline else "")
    ]
    used = [
        f"{k}: {c.support.value}"
        + (f" ({c.reason})" if c.reason and c.support.value not in ("native", "ignored") else "")
        for k, c in plan.capabilities.items()
        if k in plan.used_features
    ]
    if used:
        lines.append(click.style("  features: ", dim=True) + "; ".join(used))
    if plan.rollout_reason and plan.actions:
        lines.append(click.style("  rollout: ", dim=True) + f"{plan.rollout_mode} ({plan.rollout_reason})")
    lines.extend(click.style(f"  ! {ignored}", fg="yellow") for ignored in plan.ignored)
    if plan.rollout_blocked:
        lines.append(click.style(f"  ! {bounded(plan.rollout_blocked)}", fg="yellow"))
    if not plan.actions:
        lines.append(click.style("No changes. The target matches the spec.", fg="green"))
        return "\n".join(lines)
    for action in plan.actions:
        symbol, colour = _SYMBOL[action.kind]
        head = f"{symbol} {action.kind.value} {action.resource} {action.subject}"
        lines.append(
            click.style(head, fg=colour, bold=True)
            + _price(action.note)
            + click.style(f"  # {action.reason}" if action.reason else "", dim=True)
        )
        for version, note in action.version_notes.items():
            lines.append(f"    version {version}{_price(note)}")
            lines.extend(f"      note: {n}" for n in note.notes)
        for change in action.changes:
            lines.append(f"    {change.field}: {_fmt(change.before)} -> {_fmt(change.after)}")
        if action.note is not None:
            lines.extend(f"    note: {n}" for n in action.note.notes)
        for op in action.operations:
            lines.append(click.style(f"    calls {op}", dim=True))
    counts: dict[str, int] = {}
    for action in plan.actions:
        counts[action.kind.value] = counts.get(action.kind.value, 0) + 1
    lines.append("Plan: " + ", ".join(f"{n} to {k}" for k, n in counts.items()) + ".")
    return "\n".join(lines)


def render_status(result: Any) -> str:
    if not result.exists:
        return f"deployment {result.deployment} on {result.target}: not deployed"
    colour = "green" if result.status == "ready" and result.in_sync else "yellow"
    if result.status in ("failed", "stopped"):
        colour = "red"
    lines = [
        click.style(
            f"deployment {result.deployment} on {result.target}: {result.status}",
            fg=colour,
            bold=True,
        )
        + ("" if result.in_sync else click.style("  (differs from the spec; run apply)", fg="yellow"))
    ]
    if result.url:
        lines.append(f"  url: {result.url}")
    if result.failure_reason:
        lines.append(click.style(f"  failure: {bounded(result.failure_reason)}", fg="red"))
    lines.append(f"  traffic: {_fmt(result.traffic)}")
    if result.mirror:
        lines.append(f"  mirror: {_fmt(result.mirror)}")
    for v in result.versions:
        line = f"  version {v.name}: {v.status}, {v.traffic}% traffic"
        if v.instance_type:
            line += f", {v.instance_type}"
        if not v.in_sync:
            line += click.style(" (out of date)", fg="yellow")
        if v.failure_reason:
            line += click.style(f" - {bounded(v.failure_reason)}", fg="red")
        lines.append(line)
    if result.rollout:
        lines.extend(render_rollout_record(result.rollout))
    if result.lease:
        lines.append(f"  lease held by {result.lease['holder']}")
    for p in result.pending:
        lines.append(click.style(f"  pending: {p}", fg="yellow"))
    return "\n".join(lines)


def render_rollout_record(record: dict[str, Any]) -> list[str]:
    """The rollout record of `status` and `rollout status`, in words."""
    colour = {"rolledback": "red", "aborted": "red", "paused": "yellow"}.get(record["state"], "cyan")
    steps = " -> ".join(f"{s}%" for s in record["steps"])
    lines = [
        click.style(f"  rollout {STATE_WORDS.get(record['state'], record['state'])}", fg=colour, bold=True)
        + f" at step {record['step']} of {len(record['steps'])} ({steps}): "
        + f"{_fmt(_nonzero(record['previous']))} -> {_fmt(_nonzero(record['target']))}"
    ]
    if record.get("reason"):
        lines.append(click.style(f"    reason: {bounded(record['reason'])}", fg=colour))
    if record.get("new_versions"):
        lines.append(f"    versions added by this rollout: {', '.join(record['new_versions'])}")
    return lines


def _nonzero(split: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in split.items() if v}
