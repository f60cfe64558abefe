"""``cloudserve monitor``: drift reports and one-shot drift checks from the command line.

``report`` writes ``report.json`` and a self-contained ``report.html``; ``run`` judges
one window now, prints a summary (or JSON), and exits 3 when anything drifted, 4 when
no feature could be judged at all (an empty window, or nothing in it parsed), 0 when
the features it judged did not drift, so a CI job or a scheduler can branch on it. Settings come from options,
or from a spec's ``monitoring.drift`` with ``--spec`` (options still win).

Only click is imported at module level: the CLI lists this group on every start, and
numpy and scipy load only when a subcommand actually runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cloudserve.cli import output_option
from cloudserve.local.settings import LocalSettings

if TYPE_CHECKING:
    from cloudserve.monitor.config import DriftConfig
    from cloudserve.monitor.result import DriftResult

#: Exit status of ``run`` when drift is found (the CLI's shared "gate failed" code).
EXIT_DRIFT = 3
#: Exit status of ``run`` when no feature could be judged: "no drift" was not shown.
EXIT_NOT_JUDGED = 4
#: Longest error message printed (it may quote a value from the data).
MAX_ERROR = 300
METHOD_CHOICES = ["auto", "psi", "ks", "chi2", "js", "wasserstein"]


def _window_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by ``report`` and ``run``: what to compare and how to judge it."""
    options = [
        # The spec is positional, as on every other verb; --spec stays as an alias.
        click.argument("spec_arg", required=False, metavar="[SPEC]", type=click.Path(exists=True)),
        click.option(
            "--spec",
            "spec",
            type=click.Path(exists=True),
            help="Same as the positional SPEC (kept for existing scripts).",
        ),
        click.option("--env", "env", help="Environment overlay of --spec."),
        click.option("--baseline", help="Training data (CSV/Parquet) or a stored profile (.npz)."),
        click.option(
            "--current",
            help="Capture logs (.jsonl or a folder), CSV or Parquet; with --spec on the local "
            "target, the deployment's capture folder by default.",
        ),
        click.option("--features", help="Comma-separated columns to watch (default: all)."),
        click.option("--method", type=click.Choice(METHOD_CHOICES), help="Drift statistic [default: auto]."),
        click.option("--threshold", type=float, help="Drift threshold (per method default when omitted)."),
        click.option(
            "--feature-threshold",
            "feature_thresholds",
            multiple=True,
            metavar="NAME=VALUE",
            help="Per-feature threshold; repeatable.",
        ),
        click.option("--profile", "profile_path", help="Where the baseline profile is stored."),
        click.option("--version", "version", help="Only capture records of this model version."),
        click.option(
            "--window",
            help="Only capture records from the last DURATION (30m, 1h, 1d); "
            "with --spec, one schedule interval by default.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group("monitor")
def monitor() -> None:
    """Drift monitoring: compare live traffic with the training data."""


@monitor.command("report")
@_window_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@output_option
@click.pass_context
def report(ctx: click.Context, /, out_dir: str, output: str, **window: Any) -> None:
    """Write report.json and a self-contained report.html for one window; exit codes as
    `run` (3 on drift, 4 when nothing could be judged), so CI can gate on either.

    SPEC (optional) is a spec file whose monitoring.drift settings are read."""
    from cloudserve.monitor.report import write_report

    result, _ = _evaluate(window)
    json_path, html_path = write_report(result, out_dir)
    if output == "json":
        click.echo(json.dumps({"status": result.status, "json": str(json_path), "html": str(html_path)}))
    else:
        for line in result.summary_lines():
            click.echo(line)
        click.echo(f"wrote {json_path} and {html_path}")
    _exit_with_verdict(ctx, result)


@monitor.command("run")
@_window_options
@click.option("--webhook", help="POST a summary here when drift is found.")
@output_option
@click.pass_context
def run(ctx: click.Context, /, webhook: str | None, output: str, **window: Any) -> None:
    """Judge one window now; exit 3 on drift, 4 when nothing could be judged, 0 otherwise.

    SPEC (optional) is a spec file whose monitoring.drift settings are read."""
    result, config = _evaluate(window)
    if output == "json":
        click.echo(json.dumps(result.to_dict()))
    else:
        for line in result.summary_lines():
            click.echo(line)
    target = webhook or config.webhook
    if result.drifted and target:
        from cloudserve.monitor.alert import AlertError, send_webhook

        try:
            send_webhook(target, result)
        except AlertError as exc:
            click.echo(f"warning: drift alert not delivered: {exc}", err=True)
    _exit_with_verdict(ctx, result)


def _exit_with_verdict(ctx: click.Context, result: DriftResult) -> None:
    if result.drifted:
        ctx.exit(EXIT_DRIFT)
    if result.judged_nothing:
        ctx.exit(EXIT_NOT_JUDGED)


def _evaluate(window: dict[str, Any]) -> tuple[DriftResult, DriftConfig]:
    """Resolve settings, profile the baseline if needed, and judge the window."""
    from cloudserve.monitor.config import parse_duration
    from cloudserve.monitor.engine import DriftOptions, evaluate
    from cloudserve.monitor.readers import SourceError
    from cloudserve.monitor.result import clip

    positional = window.pop("spec_arg", None)
    if positional and window["spec"] and positional != window["spec"]:
        raise click.UsageError("give the spec once: as SPEC or as --spec, not both")
    window["spec"] = positional or window["spec"]
    config = _config(window)
    current = window["current"]
    if not current and window["spec"]:
        current = _spec_capture(window["spec"], window["env"])
    if not current:
        raise click.UsageError("--current is required (or a --spec of a local deployment)")
    since = None
    if window["window"]:
        duration = parse_duration(window["window"])
        if duration is None:
            raise click.BadParameter(f"not a duration: {window['window']}", param_hint="--window")
        since = datetime.now(UTC) - duration
    elif window["spec"] and config.window is not None:
        since = datetime.now(UTC) - config.window  # one schedule interval, as a scheduled run
    options = DriftOptions(
        method=config.method,
        threshold=config.threshold,
        thresholds=config.thresholds,
        features=config.features,
    )
    try:
        result = evaluate(
            config.baseline,
            current,
            options,
            store=window["profile_path"],
            version=window["version"],
            since=since,
        )
    except (SourceError, ValueError, OSError) as exc:
        raise click.ClickException(clip(str(exc), MAX_ERROR)) from exc
    return result, config


def _config(window: dict[str, Any]) -> DriftConfig:
    """Options over the spec's ``monitoring.drift`` over built-in defaults."""
    from dataclasses import replace

    from cloudserve.monitor.config import DriftConfig, threshold_problems

    config = _spec_config(window["spec"], window["env"]) if window["spec"] else None
    baseline = window["baseline"] or (config.baseline if config else None)
    if not baseline:
        raise click.UsageError("--baseline is required (or a --spec with monitoring.drift)")
    config = replace(config, baseline=baseline) if config else DriftConfig(baseline=baseline)
    thresholds = dict(config.thresholds)
    for item in window["feature_thresholds"]:
        name, sep, value = item.partition("=")
        try:
            thresholds[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--feature-threshold")
    features = window["features"]
    method = window["method"] or config.method
    threshold = window["threshold"] if window["threshold"] is not None else config.threshold
    problems = threshold_problems(method, threshold, thresholds)
    if problems:
        raise click.BadParameter("; ".join(problems), param_hint="--threshold / --feature-threshold")
    return replace(
        config,
        features=tuple(f.strip() for f in features.split(",") if f.strip()) if features else config.features,
        method=method,
        threshold=threshold,
        thresholds=thresholds,
    )


def _spec_config(spec: str, env: str | None) -> DriftConfig:
    from cloudserve.monitor.config import DriftConfig
    from cloudserve.spec.loader import load_one

    deployment = load_one(spec, env=env)
    drift = deployment.spec.monitoring.drift
    if drift is None:
        raise click.UsageError(f"{spec} has no monitoring.drift section")
    config = DriftConfig.from_spec(drift)
    baseline = Path(config.baseline)
    if not baseline.is_absolute():
        base_dir = Path(spec) if Path(spec).is_dir() else Path(spec).parent
        baseline = base_dir / baseline
    from dataclasses import replace

    return replace(config, baseline=str(baseline))


def _spec_capture(spec: str, env: str | None) -> str:
    """Where a local deployment's server writes its capture log: the spec's
    ``capture.destination``, else ``capture/`` in the deployment's state directory (the
    folder the server's own drift schedule reads). Cloud targets keep captures in their
    storage, which this command does not download: they need ``--current``."""
    from cloudserve.artifacts import resolve_local
    from cloudserve.local.state import state_dir, state_root
    from cloudserve.spec.loader import load_one

    deployment = load_one(spec, env=env)
    if deployment.target != "local":
        raise click.UsageError(
            f"{spec} deploys to {deployment.target}: pass --current with its capture files"
        )
    capture = deployment.spec.capture
    if capture is not None and capture.destination:
        return str(resolve_local(capture.destination, deployment.source_dir or Path.cwd()))
    root = state_root(LocalSettings.of(deployment).state_dir)
    return str(state_dir(root, deployment.name).path / "capture")
