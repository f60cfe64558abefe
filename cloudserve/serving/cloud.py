"""``cloudserve serve``: one model, answering whichever cloud's container contract applies.

The platform is read from the environment each cloud sets, so one image runs anywhere:

- **Vertex AI** (``AIP_HTTP_PORT`` is set): listen on ``AIP_HTTP_PORT`` and answer
  ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE``; ``{"instances": [...]}`` in,
  ``{"predictions": [...]}`` out; the model comes from ``AIP_STORAGE_URI``
  (https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements).
- **Azure ML** (``AZUREML_MODEL_DIR`` is set, or ``CLOUDSERVE_PLATFORM=azureml`` for a baked
  image): port 5001, ``GET /`` liveness, ``GET /score``
  readiness and ``POST /score``, as the Azure ML inference HTTP server does
  (https://learn.microsoft.com/azure/machine-learning/how-to-inference-server-http); the
  model is under ``AZUREML_MODEL_DIR``, often one folder down.
- **SageMaker** (``SM_MODEL_DIR`` is set or ``/opt/ml/model`` exists): port 8080 (or
  ``SAGEMAKER_BIND_TO_PORT``), ``GET /ping`` and ``POST /invocations``, model in
  ``/opt/ml/model``; SageMaker starts the image as ``docker run IMAGE serve``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
- Otherwise: a plain local server on 127.0.0.1:8080.

Every route of every contract is answered whichever platform is detected (they do not
collide), so only the port, the bind address and the model location differ. A model
baked into the image (``CLOUDSERVE_MODEL_DIR``) is used when the platform supplies none.
Model options travel as ``CLOUDSERVE_MODEL_FORMAT`` / ``CLOUDSERVE_TRUST_PICKLE`` /
``CLOUDSERVE_HANDLER`` or a ``cloudserve-model.json`` file beside the model.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SIDECAR = "cloudserve-model.json"
# The version's name, set by every target on its containers so that metrics inside them
# carry the version's name rather than "default" or a cloud's internal id.
VERSION_ENV = "CLOUDSERVE_VERSION_NAME"
# Set on Azure ML image deployments: a baked image has no AZUREML_MODEL_DIR to detect the
# platform by, and must still listen where Azure probes it (its inference_config routes).
PLATFORM_ENV = "CLOUDSERVE_PLATFORM"


@dataclass
class CloudSettings:
    platform: str
    host: str
    port: int
    model_dir: Path | None
    predict_paths: list[str] = field(default_factory=lambda: ["/invocations", "/predict", "/score"])
    health_paths: list[str] = field(default_factory=lambda: ["/ping", "/health", "/score"])
    version: str = "default"


def detect(env: Mapping[str, str]) -> CloudSettings:
    """The platform contract implied by ``env``; CLOUDSERVE_* variables override it."""
    if env.get("AIP_HTTP_PORT") or env.get("AIP_PREDICT_ROUTE"):
        settings = CloudSettings(
            "vertex",
            "0.0.0.0",
            int(env.get("AIP_HTTP_PORT", "8080")),
            _platform_dir(env.get("AIP_STORAGE_URI")),
        )
        settings.predict_paths.append(env.get("AIP_PREDICT_ROUTE", "/predict"))
        settings.health_paths.append(env.get("AIP_HEALTH_ROUTE", "/health"))
        settings.version = env.get("AIP_DEPLOYED_MODEL_ID", "default")
    elif env.get("AZUREML_MODEL_DIR") or env.get(PLATFORM_ENV) == "azureml":
        settings = CloudSettings("azureml", "0.0.0.0", 5001, _platform_dir(env.get("AZUREML_MODEL_DIR")))
    elif env.get("SM_MODEL_DIR") or Path("/opt/ml/model").is_dir():
        port = int(env.get("SAGEMAKER_BIND_TO_PORT", "8080"))
        settings = CloudSettings(
            "sagemaker", "0.0.0.0", port, _platform_dir(env.get("SM_MODEL_DIR", "/opt/ml/model"))
        )
    else:
        settings = CloudSettings("local", "127.0.0.1", 8080, None)
    if settings.model_dir is None and env.get("CLOUDSERVE_MODEL_DIR"):
        settings.model_dir = Path(env["CLOUDSERVE_MODEL_DIR"])
    settings.host = env.get("CLOUDSERVE_HOST", settings.host)
    settings.port = int(env.get("CLOUDSERVE_PORT", settings.port))
    settings.version = env.get(VERSION_ENV, settings.version)
    return settings


def _platform_dir(uri: str | None) -> Path | None:
    """A platform's model location, if it is a local, non-empty directory or file."""
    if not uri:
        return None
    if uri.startswith("gs://"):
        return download_gcs(uri)
    path = Path(uri.removeprefix("file://"))
    if path.is_file() or (path.is_dir() and any(path.iterdir())):
        return path
    return None


def download_gcs(uri: str) -> Path:
    """Copy the objects under a gs:// prefix to a local directory (Vertex AI hands the
    container AIP_STORAGE_URI and expects it to fetch the artifacts itself)."""
    try:
        # Not `from google.cloud import storage`: mypy reads that as an attribute of the
        # google.cloud namespace package, which is missing when a typed google.cloud.* is checked too.
        import google.cloud.storage as storage
    except ImportError as exc:  # pragma: no cover - depends on the image
        raise RuntimeError(f"{uri}: install google-cloud-storage in the image to fetch the model") from exc
    bucket_name, _, prefix = uri.removeprefix("gs://").partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # the folder itself: gs://b/models/v1 must not also fetch models/v10/...
    target = Path(os.environ.get("TMPDIR", "/tmp")) / "cloudserve-model"
    client = storage.Client()
    for blob in client.list_blobs(bucket_name, prefix=prefix):
        if blob.name.endswith("/"):
            continue
        dest = target / Path(blob.name).relative_to(prefix) if prefix else target / blob.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(dest))
    return target


def model_spec(model_dir: Path, env: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """ModelSpec fields for the served model: sidecar file, then env, then CLI options."""
    spec: dict[str, Any] = {"uri": str(model_dir)}
    sidecar = (model_dir if model_dir.is_dir() else model_dir.parent) / SIDECAR
    if sidecar.is_file():
        spec.update({k: v for k, v in json.loads(sidecar.read_text()).items() if k != "uri"})
    if env.get("CLOUDSERVE_MODEL_FORMAT"):
        spec["format"] = env["CLOUDSERVE_MODEL_FORMAT"]
    if env.get("CLOUDSERVE_HANDLER"):
        spec["handler"] = env["CLOUDSERVE_HANDLER"]
    if env.get("CLOUDSERVE_TRUST_PICKLE", "").lower() in ("1", "true", "yes"):
        spec["trust_pickle"] = True
    spec.update({k: v for k, v in overrides.items() if v is not None})
    return spec


def build_app(settings: CloudSettings, spec: dict[str, Any]) -> Any:
    """The serving app for one model at 100% under the settings' routes."""
    from cloudserve.serving.app import ServingApp
    from cloudserve.serving.loaders import load_model
    from cloudserve.serving.metrics import PrometheusMetrics
    from cloudserve.serving.state import Endpoint, Version

    model = load_model(spec)
    endpoint = Endpoint(name=settings.platform, prom=PrometheusMetrics())
    name = settings.version
    endpoint.versions[name] = Version(name, {"model": spec}, endpoint.stats_for(name), model=model)
    endpoint.set_traffic({name: 100}, {})
    return ServingApp(
        endpoint,
        predict_paths=tuple(dict.fromkeys(settings.predict_paths)),
        health_paths=tuple(dict.fromkeys(settings.health_paths)),
    )


def run(settings: CloudSettings, spec: dict[str, Any], log_level: str = "warning", workers: int = 1) -> None:
    """Load the model, then listen; returns when the server stops.

    With ``workers > 1`` the model is loaded once, then that many processes are forked to
    share the listening socket (the kernel spreads connections), so a multi-core instance
    is used; Prometheus metrics are then aggregated across them (multiprocess mode).
    """
    import sys

    from cloudserve.serving import runner

    if workers > 1:
        _multiprocess_metrics()
    app = build_app(settings, spec)
    model = app.endpoint.versions[settings.version].model
    sock = runner.bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]

    def started() -> None:
        print(
            f"cloudserve: {settings.platform} contract, {model.format} model from {model.path}, "
            f"{workers} worker(s), listening on http://{host}:{port}",
            file=sys.stderr,
            flush=True,
        )

    if workers <= 1:
        runner.serve(app, sock, started, log_level)
    else:
        _serve_forked(app, sock, workers, started, log_level)


def _multiprocess_metrics() -> None:
    """Point prometheus-client at a shared directory; must happen before its first import."""
    import tempfile

    if "prometheus_client" in __import__("sys").modules:
        raise RuntimeError("prometheus_client was imported before multiprocess mode was set")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="cloudserve-prom-"))


def _serve_forked(app: Any, sock: Any, workers: int, started: Any, log_level: str) -> None:
    """A minimal pre-fork supervisor: restart a worker that dies, stop all on SIGTERM/SIGINT."""
    import signal

    from cloudserve.serving import runner

    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker: serve until told to stop, never return into the parent's code
            code = 1
            try:
                runner.serve(app, sock, None, log_level)
                code = 0
            finally:
                os._exit(code)
        children.add(pid)

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    for _ in range(workers):
        spawn()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started()
    while children:
        pid, _status = os.wait()
        children.discard(pid)
        if not stopping:
            spawn()
