"""Click commands ``serve`` and ``package``, for the ``cloudserve`` CLI group.

Importing this module is cheap (click only): uvicorn, numpy and scikit-learn are imported
inside the command bodies, so ``cloudserve --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

FORMATS = ["joblib", "skops", "pickle", "xgboost", "mlflow", "handler"]


@click.command("serve")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Model file or directory (default: the platform's, e.g. /opt/ml/model).",
)
@click.option("--host", default=None, help="Bind address (default: 0.0.0.0 on a cloud, else 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: the platform's; 0 picks a free one).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Model format.")
@click.option("--trust-pickle", is_flag=True, default=None, help="Allow pickle files (runs their code).")
@click.option("--handler", default=None, help="Python file defining load() and predict().")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    envvar="CLOUDSERVE_WORKERS",
    default=1,
    show_default=True,
    help="Processes sharing the port (e.g. one per core on a large instance).",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    help="uvicorn log level (debug, info, warning, error).",
)
def serve(
    model_dir: Path | None,
    host: str | None,
    port: int | None,
    fmt: str | None,
    trust_pickle: bool | None,
    handler: str | None,
    workers: int,
    log_level: str,
) -> None:
    """Serve one model over HTTP, speaking the SageMaker, Vertex AI and Azure ML container
    contracts (chosen from the environment)."""
    from cloudserve.serving import cloud
    from cloudserve.serving.loaders import LoaderError

    settings = cloud.detect(os.environ)
    if model_dir is not None:
        settings.model_dir = model_dir
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    if settings.model_dir is None:
        raise click.UsageError(
            "no model: pass --model, or set SM_MODEL_DIR, AIP_STORAGE_URI, "
            "AZUREML_MODEL_DIR or CLOUDSERVE_MODEL_DIR"
        )
    spec = cloud.model_spec(
        settings.model_dir,
        os.environ,
        {"format": fmt, "trust_pickle": trust_pickle, "handler": handler},
    )
    try:
        cloud.run(settings, spec, log_level, workers)
    except LoaderError as exc:
        click.echo(f"cloudserve serve: cannot load the model: {exc}", err=True)
        sys.exit(3)


@click.command("package")
@click.argument("model", type=click.Path(exists=True, path_type=Path), required=False)
@click.option(
    "--context-dir",
    "context_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory to write the build context to (must be empty or absent). Required.",
)
# -o is the output format on every other verb; the folder option used to be -o here.
@click.option(
    "--output",
    "-o",
    "old_output",
    type=click.Path(path_type=Path),
    default=None,
    hidden=True,
    help="Deprecated spelling of --context-dir.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Model format.")
@click.option("--trust-pickle", is_flag=True, default=False, help="Allow pickle files (runs their code).")
@click.option("--handler", default=None, help="Python file (in MODEL) defining load() and predict().")
@click.option("--base-image", default=None, help="Base image (default: python:<this Python>-slim).")
@click.option("--no-model", is_flag=True, help="Do not bake the model in; the cloud mounts it.")
@click.option(
    "--runtime-only",
    is_flag=True,
    help="The serving runtime alone, no MODEL: it loads the model the cloud hands it at start "
    "(AIP_STORAGE_URI, SM_MODEL_DIR, AZUREML_MODEL_DIR); e.g. for targets.vertex.serving_image.",
)
def package(
    model: Path | None,
    context_dir: Path | None,
    old_output: Path | None,
    fmt: str | None,
    trust_pickle: bool,
    handler: str | None,
    base_image: str | None,
    no_model: bool,
    runtime_only: bool,
) -> None:
    """Write a container build context (Dockerfile, requirements, model) that runs
    `cloudserve serve` on any of the clouds."""
    from cloudserve.serving.loaders import LoaderError
    from cloudserve.serving.package import write_context, write_runtime_context

    output = _context_dir(context_dir, old_output)
    if runtime_only:
        if model is not None or fmt or trust_pickle or handler or no_model:
            raise click.UsageError("--runtime-only takes no MODEL or model options")
        try:
            files = write_runtime_context(output, base_image)
        except FileExistsError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"wrote runtime-only build context {output} ({len(files)} files); build it with:")
        click.echo(f"  docker build -t IMAGE {output}")
        return
    if model is None:
        raise click.UsageError("MODEL is required (or pass --runtime-only)")
    try:
        files = write_context(
            model,
            output,
            fmt=fmt,
            trust_pickle=trust_pickle,
            handler=handler,
            base_image=base_image,
            bake_model=not no_model,
        )
    except (LoaderError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote build context {output} ({len(files)} files); build it with:")
    click.echo(f"  docker build -t IMAGE {output}")


def _context_dir(context_dir: Path | None, old_output: Path | None) -> Path:
    """The folder to write to: --context-dir, or the deprecated -o/--output with a warning."""
    if context_dir is not None and old_output is not None:
        raise click.UsageError("give the folder once, with --context-dir")
    if old_output is not None:
        click.echo(
            "warning: `package -o` is deprecated (-o is the output format elsewhere); use --context-dir",
            err=True,
        )
        return old_output
    if context_dir is None:
        raise click.UsageError("Missing option '--context-dir': the directory to write the build context to")
    return context_dir


@click.group()
def main() -> None:
    """cloudserve's serving runtime (the same commands as `cloudserve serve|package`)."""


main.add_command(serve)
main.add_command(package)
