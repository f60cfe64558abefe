"""Spec -> Vertex AI v1 request bodies, built from the SDK's own ``aiplatform_v1`` types.

Building every body from the generated proto-plus classes means a misspelt or invalid
field fails here, at construction, instead of as a 400 from the cloud. The types come
from :func:`cloudserve_vertex.client.v1`, which imports the SDK on first use only.

Naming, one place:
- Endpoint id = deployment name (the spec's name rule is a subset of Vertex's
  ``endpoint_id`` rule), so observe is one GET, not a list and a filter.
- Model display name = ``<deployment>-<version>``; labels carry deployment, version and
  the version's config hash, which observe reads back.
- DeployedModel display name = version name: that is how traffic by version name maps
  to Vertex's numeric deployed-model ids, which never leave this package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cloudserve import tags as tag_keys
from cloudserve.provider import DesiredEndpoint, DesiredVersion, Scaling
from cloudserve.serving.cloud import VERSION_ENV
from cloudserve.spec.models import Capture
from cloudserve_vertex import catalog, containers
from cloudserve_vertex.client import v1
from cloudserve_vertex.settings import VertexSettings

# Label rules (Vertex AI Endpoint/Model ``labels`` field reference and the Resource
# Manager label requirements it links to): keys 1-63 characters, starting with a
# lowercase letter; keys and values only lowercase letters, digits, '_' and '-';
# values up to 63 characters; at most 64 labels per resource.
LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")
MAX_LABELS = 64
DISPLAY_NAME_MAX = 128

AUTOSCALE_METRICS = {
    "cpu_utilization": "aiplatform.googleapis.com/prediction/online/cpu/utilization",
    "gpu_utilization": "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle",
    "requests_per_replica": "aiplatform.googleapis.com/prediction/online/request_count",
}
NEUTRAL_AUTOSCALE = {v: k for k, v in AUTOSCALE_METRICS.items()}

# Files the prebuilt sklearn/xgboost prediction containers look for in artifactUri.
PREBUILT_MODEL_FILES = ("model.joblib", "model.pkl", "model.bst")
STAGING_PREFIX = "cloudserve/artifacts"


def label_problems(labels: Mapping[str, str], what: str) -> list[str]:
    problems = []
    if len(labels) > MAX_LABELS:
        problems.append(f"{what}: {len(labels)} labels; Vertex AI allows at most {MAX_LABELS}")
    for key, value in labels.items():
        if not LABEL_KEY_RE.match(key):
            problems.append(
                f"{what}: label key {key!r} must start with a lowercase letter and use "
                "only lowercase letters, digits, '_' or '-' (at most 63 characters)"
            )
        if not LABEL_VALUE_RE.match(value):
            problems.append(
                f"{what}: label {key}={value!r}: values use only lowercase letters, "
                "digits, '_' or '-' (at most 63 characters)"
            )
    return problems


def endpoint_labels(desired: DesiredEndpoint) -> dict[str, str]:
    return dict(desired.tags)


def model_labels(desired: DesiredEndpoint, version: DesiredVersion) -> dict[str, str]:
    return {
        **desired.deployment.metadata.labels,
        tag_keys.MANAGED_BY: tag_keys.MANAGED_BY_VALUE,
        tag_keys.DEPLOYMENT: desired.name,
        tag_keys.VERSION: version.name,
        tag_keys.CONFIG_HASH: version.config_hash,
    }


def model_display_name(deployment: str, version: str) -> str:
    return f"{deployment}-{version}"


def staged_uri(bucket: str, digest: str) -> str:
    """Content-addressed: the same bytes always land at the same path, uploaded once."""
    return f"gs://{bucket.removeprefix('gs://').rstrip('/')}/{STAGING_PREFIX}/{digest[:32]}"


def staged_files(path: Path) -> list[tuple[str, Path]]:
    """(object name relative to the staged folder, local file). A single file becomes
    ``model.<suffix>``, the name the prebuilt containers load."""
    if path.is_file():
        suffix = path.suffix if path.suffix in (".joblib", ".pkl", ".bst") else path.suffix or ".joblib"
        return [(f"model{suffix}", path)]
    return sorted(
        (f.relative_to(path).as_posix(), f)
        for f in path.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts
    )


def build_model(desired: DesiredEndpoint, version: DesiredVersion, artifact_uri: str | None) -> Any:
    """The Model for one version; its container is what :func:`containers.choose` says
    (plan shows the same choice). cloudserve's runtime also gets the model options."""
    types = v1()
    chosen = containers.choose(desired.deployment, version.name)
    env = dict(version.spec.env)
    if chosen.runtime:
        env = {VERSION_ENV: version.name, **containers.runtime_env(version.spec.model), **env}
    container = types.ModelContainerSpec(
        image_uri=chosen.image or "",
        env=[types.EnvVar(name=k, value=v) for k, v in sorted(env.items())],
    )
    return types.Model(
        display_name=model_display_name(desired.name, version.name),
        description=f"cloudserve deployment {desired.name}, version {version.name}",
        artifact_uri=artifact_uri or "",
        container_spec=container,
        labels=model_labels(desired, version),
    )


def autoscaling_specs(scaling: Scaling) -> list[Any]:
    types = v1()
    if not scaling.autoscale_metric:
        return []
    return [
        types.AutoscalingMetricSpec(
            metric_name=AUTOSCALE_METRICS[scaling.autoscale_metric],
            target=round(scaling.autoscale_target or 60),
        )
    ]


def dedicated_resources(desired: DesiredEndpoint, scaling: Scaling) -> Any:
    types = v1()
    choice = catalog.choose(desired.deployment)
    machine = types.MachineSpec(machine_type=choice.machine_type)
    if choice.accelerator_type:
        machine.accelerator_type = types.AcceleratorType[choice.accelerator_type]
        machine.accelerator_count = choice.accelerator_count
    return types.DedicatedResources(
        machine_spec=machine,
        min_replica_count=max(scaling.min, 1),
        max_replica_count=max(scaling.max, scaling.min, 1),
        autoscaling_metric_specs=autoscaling_specs(scaling),
    )


def deployed_model(desired: DesiredEndpoint, version: DesiredVersion, model_name: str) -> Any:
    types = v1()
    settings = VertexSettings.of(desired.deployment)
    return types.DeployedModel(
        model=model_name,
        display_name=version.name,
        dedicated_resources=dedicated_resources(desired, version.scaling),
        service_account=settings.service_account or "",
    )


def logging_config(capture: Capture | None, project: str) -> Any:
    """Request-response logging goes to BigQuery on Vertex AI; with no destination, a
    project-only destination lets Vertex create the dataset and table itself."""
    types = v1()
    if capture is None or capture.sample_percent == 0:
        return types.PredictRequestResponseLoggingConfig(enabled=False)
    destination = capture.destination or f"bq://{project}"
    return types.PredictRequestResponseLoggingConfig(
        enabled=True,
        sampling_rate=capture.sample_percent / 100,
        bigquery_destination=types.BigQueryDestination(output_uri=destination),
    )


def build_endpoint(desired: DesiredEndpoint, project: str) -> Any:
    types = v1()
    settings = VertexSettings.of(desired.deployment)
    return types.Endpoint(
        display_name=desired.name,
        description="managed by cloudserve",
        labels=endpoint_labels(desired),
        predict_request_response_logging_config=logging_config(desired.deployment.spec.capture, project),
        network=settings.network or "",
    )


def traffic_by_id(traffic: Mapping[str, int], ids: Mapping[str, str]) -> dict[str, int]:
    """{version: percent} -> {deployed model id: percent}, dropping zero shares (Vertex
    treats an unlisted deployed model as receiving no traffic)."""
    missing = [v for v, pct in traffic.items() if pct and v not in ids]
    if missing:
        from cloudserve.errors import NotFound

        raise NotFound(f"version(s) {', '.join(missing)} are not deployed on the endpoint", target="vertex")
    return {ids[v]: pct for v, pct in traffic.items() if pct}


def scaling_of(resources: Any) -> Scaling:
    specs = list(resources.autoscaling_metric_specs)
    metric = NEUTRAL_AUTOSCALE.get(specs[0].metric_name) if specs else None
    return Scaling(
        min=resources.min_replica_count,
        max=resources.max_replica_count,
        autoscale_metric=metric,
        autoscale_target=float(specs[0].target) if specs else None,
    )
