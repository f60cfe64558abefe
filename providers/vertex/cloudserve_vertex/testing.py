"""An offline Vertex AI emulator for your own tests, driven by the real SDK.

It is a stateful emulator of the Vertex AI v1 REST API (models, endpoints, deployModel,
undeployModel, mutateDeployedModel, endpoint patch, model deployment monitoring jobs,
long-running operations at the ``/ui/`` and ``/v1/`` polling paths the SDK uses, predict
answered with real predictions by cloudserve's model loaders), plus the Cloud Storage
upload, list and download calls and the Cloud Monitoring ``timeSeries.list`` calls the
cloudserve target and its serving runtime make. It enforces the real rules (traffic
split sums and names, label format and count, display-name length, endpoint and
deployed-model id formats, project id or number in resource names) and injects faults.

It runs as a local HTTP server on 127.0.0.1 rather than an in-process interceptor such as
``responses``: a subprocess (``cloudserve apply`` from a CLI test, a user's Airflow task)
can talk to it, the SDK's whole HTTP stack is exercised, and it does not collide with a
test's own ``responses`` mocks. Point cloudserve at it with :meth:`VertexEmulator.env`::

    from cloudserve_vertex.testing import VertexEmulator

    def test_my_pipeline(monkeypatch):
        with VertexEmulator(projects={"my-project": "123456789012"}, buckets=["artifacts"]) as emu:
            monkeypatch.setenv(*emu.env_item())
            ...  # cloudserve.apply(...) with targets.vertex.project: my-project
            emu.inject_fault("deployModel", status=429)        # next deploy is throttled
            emu.fail_next_deploy("Model server never became ready.")
            emu.record_predictions("my-endpoint", "candidate", count=200, errors=9, latency_ms=40)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cloudserve_vertex.client import ENDPOINT_ENV
from cloudserve_vertex.emulator.api import ROUTES, Sample, VertexState
from cloudserve_vertex.emulator.metrics import check_query
from cloudserve_vertex.emulator.rules import RuleError, invalid
from cloudserve_vertex.emulator.storage import MEDIA, CloudStorage
from cloudserve_vertex.emulator.storage import PREFIXES as STORAGE_PREFIXES

__all__ = ["Exchange", "Fault", "VertexEmulator", "WireCheck"]

# The prebuilt prediction containers live in three multi-region repositories, the same
# images in each ("Prebuilt containers for prediction"; aiplatform's constants/prediction.py).
PREBUILT_IMAGE = re.compile(
    r"(?:us|europe|asia)-docker\.pkg\.dev/vertex-ai/prediction/(?P<framework>[a-z0-9]+)-"
)
PREBUILT_FILES = {
    "sklearn": ("model.joblib", "model.pkl"),
    "xgboost": ("model.bst", "model.joblib", "model.pkl"),
}
HTTP_STATUS_NAMES = {
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
    500: "INTERNAL",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    501: "UNIMPLEMENTED",
    504: "DEADLINE_EXCEEDED",
}
# Exponential buckets like Cloud Monitoring's latency distributions (milliseconds).
BUCKETS = {"numFiniteBuckets": 40, "growthFactor": 1.4, "scale": 1.0}


@dataclass
class Fault:
    """Answer the next ``times`` requests whose method+path contains ``match`` with an error."""

    match: str
    status: int = 429
    message: str = (
        "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model per minute."
    )
    times: int = 1
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Exchange:
    """One call the emulator answered, as the bytes that crossed the wire, so a test can
    read it with a reader of its own (the provider's tests check each against Google's
    discovery documents) instead of trusting the emulator's own parsing."""

    method: str
    path: str  # percent-encoded, as sent, without the query string
    query: dict[str, list[str]]
    body: bytes
    status: int
    reply: bytes
    content_type: str


# Called with every Exchange before its reply is sent, on the server's thread; it should
# record what it finds rather than raise (raising drops the connection).
WireCheck = Callable[[Exchange], None]


class VertexEmulator:
    """Start with ``with VertexEmulator() as emu`` (or :meth:`start`/:meth:`stop`)."""

    def __init__(
        self,
        projects: dict[str, str] | None = None,
        buckets: list[str] | None = None,
        *,
        operation_polls: int = 0,
        seed: int = 0,
        wire_check: WireCheck | None = None,
    ) -> None:
        self.state = VertexState(projects or {"test-project": "123456789012"}, operation_polls, seed)
        self.state.load_predictor = self._predictor
        self.state.check_artifacts = self._check_artifacts  # type: ignore[method-assign]
        self.storage = CloudStorage(buckets or ["cloudserve-test"])
        self.buckets = self.storage.buckets  # {bucket: {object name: bytes}}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call, for counting
        self.queries: list[dict[str, str]] = []  # the query string of each of those calls
        self.images: dict[str, Callable[[list[Any]], list[Any]]] = {}  # custom image -> predict fn
        self.wire_check = wire_check
        self._server: ThreadingHTTPServer | None = None
        self._cache_dir = Path(tempfile.mkdtemp(prefix="vertex-emulator-"))

    # --- lifecycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the emulator first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._cache_dir, ignore_errors=True)

    def __enter__(self) -> VertexEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment that points cloudserve's Vertex target at this emulator."""
        return {ENDPOINT_ENV: self.url}

    def env_item(self) -> tuple[str, str]:
        return ENDPOINT_ENV, self.url

    # --- test controls ----------------------------------------------------------------------
    def inject_fault(
        self,
        match: str,
        status: int = 429,
        message: str | None = None,
        *,
        times: int = 1,
        retry_after_s: float | None = None,
    ) -> None:
        """The next ``times`` calls whose "METHOD path" contains ``match`` (e.g. "deployModel",
        "GET /v1/", "timeSeries") fail with ``status`` (429 RESOURCE_EXHAUSTED, 503 ...)."""
        fault = Fault(match, status, times=times, retry_after_s=retry_after_s)
        if message is not None:
            fault.message = message
        elif status == 503:
            fault.message = "The service is currently unavailable."
        self.faults.append(fault)

    def fail_next_deploy(
        self,
        message: str = "Model server never became ready. Please validate that "
        "your model file or container configuration are valid.",
        code: int = 3,
    ) -> None:
        """The next deployModel operation ends with this error (google.rpc code 3 = INVALID_ARGUMENT)."""
        self.state.deploy_failures.append((code, message))

    def record_predictions(
        self,
        endpoint_id: str,
        version: str,
        *,
        count: int,
        errors: int = 0,
        latency_ms: float = 10.0,
        at: float | None = None,
    ) -> None:
        """Feed Cloud Monitoring as if ``count`` predictions reached the deployed model whose
        display name is ``version`` (``errors`` of them failed)."""
        with self.state.lock:
            endpoint = next(
                (e for n, e in self.state.endpoints.items() if n.endswith(f"/endpoints/{endpoint_id}")), None
            )
            if endpoint is None:
                raise KeyError(f"no endpoint {endpoint_id!r}")
            deployed = next(d for d in endpoint.deployed_models if d.display_name == version)
            when = at if at is not None else time.time()
            for i in range(count):
                self.state.samples.append(Sample(when, endpoint_id, deployed.id, latency_ms, i < errors))

    def call_counts(self, since: int = 0) -> Counter[str]:
        """Calls from ``self.requests[since:]`` as ``"METHOD path template"`` -> count, with
        ids replaced by ``{endpoint}``, ``{model}`` ... and a PATCH naming its updateMask, so
        a test or benchmark can say what a change costs in API calls."""
        counts: Counter[str] = Counter()
        for (method, path), query in zip(self.requests[since:], self.queries[since:], strict=True):
            mask = query.get("updateMask") or query.get("update_mask")
            counts[f"{method} {_template(path)}" + (f" ?updateMask={mask}" if mask else "")] += 1
        return counts

    def put_object(self, uri: str, data: bytes) -> None:
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        self.buckets.setdefault(bucket, {})[name] = data

    def objects(self, prefix: str = "gs://") -> list[str]:
        return sorted(
            f"gs://{b}/{n}"
            for b, objs in self.buckets.items()
            for n in objs
            if f"gs://{b}/{n}".startswith(prefix)
        )

    @property
    def models(self) -> dict[str, Any]:
        return self.state.models

    @property
    def endpoints(self) -> dict[str, Any]:
        return self.state.endpoints

    # --- request handling -------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parsed = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parsed.path)
        repeated = urllib.parse.parse_qs(parsed.query)
        query = {k: v[-1] for k, v in repeated.items()}
        with self.state.lock:
            self.requests.append((method, path))
            self.queries.append(query)
            fault = self._take_fault(f"{method} {path}")
            if fault is not None:
                return fault
            try:
                if path.startswith("/v3/projects/") and path.endswith("/timeSeries"):
                    return 200, self._time_series(path, repeated)
                return 200, self._dispatch(method, path, query, body)
            except RuleError as err:
                return err.status, _error(err.status, err.code, err.message)

    def _take_fault(self, call: str) -> tuple[int, dict[str, Any]] | None:
        for fault in self.faults:
            if fault.match in call and fault.times > 0:
                fault.times -= 1
                body = _error(fault.status, HTTP_STATUS_NAMES.get(fault.status, "UNKNOWN"), fault.message)
                if fault.retry_after_s is not None:
                    body["error"]["details"].append(
                        {
                            "@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": f"{fault.retry_after_s}s",
                        }
                    )
                return fault.status, body
        return None

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, Any]:
        if path.startswith(STORAGE_PREFIXES):
            return self.storage.handle(method, path, query, body)
        for route_method, pattern, handler in ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                result: dict[str, Any] = getattr(self.state, handler)(match.groupdict(), query, body)
                return result
        raise RuleError(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")

    def _check_artifacts(self, model: Any) -> None:
        """The prebuilt containers refuse a Model whose artifact folder lacks their file."""
        image = model.container_spec.image_uri
        prebuilt = PREBUILT_IMAGE.match(image)
        if prebuilt is None or not model.artifact_uri:
            return
        framework = prebuilt["framework"]
        names = set(self.storage.files_under(model.artifact_uri))
        found = [f for f in PREBUILT_FILES.get(framework, ()) if f in names]
        if len(found) != 1:
            raise invalid(
                f"Model directory {model.artifact_uri} is expected to contain exactly one of: "
                f"[{', '.join(PREBUILT_FILES.get(framework, ()))}]."
            )

    # --- predict ------------------------------------------------------------------------------
    def _predictor(self, model: Any) -> Callable[[list[Any]], list[Any]]:
        image = model.container_spec.image_uri
        if image in self.images:
            return self.images[image]
        key = model.name
        if key not in self.state.predictors:
            self.state.predictors[key] = self._load(model)
        return self.state.predictors[key]  # type: ignore[no-any-return]

    def _load(self, model: Any) -> Callable[[list[Any]], list[Any]]:
        from cloudserve.serving.loaders import load_model

        image = model.container_spec.image_uri
        if not model.artifact_uri:
            raise RuleError(
                400,
                "FAILED_PRECONDITION",
                f"the emulator cannot run image {image}; "
                "register a predict function in VertexEmulator.images",
            )
        folder = self._cache_dir / uuid.uuid4().hex
        for rel, data in self.storage.files_under(model.artifact_uri).items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        prebuilt = PREBUILT_IMAGE.match(image)
        if prebuilt is not None:
            framework = prebuilt["framework"]
            spec: dict[str, Any] = {
                "uri": str(folder),
                "framework": framework if framework in ("sklearn", "xgboost") else "sklearn",
                # Google's prebuilt containers call joblib.load / pickle.load on whatever file is
                # there (google-cloud-aiplatform prediction/sklearn/predictor.py): they trust it.
                "trust_pickle": True,
            }
        else:
            # Any other image is taken to be cloudserve's serving runtime: it reads the model
            # from AIP_STORAGE_URI with the options in its CLOUDSERVE_* variables.
            from cloudserve.serving.cloud import model_spec

            env = {e.name: e.value for e in model.container_spec.env}
            spec = model_spec(folder, env, {})
        return load_model(spec).predict

    # --- Cloud Monitoring ------------------------------------------------------------------------
    def _time_series(self, path: str, repeated: dict[str, list[str]]) -> dict[str, Any]:
        """projects.timeSeries.list: the query checked against Cloud Monitoring's own table
        (emulator.metrics), then the recorded samples per deployed model."""
        self.state.number(path.split("/")[3])
        check_query(repeated)
        query = {k: v[-1] for k, v in repeated.items()}
        flt = query.get("filter", "")
        metric = _filter_value(flt, "metric.type") or ""
        endpoint_id = _filter_value(flt, "resource.labels.endpoint_id")
        start = _rfc3339(query.get("interval.startTime")) or 0.0
        end = _rfc3339(query.get("interval.endTime")) or time.time()
        samples = [
            s
            for s in self.state.samples
            if (endpoint_id is None or s.endpoint_id == endpoint_id) and start <= s.at <= end
        ]
        by_model: dict[str, list[Sample]] = {}
        for s in samples:
            by_model.setdefault(s.deployed_model_id, []).append(s)
        kind = metric.rsplit("/", 1)[-1]
        series = [_series(metric, kind, dm, group, start, end) for dm, group in sorted(by_model.items())]
        return {"timeSeries": [s for s in series if s is not None]}


_ID_SEGMENTS = re.compile(r"(?P<kind>projects|locations|endpoints|models|operations|b)/(?P<id>[^/:]+)")
_NAMES = {"b": "bucket", "projects": "project", "locations": "location"}


def _template(path: str) -> str:
    """/v1/projects/1234/locations/us-central1/endpoints/churn:predict ->
    /v1/projects/{project}/locations/{location}/endpoints/{endpoint}:predict"""
    path = re.sub(r"/o/.+$", "/o/{object}", path)  # object names may hold slashes
    return _ID_SEGMENTS.sub(lambda m: f"{m['kind']}/{{{_NAMES.get(m['kind'], m['kind'][:-1])}}}", path)


def _series(
    metric: str, kind: str, deployed_id: str, group: list[Sample], start: float, end: float
) -> dict[str, Any] | None:
    interval = {"startTime": _iso(start), "endTime": _iso(end)}
    labels = {"deployed_model_id": deployed_id}
    if kind == "prediction_count":
        value: dict[str, Any] = {"int64Value": str(len(group))}
    elif kind == "error_count":
        errors = sum(s.error for s in group)
        if not errors:
            return None
        value = {"int64Value": str(errors)}
    elif kind == "prediction_latencies":
        labels["latency_type"] = "total"
        value = {"distributionValue": _distribution([s.latency_ms for s in group])}
    else:
        return None
    return {
        "metric": {"type": metric, "labels": labels},
        "resource": {
            "type": "aiplatform.googleapis.com/Endpoint",
            "labels": {"endpoint_id": group[0].endpoint_id},
        },
        "metricKind": "DELTA",
        "valueType": "DISTRIBUTION" if kind == "prediction_latencies" else "INT64",
        "points": [{"interval": interval, "value": value}],
    }


def _distribution(values: list[float]) -> dict[str, Any]:
    n, g, scale = BUCKETS["numFiniteBuckets"], BUCKETS["growthFactor"], BUCKETS["scale"]
    counts = [0] * (int(n) + 2)
    for v in values:
        index = 0 if v < scale else min(int(math.log(v / scale, g)) + 1, int(n) + 1)
        counts[index] += 1
    return {
        "count": str(len(values)),
        "mean": sum(values) / len(values),
        "bucketOptions": {"exponentialBuckets": BUCKETS},
        "bucketCounts": [str(c) for c in counts],
    }


def _filter_value(flt: str, key: str) -> str | None:
    match = re.search(re.escape(key) + r'\s*=\s*"([^"]*)"', flt)
    return match.group(1) if match else None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rfc3339(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    request_id = uuid.uuid4().hex[:16]
    return {
        "error": {
            "code": status,
            "message": message,
            "status": code,
            "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": request_id}],
        }
    }


class _Handler(BaseHTTPRequestHandler):
    emulator: VertexEmulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.emulator.handle(self.command, self.path, body)
        media = payload.get(MEDIA)
        data = media if isinstance(media, bytes) else json.dumps(payload).encode()
        content_type = (
            "application/octet-stream" if isinstance(media, bytes) else "application/json; charset=UTF-8"
        )
        self._check(body, status, data, content_type)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if isinstance(media, bytes):
            digest = base64.b64encode(hashlib.md5(media).digest()).decode()  # GCS reports MD5
            self.send_header("x-goog-hash", f"md5={digest}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _check(self, body: bytes, status: int, reply: bytes, content_type: str) -> None:
        check = self.emulator.wire_check
        if check is None:
            return
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        check(Exchange(self.command, parsed.path, query, body, status, reply, content_type))

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the request log
        return


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[VertexEmulator]:
    """``with running(projects=...) as emu:`` - the emulator, started and stopped."""
    emulator = VertexEmulator(**kwargs)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
