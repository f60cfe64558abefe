"""From a validated spec to the desired state a provider builds: names, hashes, sizes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cloudserve.artifacts import artifact_digest
from cloudserve.provider import DesiredEndpoint, DesiredVersion, Provider, Scaling
from cloudserve.spec.models import Deployment
from cloudserve.spec.targets import TargetSettings
from cloudserve.tags import HASH_LEN, ownership_tags


def _hash(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LEN]


def version_config_hash(deployment: Deployment, version: str, target: str) -> str:
    """Hash of what cannot change in place: model bytes, image, env, size."""
    spec = deployment.spec.versions[version]
    compute = deployment.spec.compute
    model: dict[str, Any] | None = None
    if spec.model is not None:
        model = spec.model.model_dump(mode="json")
        model["digest"] = artifact_digest(spec.model.uri, deployment.source_dir)
        model.pop("uri", None)  # the bytes matter, not where they sit on this machine
    config = {
        "model": model,
        "image": spec.image,
        "env": spec.env,
        "cpu": compute.cpu,
        "memory": compute.memory,
        "accelerator": compute.accelerator.model_dump(mode="json") if compute.accelerator else None,
        "serverless": compute.serverless.model_dump(mode="json") if compute.serverless else None,
        "instance_type": compute.instance_type.get(target),
    }
    # Target-wide settings that are part of what each version runs (Vertex's serving_image).
    settings = deployment.target_settings(target)
    if isinstance(settings, TargetSettings):
        config.update(settings.version_fields())
    return _hash(config)


def desired_scaling(deployment: Deployment) -> Scaling:
    compute = deployment.spec.compute
    auto = compute.autoscale
    return Scaling(
        min=compute.replicas.min,
        max=compute.replicas.maximum,
        autoscale_metric=auto.metric if auto else None,
        autoscale_target=auto.target if auto else None,
    )


def drift_config_hash(deployment: Deployment) -> str | None:
    """Hash of the drift settings with the baseline's bytes in place of its path: new
    training data at the same path is a change; the same file reached another way is not."""
    drift = deployment.spec.monitoring.drift
    if drift is None:
        return None
    config = drift.model_dump(mode="json")
    config["baseline"] = artifact_digest(drift.baseline, deployment.source_dir)
    return _hash(config)


def build_desired(deployment: Deployment, provider: Provider) -> DesiredEndpoint:
    target = deployment.target
    instance_type = provider.resolve_instance_type(deployment)
    scaling = desired_scaling(deployment)
    versions = {
        name: DesiredVersion(
            name=name,
            spec=spec,
            config_hash=version_config_hash(deployment, name, target),
            scaling=scaling,
            instance_type=instance_type,
            artifact=deployment.local_path(spec.model.uri) if spec.model is not None else None,
        )
        for name, spec in deployment.spec.versions.items()
    }
    monitoring_hash = drift_config_hash(deployment)
    drift = deployment.spec.monitoring.drift
    spec_hash = _hash(
        {
            "versions": {n: v.config_hash for n, v in versions.items()},
            "traffic": deployment.spec.traffic_split(),
            "mirror": deployment.spec.mirror,
            "scaling": scaling.__dict__,
            "capture": deployment.spec.capture.model_dump(mode="json") if deployment.spec.capture else None,
            "monitoring": monitoring_hash,
        }
    )
    return DesiredEndpoint(
        deployment=deployment,
        target=target,
        versions=versions,
        traffic=deployment.spec.traffic_split(),
        mirror=dict(deployment.spec.mirror),
        tags=ownership_tags(deployment.metadata.name, deployment.metadata.labels, spec_hash),
        spec_hash=spec_hash,
        monitoring_hash=monitoring_hash,
        baseline=deployment.local_path(drift.baseline) if drift is not None else None,
    )
