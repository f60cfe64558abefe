"""The `cloudserve rollout` command group."""

from __future__ import annotations

import click

from cloudserve.cli import env_option, output_option, spec_argument, target_option
from cloudserve.output import echo_json


def _context(spec: str, env: str | None, target: str | None):  # type: ignore[no-untyped-def]
    from cloudserve import api

    deployment = api.load(spec, env=env, target=target)[0]
    return deployment, api.provider_for(deployment)


@click.group()
def rollout() -> None:
    """Inspect and steer a rollout in progress, from any machine."""


@rollout.command("status")
@spec_argument
@env_option
@target_option
@output_option
def status_cmd(spec: str, env: str | None, target: str | None, output: str) -> None:
    """Show the recorded rollout and who holds the lease."""
    from cloudserve.rollout import control

    deployment, provider = _context(spec, env, target)
    data = control.status(deployment, provider)
    if output == "json":
        echo_json(data)
        return
    from cloudserve.output import format_value

    click.echo(f"deployment {data['deployment']}: traffic {format_value(data['traffic'])}")
    if data["rollout"] is None:
        click.echo("no rollout in progress")
    else:
        from cloudserve.output import render_rollout_record

        click.echo("\n".join(render_rollout_record(data["rollout"])))
    if data["holder"]:
        click.echo(f"lease held by {data['holder']['holder']}")


def _request(action: str):  # type: ignore[no-untyped-def]
    @env_option
    @target_option
    @output_option
    def command(spec: str, env: str | None, target: str | None, output: str) -> None:
        from cloudserve.rollout import control

        deployment, provider = _context(spec, env, target)
        data = control.request(deployment, provider, action)
        echo_json(data) if output == "json" else click.echo(
            data.get("done") or f"{action} requested from {data.get('holder')}"
        )

    command.__doc__ = {
        "promote": "Skip the remaining steps: go to the spec's split now.",
        "abort": "Return traffic to the split before the rollout.",
        "pause": "Hold traffic where it is until resume, promote or abort.",
    }[action]
    return rollout.command(action)(spec_argument(command))  # after __doc__: it adds SPEC's help


_request("promote")
_request("abort")
_request("pause")


@rollout.command("resume")
@spec_argument
@env_option
@target_option
@output_option
@click.option("--poll", default=15.0, show_default=True, help="Seconds between gate checks.")
def resume_cmd(spec: str, env: str | None, target: str | None, output: str, poll: float) -> None:
    """Continue a paused or interrupted rollout from its recorded step."""
    from cloudserve.rollout import control

    deployment, provider = _context(spec, env, target)
    progress = None if output == "json" else (lambda m: click.echo(m, err=True))
    result = control.resume(deployment, provider, poll_interval=poll, progress=progress)
    echo_json(result.to_dict()) if output == "json" else click.echo(f"rollout {result.state}")
