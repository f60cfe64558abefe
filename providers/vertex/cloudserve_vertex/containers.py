"""Which container serves a version on Vertex AI, and why.

Three sources, in order: the version's own ``image`` (the spec chose it); Vertex AI's
prebuilt prediction container for the framework and version, when it can load the
artifact; otherwise ``targets.vertex.serving_image``, cloudserve's serving runtime, which
speaks the Vertex contract (AIP_HTTP_PORT, AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE) and loads
whatever cloudserve loads (skops, MLflow, handlers, any scikit-learn) from
AIP_STORAGE_URI. Plan, validation and the Model body all ask this module, so what plan
says is what apply uploads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cloudserve.spec.models import Deployment, ModelSpec, VersionSpec
from cloudserve_vertex import catalog
from cloudserve_vertex.settings import VertexSettings

# The files each prebuilt container loads from artifactUri (exactly one of them).
PREBUILT_FILES = {"sklearn": (".joblib", ".pkl"), "xgboost": (".bst", ".joblib", ".pkl")}
SETTING = "targets.vertex.serving_image"


@dataclass(frozen=True)
class Container:
    """``image`` is None when nothing can serve the version (``reason`` says why)."""

    image: str | None
    kind: str  # "image" (the spec's), "prebuilt", "serving_image", or "none"
    reason: str

    @property
    def runtime(self) -> bool:
        """cloudserve's own runtime: model options travel as CLOUDSERVE_* variables."""
        return self.kind == "serving_image"


def choose(deployment: Deployment, version: str) -> Container:
    spec = deployment.spec.versions[version]
    if spec.image:
        return Container(spec.image, "image", "image: set on the version")
    assert spec.model is not None  # a version has a model or an image
    blocker = prebuilt_blocker(deployment, spec)
    if blocker is None:
        image = catalog.container_image(spec.model, VertexSettings.of(deployment).location)
        name = (image or "").rsplit("/", 1)[-1].split(":")[0]
        return Container(image, "prebuilt", f"Vertex AI's prebuilt {name} container")
    serving_image = VertexSettings.of(deployment).serving_image
    if serving_image:
        return Container(serving_image, "serving_image", f"{SETTING}, because {blocker}")
    return Container(None, "none", blocker)


def prebuilt_blocker(deployment: Deployment, spec: VersionSpec) -> str | None:
    """Why no prebuilt container can serve this model, or None if one can."""
    model = spec.model
    assert model is not None
    if model.framework not in PREBUILT_FILES:
        return f"Vertex AI has no prebuilt container for framework {model.framework}"
    if model.handler or model.format in ("skops", "mlflow", "handler"):
        what = f"handler {model.handler}" if model.handler else f"format {model.format}"
        return f"the prebuilt {model.framework} containers cannot load {what}"
    artifact = _artifact_blocker(deployment, model)
    if artifact is not None:
        return artifact
    if not model.trust_pickle and not _plain_booster(deployment, model):
        # Their loaders call joblib.load / pickle.load on the artifact (google-cloud-aiplatform,
        # prediction containers: model.joblib, model.pkl), which runs code from the file.
        return (
            f"the prebuilt {model.framework} container unpickles the model file, which runs "
            "code from it (set trust_pickle: true for a model you built yourself)"
        )
    if catalog.container_image(model, VertexSettings.of(deployment).location) is None:
        known = ", ".join(catalog.container_versions(model.framework)) or "none"
        version = model.framework_version or "(no framework_version)"
        return f"Vertex AI has no prebuilt container for {model.framework} {version} (prebuilt: {known})"
    return None


def _plain_booster(deployment: Deployment, model: ModelSpec) -> bool:
    """An XGBoost model.bst: the prebuilt XGBoost container reads it with Booster.load_model,
    no pickle involved."""
    if model.framework != "xgboost":
        return False
    path = local_path(deployment, model)
    if path is None:
        return model.uri.endswith(".bst")
    return path.suffix == ".bst" if path.is_file() else (path / "model.bst").is_file()


def _artifact_blocker(deployment: Deployment, model: ModelSpec) -> str | None:
    """The prebuilt containers load exactly one file of a fixed name; a local artifact must
    provide it (a single file is renamed to ``model.<suffix>`` when staged). gs:// folders
    cannot be looked into at plan time and are trusted."""
    path = local_path(deployment, model)
    if path is None or not path.exists():
        return None
    suffixes = PREBUILT_FILES[model.framework]
    wanted = ", ".join(f"model{s}" for s in suffixes)
    if path.is_file():
        if path.suffix in suffixes:
            return None
        what = f"{path.name} is not one"
    else:
        found = sum((path / f"model{s}").is_file() for s in suffixes)
        if found == 1:
            return None
        what = f"the folder {path.name} holds {found} of them"
    return f"the prebuilt {model.framework} container loads exactly one of {wanted}; {what}"


def local_path(deployment: Deployment, model: ModelSpec) -> Path | None:
    return deployment.local_path(model.uri)


def runtime_env(model: ModelSpec | None) -> dict[str, str]:
    """Model options for cloudserve's runtime (it reads them at start, cloud.model_spec)."""
    if model is None:
        return {}
    env: dict[str, str] = {}
    if model.format:
        env["CLOUDSERVE_MODEL_FORMAT"] = model.format
    if model.handler:
        env["CLOUDSERVE_HANDLER"] = model.handler
    if model.trust_pickle:
        env["CLOUDSERVE_TRUST_PICKLE"] = "true"
    return env
