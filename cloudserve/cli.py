"""The `cloudserve` command line.

Exit codes a CI job can branch on: 0 success; 1 error; 2 invalid spec or usage;
3 rollout failed (rolled back) or drift found; 4 not found; 5 conflict (busy, locked);
6 authentication; 7 timeout. `plan --detailed-exitcode`: 0 no changes, 2 changes, 1 error.
Subcommands are imported on first use so that `cloudserve validate` stays fast.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

import click

from cloudserve.errors import CloudServeError, InvalidInput, bounded, one_line

if TYPE_CHECKING:
    from cloudserve.spec.models import Deployment

# name -> (module:attribute, one-line help shown by --help without importing the module)
LAZY_COMMANDS = {
    "serve": ("cloudserve.serving.command:serve", "Run the model server a cloud container runs."),
    "package": ("cloudserve.serving.command:package", "Write a container build context for a model."),
    "monitor": ("cloudserve.monitor.command:monitor", "Compute drift and write reports."),
    "rollout": ("cloudserve.rollout.command:rollout", "Inspect and steer a rollout in progress."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name][0].split(":")
            try:
                return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
            except ImportError as exc:
                from cloudserve.install import install_hint

                raise click.ClickException(
                    f"'{cmd_name}' needs the serving extras: {install_hint('cloudserve[serve]')} ({exc})"
                ) from exc
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, LAZY_COMMANDS[name][1])
            if name in LAZY_COMMANDS
            else (name, self.commands[name].get_short_help_str(60))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


SPEC_HELP = "SPEC is a spec file or a directory of them (default: cloudserve.yaml)."


def spec_argument(f: Any) -> Any:
    """The positional spec every verb takes; click arguments carry no help, so the
    default is named in the command's own help text."""
    doc = inspect.cleandoc(f.__doc__ or "")
    f.__doc__ = f"{doc}\n\n{SPEC_HELP}" if doc else SPEC_HELP
    return click.argument(
        "spec", default="cloudserve.yaml", metavar="[SPEC]", type=click.Path(dir_okay=True)
    )(f)


env_option = click.option("--env", "env", help="Apply this environment overlay from the spec.")


class TargetName(click.ParamType[str]):
    """An installed or bundled target, read from entry points only when the option is used
    (a click.Choice would scan them on every start)."""

    name = "target"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from cloudserve.spec import targets

        if value not in targets.known():
            self.fail(targets.unknown_target_message(value, "--target"), param, ctx)
        return str(value)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        from cloudserve.spec import targets

        return "[" + "|".join(targets.known()) + "]"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        from cloudserve.spec import targets

        return [CompletionItem(name) for name in targets.known() if name.startswith(incomplete)]


target_option = click.option(
    "--target",
    type=TargetName(),
    help="Override the spec's target (after CLOUDSERVE_TARGET).",
)
output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json for machines.",
)


def _echo_json(data: Any) -> None:
    from cloudserve.output import echo_json  # lazily: output imports the planner

    echo_json(data)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="cloudserve")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Deploy ML models from one spec to SageMaker, Vertex AI, Azure ML or locally."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@spec_argument
@env_option
@target_option
@output_option
def validate(spec: str, env: str | None, target: str | None, output: str) -> None:
    """Check spec files without contacting any target.

    Every environment overlay in the files is checked too, unless --env names one. With
    --target, that target's offline rules run as well (what `plan --offline` would refuse,
    missing extras included), so a green validate in CI means plan will accept the spec."""
    from cloudserve.spec.loader import load, load_every_environment

    if env is not None:
        checked: list[tuple[str | None, Deployment]] = [(env, d) for d in load(spec, env=env, target=target)]
    else:
        checked = load_every_environment(spec, target=target)
    if target is not None:
        _target_rules(checked)
    by_name: dict[str, list[str]] = {}
    for overlay, d in checked:
        by_name.setdefault(d.name, [])
        if overlay is not None:
            by_name[d.name].append(overlay)
    deployments = [d for overlay, d in checked if overlay is None or env is not None]
    if output == "json":
        _echo_json(
            {
                "valid": True,
                "target_rules": target is not None,
                "deployments": [
                    {"name": d.name, "target": d.target, "environments": by_name[d.name]} for d in deployments
                ],
            }
        )
        return
    for d in deployments:
        envs = by_name[d.name]
        also = f"; environments: {', '.join(envs)}" if envs and env is None else ""
        rules = f"; {d.target} offline rules" if target is not None else ""
        click.echo(
            f"{click.style('ok', fg='green')}  {d.name} (target {d.target}, "
            f"versions: {', '.join(d.spec.versions)}{also}{rules})"
        )


def _target_rules(checked: list[tuple[str | None, Deployment]]) -> None:
    """Run the target's offline plan for each checked deployment; every refusal becomes a
    located problem of one InvalidSpec (a missing SDK extra included, with its install)."""
    from cloudserve import api
    from cloudserve.errors import CloudServeError, InvalidSpec, SpecProblem, render_problems

    problems: list[SpecProblem] = []
    seen: set[tuple[object, ...]] = set()  # an overlay repeating the base's problem adds nothing
    for overlay, deployment in checked:
        try:
            api.plan(deployment, offline=True)
            continue
        except InvalidSpec as exc:
            found = exc.problems or [SpecProblem(exc.message, file=deployment.source_file, hint=exc.hint)]
        except CloudServeError as exc:
            found = [SpecProblem(exc.message, file=deployment.source_file, hint=exc.hint)]
        for p in found:
            key = (deployment.name, p.file, p.line, p.field, p.message)
            if key in seen:
                continue
            seen.add(key)
            if overlay:
                p.message = f"with environment {overlay}: {p.message}"
            problems.append(p)
    if problems:
        raise InvalidSpec(render_problems(problems), problems=problems)


@cli.command()
@spec_argument
@env_option
@target_option
@output_option
@click.option("--offline", is_flag=True, help="Plan from scratch without contacting the target.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 no changes, 2 changes, 1 error.")
@click.pass_context
def plan(
    ctx: click.Context,
    spec: str,
    env: str | None,
    target: str | None,
    output: str,
    offline: bool,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would change, and the cloud calls it implies."""
    from cloudserve import api
    from cloudserve.output import render_plan

    ctx.obj["detailed_exitcode"] = detailed_exitcode
    plans = [api.plan(d, offline=offline) for d in api.load(spec, env=env, target=target)]
    if output == "json":
        _echo_json(plans[0].to_dict() if len(plans) == 1 else [p.to_dict() for p in plans])
    else:
        click.echo("\n\n".join(render_plan(p) for p in plans))
    if detailed_exitcode and any(p.has_changes for p in plans):
        ctx.exit(2)


@cli.command()
@spec_argument
@env_option
@target_option
@output_option
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait for the target.")
@click.option(
    "--yes",
    "-y",
    "--auto-approve",
    "yes",
    is_flag=True,
    help="Apply without asking. Only a terminal is asked; off a terminal (CI) apply never asks.",
)
@click.option("--poll", default=15.0, show_default=True, help="Seconds between rollout gate checks.")
def apply(
    spec: str, env: str | None, target: str | None, output: str, timeout: float, yes: bool, poll: float
) -> None:
    """Make the target match the spec (idempotent).

    Shows the plan first; on a terminal it asks before changing anything, as
    `terraform apply` does, unless --yes/--auto-approve.
    """
    from cloudserve import api
    from cloudserve.output import format_value, render_plan

    deployments = api.load(spec, env=env, target=target)
    ask = not yes and _on_terminal()
    plans: list[Any] = [None] * len(deployments)  # a shown plan is applied as shown
    if output == "text" or ask:
        plans = [api.plan(d) for d in deployments]
        # In JSON mode the plan shown before the question goes to stderr: stdout stays JSON.
        click.echo("\n\n".join(render_plan(p) for p in plans), err=output != "text")
        if ask and any(p.has_changes for p in plans) and not click.confirm("Apply these changes?", err=True):
            click.echo("apply cancelled: nothing changed", err=True)
            sys.exit(1)
    results = []
    for deployment, shown in zip(deployments, plans, strict=True):
        progress = None
        if output == "text":
            progress = _progress_printer()
        result = api.apply(deployment, timeout=timeout, progress=progress, poll_interval=poll, plan=shown)
        results.append(result)
        rollout = result.rollout
        if output == "text" and rollout is not None and rollout.state == "paused":
            step = rollout.steps[-1] if rollout.steps else None
            moved = {k: v for k, v in step.traffic.items() if v} if step else {}
            where = f" at step {step.step} ({format_value(moved)})" if step else ""
            click.echo(
                click.style(f"{deployment.name}: rollout paused{where} by request", fg="yellow")
                + "; run `cloudserve rollout resume`, `promote` or `abort`"
            )
        elif output == "text":
            click.echo(
                click.style(
                    f"applied {deployment.name}: {len(result.applied)} change(s) in {result.seconds:.1f}s",
                    fg="green",
                )
                if result.changed
                else f"{deployment.name}: no changes"
            )
    if output == "json":
        _echo_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])


def _on_terminal() -> bool:
    """Whether a person can answer a question: standard input is a terminal."""
    return sys.stdin.isatty()


_PERIODIC = re.compile(r": waiting \(\d+s\)$")


def _progress_printer() -> Any:
    tty = sys.stderr.isatty()

    def show(message: str) -> None:
        # On a pipe, skip the executor's periodic "waiting (12s)" lines (every other line,
        # such as the rollout's baking notice, is news).
        if tty or not _PERIODIC.search(message):
            click.echo(click.style(f"  {message}", dim=True), err=True)

    return show


@cli.command()
@spec_argument
@env_option
@target_option
@output_option
def status(spec: str, env: str | None, target: str | None, output: str) -> None:
    """Show the deployment as the target reports it."""
    from cloudserve import api
    from cloudserve.output import render_status

    results = [api.status(d) for d in api.load(spec, env=env, target=target)]
    if output == "json":
        _echo_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    else:
        click.echo("\n".join(render_status(r) for r in results))


_DATA_HINT = "pass a JSON body with -d '{...}', a file with -d @file.json, or JSON on standard input"


def _read_data_file(path: str) -> str:
    """The text of ``invoke -d @path``; any reason it cannot be read is an InvalidInput naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidInput(f"cannot read --data file {bounded(path)!r}: {reason}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"--data file {bounded(path)!r} is not UTF-8 text: {exc.reason}") from None


@cli.command()
@spec_argument
@env_option
@target_option
@output_option
@click.option("--data", "-d", help="JSON body, or @file.json. Default: read standard input.")
@click.option("--version", "version", help="Send straight to this version.")
def invoke(
    spec: str,
    env: str | None,
    target: str | None,
    output: str,
    data: str | None,
    version: str | None,
) -> None:
    """Send one request to the endpoint and print the answer."""
    from cloudserve import api

    raw = data if data is not None else sys.stdin.read()
    source = "standard input" if data is None else "--data"
    if raw.startswith("@"):
        source = raw
        raw = _read_data_file(raw[1:])
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{bounded(source)} is not JSON: {exc}", hint=_DATA_HINT) from None
    result = api.invoke(api.load(spec, env=env, target=target)[0], payload, version=version)
    if output == "json":
        _echo_json({"version": result.version, "status_code": result.status_code, "body": result.body})
    else:
        if result.version:
            click.echo(click.style(f"answered by version {result.version}", dim=True), err=True)
        click.echo(result.body if isinstance(result.body, str) else json.dumps(result.body))


@cli.command()
@spec_argument
@env_option
@target_option
@output_option
@click.option(
    "--yes",
    "-y",
    "--auto-approve",
    "yes",
    is_flag=True,
    help="Destroy without asking (required off a terminal, e.g. in CI).",
)
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait for the target.")
def destroy(spec: str, env: str | None, target: str | None, output: str, yes: bool, timeout: float) -> None:
    """Delete the endpoint and everything cloudserve created for it."""
    from cloudserve import api

    results = []
    for deployment in api.load(spec, env=env, target=target):
        if not yes:
            if not _on_terminal():
                raise click.UsageError("destroy needs --yes when not run from a terminal")
            click.confirm(
                f"Delete {deployment.name} on {deployment.target} and everything cloudserve created for it?",
                abort=True,
            )
        result = api.destroy(deployment, timeout=timeout)
        results.append(result)
        if output == "text":
            click.echo(
                f"destroyed {result.deployment}"
                if result.deleted
                else f"{result.deployment}: nothing to destroy"
            )
    if output == "json":
        _echo_json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])


@cli.command()
@output_option
def schema(output: str) -> None:
    """Print the JSON Schema of the spec (JSON whichever -o; accepted like on every verb)."""
    from cloudserve.spec.schema import schema_json

    click.echo(schema_json(), nl=False)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    json_out = _wants_json(argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="cloudserve", standalone_mode=False)
        if isinstance(code, int) and code:  # ctx.exit(n) returns n when not standalone
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("interrupted", err=True)
            sys.exit(130)
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.message = bounded(exc.message)  # type: ignore[misc]  # click echoes the bad value
        code = 2 if isinstance(exc, click.UsageError) else 1
        if json_out:  # asked for JSON: a usage error is JSON too, on stdout like the others
            kind = "UsageError" if code == 2 else type(exc).__name__
            _echo_json({"error": kind, "message": exc.message, "hint": "see --help"})
        else:
            exc.show()
        sys.exit(code)
    except CloudServeError as exc:
        if debug:
            raise
        _report(exc, json_out)
        code = exc.exit_code
        if os.environ.get("_CLOUDSERVE_DETAILED") or "--detailed-exitcode" in (argv or sys.argv):
            code = 1
        sys.exit(code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug or an unexpected OSError: one line, unless --debug
        if debug:
            raise
        _report_unexpected(exc, json_out)
        sys.exit(1)


def _wants_json(args: list[str]) -> bool:
    for i, arg in enumerate(args):
        if arg in ("--output", "-o") and i + 1 < len(args) and args[i + 1] == "json":
            return True
        if arg in ("--output=json", "-ojson"):
            return True
    return False


def _report(exc: CloudServeError, json_out: bool) -> None:
    if json_out:
        _echo_json(exc.to_dict())
        return
    label = click.style(f"error ({type(exc).__name__}):", fg="red", bold=True)
    click.echo(f"{label} {exc}", err=True)  # CloudServeError.__str__ bounds every value


def _report_unexpected(exc: BaseException, json_out: bool) -> None:
    name = type(exc).__name__
    message = one_line(exc) or "(no message)"
    if json_out:
        _echo_json({"error": name, "message": message, "unexpected": True})
        return
    label = click.style("error:", fg="red", bold=True)
    click.echo(f"{label} {name}: {message} (run with --debug for the traceback)", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
