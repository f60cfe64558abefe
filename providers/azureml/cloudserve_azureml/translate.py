"""Spec -> azure.ai.ml entities (and the autoscale setting body), as pure functions.

The entity classes arrive through ``ent`` (the ``azure.ai.ml.entities`` module, handed
over by :mod:`.client`) so that importing this module never imports the SDK.

Naming: the endpoint is the deployment's name; each version is a ManagedOnlineDeployment
of the same name; its model is registered as ``<endpoint>-<version>`` with the version's
config hash as the asset version, so an unchanged model is never uploaded twice and a
changed one is a new, immutable model version.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cloudserve import tags as T
from cloudserve.artifacts import is_remote
from cloudserve.provider import DesiredEndpoint, DesiredVersion, Scaling
from cloudserve.serving.bundle import copy_runtime, pinned_requirements
from cloudserve.serving.cloud import PLATFORM_ENV, VERSION_ENV
from cloudserve.spec.models import ModelSpec
from cloudserve_azureml import offline
from cloudserve_azureml.settings import AzureMLSettings

# Azure ML's prebuilt minimal inference images (Microsoft Learn, "prebuilt Docker images
# for inference"); the framework is pinned on top through the environment's conda file.
CPU_BASE_IMAGE = "mcr.microsoft.com/azureml/minimal-py312-inference:latest"
GPU_BASE_IMAGE = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cuda11.8-gpu-inference:latest"
# The inference server Azure's images run, and the data collector the scoring script logs
# model_inputs/model_outputs with: the newest releases on PyPI (azureml-inference-server-http
# 1.5.1 of 2025-12, azureml-ai-monitoring 1.0.0), pinned so every build gets the same.
SERVER_PINS = ("azureml-inference-server-http==1.5.1", "azureml-ai-monitoring==1.0.0")
# What that server release itself requires of libraries the runtime pins too (its METADATA
# Requires-Dist): the runtime's pin must fit, or the image build cannot resolve. pydantic
# 2.12.5 is the newest release in ~=2.12.0, and cloudserve supports it (pydantic>=2.7);
# it pins pydantic-core==2.41.5 itself (pydantic 2.12.5 METADATA), so that pin comes too.
SERVER_REQUIRES = {"pydantic": "~=2.12.0", "flask": "~=3.1.0", "werkzeug": ">=3.0.3"}
SERVER_OVERRIDES = {"pydantic": "2.12.5", "pydantic-core": "2.41.5"}
SCORING_SCRIPT = "score.py"
MODEL_SPEC_ENV = "CLOUDSERVE_MODEL_SPEC"
INPUT_COLUMNS_ENV = "CLOUDSERVE_INPUT_COLUMNS"  # names list-shaped rows for model_inputs logging
REPLICAS_MAX_TAG = "cloudserve-replicas-max"  # Azure has no field for a max without autoscale
# Probe and request settings: Azure ML's documented defaults, except a shorter initial
# delay because the serving runtime loads a model in well under the default 10 s.
PROBE = {"initial_delay": 5, "period": 10, "timeout": 2, "failure_threshold": 30, "success_threshold": 1}
REQUEST = {"request_timeout_ms": 5000, "max_concurrent_requests_per_instance": 1, "max_queue_wait_ms": 500}


def endpoint_entity(
    ent: Any,
    desired: DesiredEndpoint,
    auth_mode: str,
    traffic: dict[str, int] | None = None,
    mirror: dict[str, int] | None = None,
) -> Any:
    return ent.ManagedOnlineEndpoint(
        name=desired.name,
        auth_mode=auth_mode,
        tags=dict(desired.tags),
        traffic=dict(traffic or {}),
        mirror_traffic=dict(mirror or {}),
        description=f"cloudserve deployment {desired.name}",
    )


def version_tags(desired: DesiredEndpoint, version: DesiredVersion) -> dict[str, str]:
    tags = {
        T.MANAGED_BY: T.MANAGED_BY_VALUE,
        T.DEPLOYMENT: desired.name,
        T.VERSION: version.name,
        T.CONFIG_HASH: version.config_hash,
    }
    if version.scaling.autoscale_metric is None:
        tags[REPLICAS_MAX_TAG] = str(version.scaling.max)
    return tags


def model_entity(ent: Any, desired: DesiredEndpoint, version: DesiredVersion) -> Any:
    """A Model registered from a local path, or an ``azureml:`` reference as it is."""
    spec = version.spec.model
    assert spec is not None
    if is_remote(spec.uri):
        if not spec.uri.startswith("azureml:"):
            raise ValueError(f"{spec.uri}: Azure ML serves local models or azureml:// references")
        return spec.uri
    path = version.artifact
    assert path is not None
    return ent.Model(
        name=f"{desired.name}-{version.name}",
        version=version.config_hash,
        path=str(path),
        type="custom_model",
        description=f"cloudserve {desired.name}/{version.name}",
        tags=version_tags(desired, version),
    )


def model_subdir(desired: DesiredEndpoint, version: DesiredVersion) -> str:
    """Where the model lands under AZUREML_MODEL_DIR: Azure mounts a registered folder (or
    file) by its own name."""
    return version.artifact.name if version.artifact is not None else ""


def environment_entity(ent: Any, desired: DesiredEndpoint, version: DesiredVersion) -> Any:
    """A custom image as it is (with Azure's inference routes), or the prebuilt inference
    image with the runtime's libraries, pinned exactly, installed on top (the runtime itself
    arrives with the code folder)."""
    spec = version.spec
    if spec.image:
        return ent.Environment(
            name=f"{desired.name}-{version.name}-image",
            image=spec.image,
            inference_config={
                "liveness_route": {"path": "/health", "port": 5001},
                "readiness_route": {"path": "/health", "port": 5001},
                "scoring_route": {"path": "/score", "port": 5001},
            },
        )
    assert spec.model is not None
    source = version.artifact
    conda = {
        "name": "cloudserve",
        "channels": ["conda-forge"],
        "dependencies": [
            "python=3.12",
            "pip",
            {"pip": conda_pip_pins(spec.model, source)},
        ],
    }
    gpu = desired.deployment.spec.compute.accelerator is not None
    slug = f"{spec.model.framework}-{spec.model.framework_version or 'latest'}".replace(".", "-")
    base = GPU_BASE_IMAGE if gpu else CPU_BASE_IMAGE
    if AzureMLSettings.of(desired.deployment).offline:
        pins = tuple(conda_pip_pins(spec.model, source))
        return ent.Environment(
            name=f"cloudserve-{slug}{'-gpu' if gpu else ''}-offline",
            version=offline.context_digest(pins, base),
            build=ent.BuildContext(path=str(offline.build_context(pins, base))),
            description="cloudserve serving runtime on Azure ML's prebuilt inference image, "
            "every wheel in the build context",
        )
    digest = _short_hash({"conda": conda, "gpu": gpu})
    return ent.Environment(
        name=f"cloudserve-{slug}{'-gpu' if gpu else ''}",
        version=digest,
        image=base,
        conda_file=conda,
        description="cloudserve serving runtime on Azure ML's prebuilt inference image",
    )


def conda_pip_pins(model: ModelSpec, source: Path | None) -> list[str]:
    """The pip list of the Environment's conda file: the inference server and data collector,
    then the runtime's exact pins fitted to that server. Exact pins only; cloudserve itself
    travels in the code folder (code_folder()), so the image build fetches nothing an index
    could substitute. What the server itself brings comes pinned from server-lock.txt
    (scripts/lock-azureml-server.sh), where the runtime does not pin the same name itself.
    scripts/test-envs.sh builds the inference-server test environment from this same list,
    and the suite checks it holds nothing else."""
    from packaging.utils import canonicalize_name

    runtime = pinned_requirements(model, source, SERVER_OVERRIDES)
    ours = {canonicalize_name(pin.split("==", 1)[0]) for pin in runtime}
    brought = [pin for pin in _server_lock() if canonicalize_name(pin.split("==", 1)[0]) not in ours]
    return [*SERVER_PINS, *runtime, *brought]


@cache
def _server_lock() -> tuple[str, ...]:
    text = (Path(__file__).resolve().parent / "server-lock.txt").read_text()
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def scoring_code_dir() -> Path:
    return Path(__file__).resolve().parent / "scoring"


@cache
def code_folder() -> Path:
    """The code asset a deployment runs: score.py with cloudserve's runtime source beside it
    (``cloudserve/``), so the inference server imports the runtime from the code folder.
    Built once per process in a temporary folder; azure-ai-ml names a code asset by the
    hash of its content, so an unchanged runtime uploads nothing new."""
    import atexit
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="cloudserve-azureml-code-"))
    atexit.register(shutil.rmtree, root, True)
    shutil.copy2(scoring_code_dir() / SCORING_SCRIPT, root / SCORING_SCRIPT)
    copy_runtime(root)
    return root


def deployment_entity(
    ent: Any,
    desired: DesiredEndpoint,
    version: DesiredVersion,
    instance_type: str,
    model: Any,
    environment: Any,
) -> Any:
    spec = version.spec
    env_vars = {VERSION_ENV: version.name, **({PLATFORM_ENV: "azureml"} if spec.image else {}), **spec.env}
    code = None
    if spec.model is not None and not spec.image:
        model_spec = spec.model.model_dump(mode="json", exclude={"uri"}, exclude_none=True)
        model_spec["subdir"] = model_subdir(desired, version)
        env_vars[MODEL_SPEC_ENV] = json.dumps(model_spec, sort_keys=True)
        code = ent.CodeConfiguration(code=str(code_folder()), scoring_script=SCORING_SCRIPT)
    columns = baseline_columns(desired)
    if columns:
        env_vars[INPUT_COLUMNS_ENV] = json.dumps(columns)
    return ent.ManagedOnlineDeployment(
        name=version.name,
        endpoint_name=desired.name,
        model=model,
        environment=environment,
        code_configuration=code,
        instance_type=instance_type,
        instance_count=max(version.scaling.min, 1),
        environment_variables=env_vars,
        liveness_probe=ent.ProbeSettings(**PROBE),
        readiness_probe=ent.ProbeSettings(**PROBE),
        request_settings=ent.OnlineRequestSettings(**REQUEST),
        data_collector=data_collector(ent, desired),
        tags=version_tags(desired, version),
    )


def baseline_columns(desired: DesiredEndpoint) -> list[str]:
    """The drift baseline's column names (a CSV header or a Parquet schema), so the scoring
    script can log list-shaped rows under the names the drift signals compare."""
    drift = desired.deployment.spec.monitoring.drift
    if drift is None:
        return []
    try:
        path = desired.baseline
        if path is None:
            return []
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        with path.open(encoding="utf-8") as fh:
            import csv

            return next(csv.reader(fh), [])
    except (OSError, ImportError, ValueError):
        return []


def data_collector(ent: Any, desired: DesiredEndpoint) -> Any:
    """Payload logging of requests/responses at the spec's sampling rate (``capture``) and,
    when drift is monitored, the ``model_inputs``/``model_outputs`` collections Azure ML's
    monitor reads (the scoring script logs them through azureml-ai-monitoring)."""
    capture = desired.deployment.spec.capture
    drift = desired.deployment.spec.monitoring.drift
    if capture is None and drift is None:
        return None
    collections = {}
    if capture is not None and capture.request:
        collections["request"] = ent.DeploymentCollection(enabled="true")
    if capture is not None and capture.response:
        collections["response"] = ent.DeploymentCollection(enabled="true")
    if drift is not None:
        collections["model_inputs"] = ent.DeploymentCollection(enabled="true")
        collections["model_outputs"] = ent.DeploymentCollection(enabled="true")
    percent = capture.sample_percent if capture is not None else drift.sampling_percent  # type: ignore[union-attr]
    return ent.DataCollector(collections=collections, sampling_rate=percent / 100)


PAYLOAD_COLLECTIONS = ("request", "response")


_AUTOSCALE_METRICS = {
    # neutral metric -> (Azure Monitor metric, on the endpoint (True) or deployment (False))
    "requests_per_replica": ("RequestsPerMinute", True),
    "cpu_utilization": ("CpuUtilizationPercentage", False),
    "gpu_utilization": ("GpuUtilizationPercentage", False),
}


def autoscale_name(endpoint: str, version: str) -> str:
    return f"{endpoint}-{version}-autoscale"


def autoscale_body(
    desired: DesiredEndpoint, version: DesiredVersion, deployment_id: str, endpoint_id: str, location: str
) -> dict[str, Any]:
    """An Azure Monitor autoscale setting (the shape of AutoscaleSettingResource): scale out
    by one above the target, in by one below half of it, with the spec's cooldowns."""
    scaling = version.scaling
    auto = desired.deployment.spec.compute.autoscale
    assert auto is not None and scaling.autoscale_metric is not None
    metric, on_endpoint = _AUTOSCALE_METRICS[scaling.autoscale_metric]
    per_instance = scaling.autoscale_metric == "requests_per_replica"
    dims = (
        [{"dimension_name": "deployment", "operator": "Equals", "values": [version.name]}]
        if on_endpoint
        else None
    )

    def rule(direction: str, operator: str, threshold: float, cooldown: float) -> dict[str, Any]:
        return {
            "metric_trigger": {
                "metric_name": metric,
                "metric_resource_uri": endpoint_id if on_endpoint else deployment_id,
                "time_grain": "PT1M",
                "statistic": "Average",
                "time_window": "PT5M",
                "time_aggregation": "Average",
                "operator": operator,
                "threshold": threshold,
                "dimensions": dims,
                "divide_per_instance": per_instance,
            },
            "scale_action": {
                "direction": direction,
                "type": "ChangeCount",
                "value": "1",
                "cooldown": f"PT{int(cooldown)}S",
            },
        }

    return {
        "location": location,
        "tags": {T.MANAGED_BY: T.MANAGED_BY_VALUE, T.DEPLOYMENT: desired.name, T.VERSION: version.name},
        "target_resource_uri": deployment_id,
        "enabled": True,
        "profiles": [
            {
                "name": "cloudserve",
                "capacity": {
                    "minimum": str(max(scaling.min, 1)),
                    "maximum": str(scaling.max),
                    "default": str(max(scaling.min, 1)),
                },
                "rules": [
                    rule("Increase", "GreaterThan", auto.target, auto.scale_out_cooldown),
                    rule("Decrease", "LessThan", auto.target / 2, auto.scale_in_cooldown),
                ],
            }
        ],
    }


def scaling_from(instance_count: int, tags: dict[str, str], autoscale: Any) -> Scaling:
    """Neutral scaling read back from a deployment and its autoscale setting (if any)."""
    if autoscale is None:
        declared = tags.get(REPLICAS_MAX_TAG)
        return Scaling(min=instance_count, max=int(declared) if declared else instance_count)
    profile = autoscale.profiles[0]
    rule = profile.rules[0].metric_trigger
    neutral = next((k for k, (m, _) in _AUTOSCALE_METRICS.items() if m == rule.metric_name), None)
    return Scaling(
        min=int(profile.capacity.minimum),
        max=int(profile.capacity.maximum),
        autoscale_metric=neutral,
        autoscale_target=float(rule.threshold),
    )


def _short_hash(obj: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[: T.HASH_LEN]
