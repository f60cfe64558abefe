"""Vertex-specific spec problems, found at plan time before any API call."""

from __future__ import annotations

from cloudserve.artifacts import is_remote
from cloudserve.errors import InvalidSpec
from cloudserve.provider import DesiredEndpoint
from cloudserve.serving.pin_check import written_with_problems
from cloudserve_vertex import catalog, containers, translate


def problems(desired: DesiredEndpoint) -> list[str]:
    deployment = desired.deployment
    settings = deployment.targets.vertex
    spec = deployment.spec
    out: list[str] = []
    if not settings.project:
        out.append("targets.vertex.project is required (the Google Cloud project to deploy into)")
    if spec.compute.replicas.min < 1:
        out.append(
            "compute.replicas.min must be at least 1: Vertex AI dedicated resources keep one "
            "replica running (no scale to zero)"
        )
    try:
        catalog.choose(deployment)
    except InvalidSpec as exc:
        out.append(f"compute: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
    out += translate.label_problems(desired.tags, "metadata.labels")
    capture = spec.capture
    if capture and capture.destination and not capture.destination.startswith("bq://"):
        out.append(
            f"capture.destination {capture.destination!r}: Vertex AI logs requests and responses "
            "to BigQuery; use bq://project[.dataset[.table]] or leave it empty"
        )
    if settings.network and (
        len(spec.versions) > 1 or any(spec.mirror.values()) or spec.rollout.strategy != "all_at_once"
    ):
        out.append(
            f"targets.vertex.network: a Vertex AI private endpoint serves one model with no traffic "
            f"split (Vertex AI doc 'Use private endpoints', Limitations); this spec has "
            f"{len(spec.versions)} versions and rollout.strategy {spec.rollout.strategy}"
        )
    for name, version in desired.versions.items():
        out += _version_problems(desired, name, version.spec)
    # A prebuilt container runs the scikit-learn / XGBoost series its name says (sklearn-cpu.1-5):
    # a model written by another one is refused as on the other targets.
    prebuilt = [n for n in desired.versions if containers.choose(deployment, n).kind == "prebuilt"]
    return out + written_with_problems(deployment, prebuilt)


def _version_problems(desired: DesiredEndpoint, name: str, spec: object) -> list[str]:
    from cloudserve.spec.models import VersionSpec

    assert isinstance(spec, VersionSpec)
    where = f"versions.{name}"
    out: list[str] = []
    container = containers.choose(desired.deployment, name)
    if container.image is None:
        out.append(
            f"{where}: {container.reason}; set {containers.SETTING} to cloudserve's serving-runtime "
            "image (it speaks the Vertex AI container contract and loads the model from "
            "AIP_STORAGE_URI; build it with `cloudserve package --runtime-only`), or image: on the version"
        )
    if spec.model is not None:
        uri = spec.model.uri
        if is_remote(uri) and not uri.startswith("gs://"):
            out.append(f"{where}: model.uri {uri!r}: Vertex AI reads models from gs:// or a local path")
        local = desired.versions[name].artifact  # plan's missing_artifacts says if it is not there
        if local is not None and not desired.deployment.targets.vertex.staging_bucket:
            out.append(f"{where}: a local model needs targets.vertex.staging_bucket (gs://...) to stage it")
    if len(translate.model_display_name(desired.name, name)) > translate.DISPLAY_NAME_MAX:
        out.append(f"{where}: model display name exceeds {translate.DISPLAY_NAME_MAX} characters")
    return out
