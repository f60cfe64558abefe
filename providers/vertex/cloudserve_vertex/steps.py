"""Multi-call changes as one pollable Operation, and artifact staging.

Creating a version on Vertex AI is several calls, two of them long-running (upload the
Model, deploy it): :func:`chain` runs them with the core's :class:`~cloudserve.steps.StepOperation`,
waiting on google.api_core Operations between steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudserve.artifacts import digest_path
from cloudserve.provider import DesiredEndpoint
from cloudserve.steps import Context, Pending, Step, StepOperation
from cloudserve_vertex import translate
from cloudserve_vertex.client import VertexClient
from cloudserve_vertex.errors import operation_failed
from cloudserve_vertex.errors import translate as translate_error
from cloudserve_vertex.settings import VertexSettings

COMPLETE_MARKER = ".cloudserve-complete"


class _LongRunning(Pending):
    """A google.api_core Operation, its errors translated."""

    def __init__(self, what: str, lro: Any) -> None:
        self.what = what
        self.lro = lro

    def done(self) -> bool:
        try:
            if not self.lro.done():
                return False
        except Exception as exc:
            raise translate_error(exc, context=f"{self.what}: polling the operation") from exc
        error = self.lro.exception()
        if error is not None:
            raise operation_failed(error, self.what) from error
        return True

    def result(self) -> Any:
        return self.lro.result()


def _long_running(what: str, result: Any) -> Pending | None:
    is_lro = hasattr(result, "done") and hasattr(result, "exception") and hasattr(result, "result")
    return _LongRunning(what, result) if is_lro else None


def chain(description: str, steps: list[Step], context: Context | None = None) -> StepOperation:
    """Vertex AI calls in order (the core's StepOperation and its retry rule); a step that
    returns a google.api_core Operation is waited on before the next starts."""
    return StepOperation(description, steps, pending=_long_running, context=context)


def artifact_uri(client: VertexClient, desired: DesiredEndpoint, version: str) -> str | None:
    """gs:// URIs are used as they are; a local file or folder is uploaded once to a
    content-addressed folder of the staging bucket (a marker object says it is complete,
    so an interrupted upload is redone rather than trusted)."""
    spec = desired.versions[version].spec
    if spec.model is None:
        return None
    if spec.model.uri.startswith("gs://"):
        return spec.model.uri.rstrip("/")
    path = desired.versions[version].artifact
    if path is None:
        from cloudserve.errors import InvalidSpec

        raise InvalidSpec(
            f"version {version}: Vertex AI reads models from gs:// or a local path, not {spec.model.uri}",
            target="vertex",
        )
    bucket = (VertexSettings.of(desired.deployment).staging_bucket or "").removeprefix("gs://").strip("/")
    uri = translate.staged_uri(bucket, digest_path(path))
    prefix = uri.removeprefix(f"gs://{bucket}/")
    if client.object_exists(bucket, f"{prefix}/{COMPLETE_MARKER}"):
        return uri
    for name, file in translate.staged_files(path):
        client.upload_object(bucket, f"{prefix}/{name}", file.read_bytes())
    client.upload_object(bucket, f"{prefix}/{COMPLETE_MARKER}", b"")
    return uri


def upload_steps(client: VertexClient, desired: DesiredEndpoint, version: str) -> list[Step]:
    """Stage the artifact, then upload the Model; context[f"model:{version}"] is its name."""
    key = f"model:{version}"

    def stage(ctx: Context) -> str | None:
        return artifact_uri(client, desired, version)

    def upload(ctx: Context) -> Any:
        model = translate.build_model(desired, desired.versions[version], ctx[f"stage:{version}"])
        return client.upload_model(model)

    def model_name(ctx: Context) -> str:
        return str(ctx[f"upload:{version}"].model)

    return [(f"stage:{version}", stage), (f"upload:{version}", upload), (key, model_name)]


def deploy_step(
    client: VertexClient,
    desired: DesiredEndpoint,
    version: str,
    traffic: Callable[[Context], dict[str, int] | None] = lambda ctx: None,
) -> Step:
    def deploy(ctx: Context) -> Any:
        deployed = translate.deployed_model(desired, desired.versions[version], ctx[f"model:{version}"])
        return client.deploy_model(client.endpoint_name(desired.name), deployed, traffic(ctx))

    return (f"deploy:{version}", deploy)
