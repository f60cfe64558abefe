"""Multi-call changes as one pollable Operation, and artifact staging.

Creating a version on Vertex AI is several calls, two of them long-running (upload the
Model, deploy it). The core waits on one :class:`~cloudserve.provider.Operation` per
action, with its own backoff and timeout, so :class:`Chain` runs the calls in order and
returns from ``poll()`` whenever a Vertex operation is still running, instead of blocking
inside the SDK's own polling loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudserve.artifacts import digest_path
from cloudserve.provider import DesiredEndpoint, Operation
from cloudserve_vertex import translate
from cloudserve_vertex.client import VertexClient
from cloudserve_vertex.errors import operation_failed
from cloudserve_vertex.errors import translate as translate_error
from cloudserve_vertex.settings import VertexSettings

Context = dict[str, Any]
Step = tuple[str, Callable[[Context], Any]]
COMPLETE_MARKER = ".cloudserve-complete"


class Chain(Operation):
    """Run ``steps`` in order. A step returning a google.api_core Operation is waited on
    (its result is stored in the context under the step's name) before the next starts."""

    def __init__(self, description: str, steps: list[Step], context: Context | None = None) -> None:
        self.description = description
        self.context: Context = context if context is not None else {}
        self._steps = list(steps)
        self._running: tuple[str, Any] | None = None

    def then(self, what: str, step: Callable[[Context], Any]) -> None:
        """Append a step while the chain runs (e.g. one per model a listing step found)."""
        self._steps.append((what, step))

    def poll(self) -> bool:
        while True:
            if self._running is not None:
                what, lro = self._running
                if not self._finished(what, lro):
                    return False
                self._running = None
            if not self._steps:
                return True
            what, step = self._steps[0]
            result = step(self.context)
            # Only now does the step leave the chain: if it raised (a 429 the core retries
            # by polling again), the next poll runs it again instead of skipping it.
            self._steps.pop(0)
            if _is_lro(result):
                self._running = (what, result)
            else:
                self.context[what] = result

    def _finished(self, what: str, lro: Any) -> bool:
        try:
            if not lro.done():
                return False
        except Exception as exc:
            raise translate_error(exc, context=f"{what}: polling the operation") from exc
        error = lro.exception()
        if error is not None:
            raise operation_failed(error, what) from error
        self.context[what] = lro.result()
        return True


def _is_lro(value: Any) -> bool:
    return hasattr(value, "done") and hasattr(value, "exception") and hasattr(value, "result")


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
