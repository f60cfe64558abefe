"""Vertex-specific spec problems, found at plan time before any API call."""

from __future__ import annotations

import re

from cloudserve.artifacts import is_remote
from cloudserve.errors import InvalidSpec
from cloudserve.provider import DesiredEndpoint
from cloudserve.serving.pin_check import written_with_problems
from cloudserve_vertex import catalog, containers, translate
from cloudserve_vertex.settings import VertexSettings

# Project ids: 6-30 lowercase ASCII letters, digits or hyphens, starting with a letter and
# not ending with a hyphen (gcloud projects create, PROJECT_ID; Resource Manager "Creating and
# managing projects"); a project number is digits.
_PROJECT = re.compile(r"^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})$")
# Endpoint.network: "projects/{project}/global/networks/{network}", where {project} is a
# project number (aiplatform v1 discovery document, Endpoint.network); a network name is
# an RFC 1035 label (Compute Engine networks.insert, name).
_NETWORK = re.compile(r"^projects/[0-9]+/global/networks/[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
# AutoscalingMetricSpec.target is an int32 "in percentage (1% - 100%)" for utilisation
# metrics; 0 reads as unset ("The default value is 60"), so a target that rounds to 0
# would silently become 60 (aiplatform v1 discovery document, AutoscalingMetricSpec.target).
_PERCENT_METRICS = ("cpu_utilization", "gpu_utilization")
# Request-response logging goes to BigQueryDestination.outputUri: "bq://projectId or
# bq://projectId.bqDatasetId or bq://projectId.bqDatasetId.bqTableId" (discovery document);
# dataset and table ids are letters, digits and underscores.
_BIGQUERY = re.compile(r"^bq://[a-z][a-z0-9-]{4,28}[a-z0-9](?:\.\w+){0,2}$", re.ASCII)


def problems(desired: DesiredEndpoint) -> list[str]:
    deployment = desired.deployment
    settings = VertexSettings.of(deployment)
    spec = deployment.spec
    out: list[str] = []
    if not settings.project:
        out.append("targets.vertex.project is required (the Google Cloud project to deploy into)")
    elif not _PROJECT.match(settings.project):
        out.append(
            f"targets.vertex.project {settings.project!r} is not a Google Cloud project id (6-30 "
            "lowercase letters, digits or hyphens, starting with a letter) or project number"
        )
    if settings.network and not _NETWORK.match(settings.network):
        out.append(
            f"targets.vertex.network {settings.network!r}: Vertex AI peers an endpoint with "
            "projects/<project number>/global/networks/<network name> (Endpoint.network)"
        )
    out += _autoscale_problems(spec.compute.autoscale)
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
    if capture and capture.destination and not _BIGQUERY.match(capture.destination):
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
        if local is not None and not VertexSettings.of(desired.deployment).staging_bucket:
            out.append(f"{where}: a local model needs targets.vertex.staging_bucket (gs://...) to stage it")
    if len(translate.model_display_name(desired.name, name)) > translate.DISPLAY_NAME_MAX:
        out.append(f"{where}: model display name exceeds {translate.DISPLAY_NAME_MAX} characters")
    return out


def _autoscale_problems(autoscale: object) -> list[str]:
    from cloudserve.spec.models import Autoscale

    if not isinstance(autoscale, Autoscale):
        return []
    target = round(autoscale.target)  # translate sends the rounded int32
    if autoscale.metric in _PERCENT_METRICS and not 1 <= target <= 100:
        return [
            f"compute.autoscale.target {autoscale.target:g}: Vertex AI's {autoscale.metric} target is "
            "a percentage, 1-100 (AutoscalingMetricSpec.target)"
        ]
    if target < 1:
        return [
            f"compute.autoscale.target {autoscale.target:g} rounds to 0, which Vertex AI reads as unset "
            "and replaces with 60 (AutoscalingMetricSpec.target is a whole number)"
        ]
    return []
