"""Vertex-specific spec problems, found at plan time before any API call."""

from __future__ import annotations

from cloudserve.errors import InvalidSpec
from cloudserve.provider import DesiredEndpoint
from cloudserve_vertex import catalog, translate

SKLEARN_FILES = {"sklearn": (".joblib", ".pkl"), "xgboost": (".bst", ".joblib", ".pkl")}


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
    for name, version in desired.versions.items():
        out += _version_problems(desired, name, version.spec)
    return out


def _version_problems(desired: DesiredEndpoint, name: str, spec: object) -> list[str]:
    from cloudserve.spec.models import VersionSpec

    assert isinstance(spec, VersionSpec)
    where = f"versions.{name}"
    out: list[str] = []
    if spec.image is None and spec.model is not None:
        model = spec.model
        if catalog.container_image(model) is None:
            known = ", ".join(catalog.container_versions(model.framework)) or "none"
            out.append(
                f"{where}: Vertex AI has no prebuilt prediction container for {model.framework} "
                f"{model.framework_version or '(no framework_version)'} (prebuilt versions: {known}); "
                "set framework_version to one of them, or image: to a container speaking the "
                "Vertex AI contract (cloudserve's serving runtime does)"
            )
        else:
            out += _artifact_problems(desired, where, model)
    if spec.model is not None:
        uri = spec.model.uri
        remote = uri.startswith(("s3://", "azureml://", "https://", "http://", "wasbs://", "abfss://"))
        if remote:
            out.append(f"{where}: model.uri {uri!r}: Vertex AI reads models from gs:// or a local path")
        local = translate.local_artifact(desired, spec)
        if local is not None and not desired.deployment.targets.vertex.staging_bucket:
            out.append(f"{where}: a local model needs targets.vertex.staging_bucket (gs://...) to stage it")
        if local is not None and not local.exists():
            out.append(f"{where}: model path {local} does not exist")
    if len(translate.model_display_name(desired.name, name)) > translate.DISPLAY_NAME_MAX:
        out.append(f"{where}: model display name exceeds {translate.DISPLAY_NAME_MAX} characters")
    return out


def _artifact_problems(desired: DesiredEndpoint, where: str, model: object) -> list[str]:
    """The prebuilt containers load one file with a fixed name; a local artifact must
    provide it (a single file is renamed to it when staged)."""
    from cloudserve.spec.models import ModelSpec

    assert isinstance(model, ModelSpec)
    path = translate.local_artifact(desired, desired.deployment.spec.versions[where.split(".")[1]])
    if path is None or not path.exists():
        return []
    suffixes = SKLEARN_FILES.get(model.framework, ())
    if path.is_file():
        ok = path.suffix in suffixes
    else:
        ok = sum((path / f"model{s}").is_file() for s in suffixes) == 1
    if ok:
        return []
    wanted = ", ".join(f"model{s}" for s in suffixes)
    return [
        f"{where}: the prebuilt {model.framework} container loads exactly one of {wanted}; "
        f"{path} does not provide it (skops files need a custom image)"
    ]
