"""The emulated Vertex AI v1 REST API: state and one handler per call.

Every request body is parsed with the SDK's own ``aiplatform_v1`` message classes and
``ignore_unknown_fields=False``, so a body the real API would reject as malformed fails
here too; every reply is serialised from those classes. Resource names carry the
project *number*, as the real service returns them; requests may use the id or number.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudserve_vertex.client import v1
from cloudserve_vertex.emulator import rules as rules
from cloudserve_vertex.emulator.monitoring import JOB_ROUTES, MonitoringJobs
from cloudserve_vertex.emulator.rules import RuleError, invalid

TYPE_PREFIX = "type.googleapis.com/google.cloud.aiplatform.v1."
_LOC = r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
_JOB_LOC = _LOC
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^/(?:v1|ui)/{p}$"), h)
    for m, p, h in [
        ("POST", _LOC + r"/models:upload", "upload_model"),
        ("GET", _LOC + r"/models", "list_models"),
        ("GET", _LOC + r"/models/(?P<id>[^/:]+)", "get_model"),
        ("DELETE", _LOC + r"/models/(?P<id>[^/:]+)", "delete_model"),
        ("POST", _LOC + r"/endpoints", "create_endpoint"),
        ("GET", _LOC + r"/endpoints", "list_endpoints"),
        ("GET", _LOC + r"/endpoints/(?P<id>[^/:]+)", "get_endpoint"),
        ("PATCH", _LOC + r"/endpoints/(?P<id>[^/:]+)", "patch_endpoint"),
        ("DELETE", _LOC + r"/endpoints/(?P<id>[^/:]+)", "delete_endpoint"),
        ("POST", _LOC + r"/endpoints/(?P<id>[^/:]+):deployModel", "deploy_model"),
        ("POST", _LOC + r"/endpoints/(?P<id>[^/:]+):undeployModel", "undeploy_model"),
        ("POST", _LOC + r"/endpoints/(?P<id>[^/:]+):mutateDeployedModel", "mutate_deployed_model"),
        ("POST", _LOC + r"/endpoints/(?P<id>[^/:]+):predict", "predict"),
        *[(m, p.replace(_JOB_LOC, _LOC), h) for m, p, h in JOB_ROUTES],
        ("GET", _LOC + r"/(?P<op>(?:[a-zA-Z]+/[^/]+/)?operations/[^/]+)", "get_operation"),
    ]
]


def to_json(message: Any) -> dict[str, Any]:
    """As Google's REST front end writes a message: enum names, and fields at their default
    value left out (proto-plus would list them all, some that the REST API never shows)."""
    text = type(message).to_json(
        message, use_integers_for_enums=False, always_print_fields_with_no_presence=False
    )
    return json.loads(text)  # type: ignore[no-any-return]


def parse(cls_name: str, body: bytes) -> Any:
    cls = getattr(v1(), cls_name)
    try:
        return cls.from_json(body or b"{}", ignore_unknown_fields=False)
    except Exception as exc:  # json_format.ParseError and friends
        raise invalid(f"Invalid JSON payload received. {exc}") from exc


@dataclass
class Sample:
    """One prediction as Cloud Monitoring would count it."""

    at: float
    endpoint_id: str
    deployed_model_id: str
    latency_ms: float
    error: bool


@dataclass
class VertexState(MonitoringJobs):
    projects: dict[str, str]  # project id -> number
    operation_polls: int = 0  # GETs before an operation reports done; 0 = done at once
    seed: int = 0
    models: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)  # model deployment monitoring jobs
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    deploy_failures: list[tuple[int, str]] = field(default_factory=list)
    predictors: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._rng = random.Random(self.seed)
        self.load_predictor: Any = None  # set by the emulator: artifact_uri, image -> predict fn

    # --- names ----------------------------------------------------------------------------
    def number(self, project: str) -> str:
        if not (rules.PROJECT_ID_RE.match(project) or rules.PROJECT_NUMBER_RE.match(project)):
            raise invalid(f"Invalid resource name: project {project!r} is neither a project id nor a number.")
        if project in self.projects:
            return self.projects[project]
        if project in self.projects.values():
            return project
        raise RuleError(
            403,
            "PERMISSION_DENIED",
            f"Permission denied on resource project {project} (or it may not exist).",
        )

    def parent(self, g: dict[str, str]) -> str:
        return f"projects/{self.number(g['project'])}/locations/{g['location']}"

    def _new_id(self, digits: int) -> str:
        n = next(self._ids)
        return str(10 ** (digits - 1) + n * 7919 % (9 * 10 ** (digits - 1)))

    # --- operations -------------------------------------------------------------------------
    def operation(
        self, resource: str, response: Any | None, error: tuple[int, str] | None = None
    ) -> dict[str, Any]:
        name = f"{resource}/operations/{self._new_id(19)}"
        op: dict[str, Any] = {"name": name, "done": False, "_polls_left": self.operation_polls}
        if error is not None:
            op["_final"] = {"error": {"code": error[0], "message": error[1]}}
        elif response is None:
            op["_final"] = {"response": {"@type": "type.googleapis.com/google.protobuf.Empty"}}
        else:
            type_name = type(response).__name__
            op["_final"] = {"response": {"@type": TYPE_PREFIX + type_name, **to_json(response)}}
        self.operations[name] = op
        return self._op_view(op)

    def _op_view(self, op: dict[str, Any]) -> dict[str, Any]:
        if op["_polls_left"] <= 0:
            op["done"] = True
        view = {"name": op["name"], "done": op["done"]}
        if op["done"]:
            view.update(op["_final"])
        return view

    def get_operation(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        name = f"{self.parent(g)}/{g['op']}"
        op = self.operations.get(name)
        if op is None:
            raise RuleError(404, "NOT_FOUND", f"Operation {name} not found.")
        op["_polls_left"] -= 1
        return self._op_view(op)

    # --- models ---------------------------------------------------------------------------
    def _model(self, g: dict[str, str]) -> Any:
        name = f"{self.parent(g)}/models/{g['id']}"
        if name not in self.models:
            raise RuleError(404, "NOT_FOUND", f"Model {name} not found.")
        return self.models[name]

    def upload_model(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        req = parse("UploadModelRequest", body)
        model = req.model
        rules.check_display_name(model.display_name, "model")
        rules.check_labels(model.labels, "model")
        if not model.container_spec.image_uri:
            raise invalid("Model.container_spec.image_uri is required.")
        rules.check_artifact_uri(model.artifact_uri)
        if req.model_id and not rules.MODEL_ID_RE.match(req.model_id):
            raise invalid(f"model_id {req.model_id!r} does not match [a-z_][a-z0-9_-]{{0,62}}.")
        model_id = req.model_id or self._new_id(19)
        model.name = f"{self.parent(g)}/models/{model_id}"
        if model.name in self.models:
            raise RuleError(409, "ALREADY_EXISTS", f"Model {model.name} already exists.")
        model.version_id = "1"
        self.check_artifacts(model)
        self.models[model.name] = model
        response = v1().UploadModelResponse(model=model.name, model_version_id="1")
        return self.operation(self.parent(g), response)

    def check_artifacts(self, model: Any) -> None:
        """Overridden by the emulator, which owns the Cloud Storage side."""

    def get_model(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        return to_json(self._model(g))

    def list_models(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        parent = self.parent(g)
        wanted = dict(re.findall(r'labels\.([a-z0-9_-]+)\s*=\s*"([^"]*)"', q.get("filter", "")))
        found = [
            to_json(m)
            for n, m in sorted(self.models.items())
            if n.startswith(parent + "/") and all(m.labels.get(k) == v for k, v in wanted.items())
        ]
        return {"models": found}

    def delete_model(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        model = self._model(g)
        users = [
            e.name for e in self.endpoints.values() if any(d.model == model.name for d in e.deployed_models)
        ]
        if users:
            raise RuleError(
                400,
                "FAILED_PRECONDITION",
                f"The Model {model.name} is deployed or being deployed at the following "
                f"Endpoint(s): {', '.join(users)}.",
            )
        del self.models[model.name]
        return self.operation(model.name, None)

    # --- endpoints ------------------------------------------------------------------------
    def _endpoint(self, g: dict[str, str]) -> Any:
        name = f"{self.parent(g)}/endpoints/{g['id']}"
        if name not in self.endpoints:
            raise RuleError(404, "NOT_FOUND", f"Endpoint {name} not found.")
        return self.endpoints[name]

    def create_endpoint(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        endpoint = parse("Endpoint", body)
        rules.check_display_name(endpoint.display_name, "endpoint")
        rules.check_labels(endpoint.labels, "endpoint")
        if endpoint.deployed_models or endpoint.traffic_split:
            raise invalid("deployed_models and traffic_split are output only at creation.")
        rules.check_network(endpoint.network)
        rules.check_logging_config(endpoint.predict_request_response_logging_config)
        endpoint_id = q.get("endpointId") or q.get("endpoint_id") or self._new_id(9)
        if not rules.ENDPOINT_ID_RE.match(endpoint_id):
            raise invalid(
                f"endpoint_id {endpoint_id!r} is invalid: a letter then up to 62 of [a-z0-9-] "
                "ending in a letter or digit, or up to 9 digits without a leading zero."
            )
        endpoint.name = f"{self.parent(g)}/endpoints/{endpoint_id}"
        if endpoint.name in self.endpoints:
            raise RuleError(409, "ALREADY_EXISTS", f"Endpoint {endpoint.name} already exists.")
        endpoint.etag = self._new_id(8)
        self.endpoints[endpoint.name] = endpoint
        return self.operation(endpoint.name, endpoint)

    def get_endpoint(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        return to_json(self._endpoint(g))

    def list_endpoints(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        parent = self.parent(g)
        return {
            "endpoints": [to_json(e) for n, e in sorted(self.endpoints.items()) if n.startswith(parent + "/")]
        }

    def patch_endpoint(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        endpoint = self._endpoint(g)
        patch = parse("Endpoint", body)
        paths = [p for p in (q.get("updateMask") or q.get("update_mask") or "").split(",") if p]
        if not paths:
            raise invalid("update_mask is required.")
        allowed = {
            "display_name",
            "displayName",
            "description",
            "labels",
            "traffic_split",
            "trafficSplit",
            "predict_request_response_logging_config",
            "predictRequestResponseLoggingConfig",
        }
        for path in paths:
            if path not in allowed:
                raise invalid(f"update_mask path {path!r} is not updatable.")
            attr = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), path)
            value = getattr(patch, attr)
            if attr == "display_name":
                rules.check_display_name(value, "endpoint")
            if attr == "labels":
                rules.check_labels(value, "endpoint")
            if attr == "traffic_split":
                rules.check_traffic(dict(value), {d.id for d in endpoint.deployed_models})
            if attr == "predict_request_response_logging_config":
                rules.check_logging_config(value)
            if attr in ("labels", "traffic_split"):
                getattr(endpoint, attr).clear()
                getattr(endpoint, attr).update(dict(value))
            else:
                setattr(endpoint, attr, value)
        endpoint.etag = self._new_id(8)
        return to_json(endpoint)

    def delete_endpoint(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        endpoint = self._endpoint(g)
        if endpoint.deployed_models:
            raise RuleError(
                400,
                "FAILED_PRECONDITION",
                f"Endpoint {endpoint.name} has deployed models; undeploy them before deleting it.",
            )
        job = self.monitored_by(endpoint.name)
        if job is not None:
            raise RuleError(400, "FAILED_PRECONDITION", f"Endpoint {endpoint.name} is monitored by {job}.")
        del self.endpoints[endpoint.name]
        return self.operation(endpoint.name, None)

    def deploy_model(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        endpoint = self._endpoint(g)
        req = parse("DeployModelRequest", body)
        deployed = req.deployed_model
        if deployed.model not in self.models and _with_id(deployed.model, self.projects) not in self.models:
            raise RuleError(404, "NOT_FOUND", f"Model {deployed.model} not found.")
        deployed.model = _with_id(deployed.model, self.projects)
        if "dedicated_resources" not in deployed:
            raise invalid("This Model requires dedicated_resources (machine_spec and replica counts).")
        rules.check_dedicated_resources(deployed.dedicated_resources)
        ids = {d.id for d in endpoint.deployed_models}
        if deployed.id and not rules.DEPLOYED_MODEL_ID_RE.match(deployed.id):
            raise invalid(f"DeployedModel.id {deployed.id!r} must be 1-10 characters of [0-9].")
        if deployed.id in ids:
            raise RuleError(
                409, "ALREADY_EXISTS", f"DeployedModel {deployed.id} already exists on the Endpoint."
            )
        rules.check_traffic(dict(req.traffic_split), ids, allow_new=True)
        rules.check_private_endpoint(endpoint.network, ids, dict(req.traffic_split))
        if self.deploy_failures:
            code, message = self.deploy_failures.pop(0)
            return self.operation(endpoint.name, None, error=(code, message))
        deployed.id = deployed.id or self._new_id(10)
        deployed.create_time = datetime.now(UTC)
        endpoint.deployed_models.append(deployed)
        if req.traffic_split:
            split = {(deployed.id if k == "0" else k): v for k, v in req.traffic_split.items()}
            endpoint.traffic_split.clear()
            endpoint.traffic_split.update(split)
        return self.operation(endpoint.name, v1().DeployModelResponse(deployed_model=deployed))

    def undeploy_model(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        endpoint = self._endpoint(g)
        req = parse("UndeployModelRequest", body)
        ids = [d.id for d in endpoint.deployed_models]
        if req.deployed_model_id not in ids:
            raise RuleError(
                404, "NOT_FOUND", f"DeployedModel {req.deployed_model_id} not found on {endpoint.name}."
            )
        job = self.monitored_by(endpoint.name, req.deployed_model_id)
        if job is not None:
            raise RuleError(
                400,
                "FAILED_PRECONDITION",
                f"DeployedModel {req.deployed_model_id} is monitored by {job}; remove it from the "
                "job's objective configs or delete the job before undeploying it.",
            )
        remaining = set(ids) - {req.deployed_model_id}
        split = dict(req.traffic_split) if req.traffic_split else dict(endpoint.traffic_split)
        if remaining:
            rules.check_traffic(dict(req.traffic_split), set(ids))
            if split.get(req.deployed_model_id, 0):
                raise RuleError(
                    400,
                    "FAILED_PRECONDITION",
                    f"DeployedModel {req.deployed_model_id} still receives traffic; move it "
                    "off first or pass a traffic_split that unassigns it.",
                )
        split = {k: v for k, v in split.items() if k in remaining and v}
        endpoint.traffic_split.clear()
        endpoint.traffic_split.update(split)
        keep = [d for d in endpoint.deployed_models if d.id != req.deployed_model_id]
        del endpoint.deployed_models[:]
        endpoint.deployed_models.extend(keep)
        return self.operation(endpoint.name, v1().UndeployModelResponse())

    def mutate_deployed_model(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        endpoint = self._endpoint(g)
        req = parse("MutateDeployedModelRequest", body)
        target = next((d for d in endpoint.deployed_models if d.id == req.deployed_model.id), None)
        if target is None:
            raise RuleError(404, "NOT_FOUND", f"DeployedModel {req.deployed_model.id} not found.")
        allowed = {
            "dedicated_resources.min_replica_count",
            "dedicated_resources.max_replica_count",
            "dedicated_resources.autoscaling_metric_specs",
            "disable_container_logging",
            "dedicated_resources.required_replica_count",
        }
        new = req.deployed_model.dedicated_resources
        for path in req.update_mask.paths:
            if path not in allowed:
                raise invalid(f"update_mask path {path!r} cannot be mutated.")
            leaf = path.split(".")[-1]
            if leaf == "autoscaling_metric_specs":
                del target.dedicated_resources.autoscaling_metric_specs[:]
                target.dedicated_resources.autoscaling_metric_specs.extend(new.autoscaling_metric_specs)
            elif path.startswith("dedicated_resources."):
                setattr(target.dedicated_resources, leaf, getattr(new, leaf))
        rules.check_dedicated_resources(target.dedicated_resources)
        return self.operation(endpoint.name, v1().MutateDeployedModelResponse(deployed_model=target))

    # --- predict --------------------------------------------------------------------------
    def predict(self, g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
        endpoint = self._endpoint(g)
        req = parse("PredictRequest", body)
        split = {k: v for k, v in endpoint.traffic_split.items() if v}
        if not split:
            raise RuleError(
                400,
                "FAILED_PRECONDITION",
                f"Endpoint {endpoint.name} has no traffic split; no model serves it.",
            )
        chosen = self._rng.choices(list(split), weights=list(split.values()))[0]
        deployed = next(d for d in endpoint.deployed_models if d.id == chosen)
        model = self.models.get(deployed.model)
        instances = json.loads(body or b"{}").get("instances", [])
        start = time.perf_counter()
        try:
            predict = self.load_predictor(model)
            predictions = predict(instances)
        except RuleError:
            self._sample(endpoint.name, chosen, start, error=True)
            raise
        except Exception as exc:
            self._sample(endpoint.name, chosen, start, error=True)
            raise invalid(f"Prediction failed: {type(exc).__name__}: {exc}") from exc
        self._sample(endpoint.name, chosen, start, error=False)
        del req
        return {
            "predictions": predictions,
            "deployedModelId": chosen,
            "model": deployed.model,
            "modelDisplayName": model.display_name if model else "",
            "modelVersionId": "1",
        }

    def _sample(self, endpoint_name: str, deployed_id: str, start: float, *, error: bool) -> None:
        latency = (time.perf_counter() - start) * 1000
        endpoint_id = endpoint_name.rsplit("/", 1)[1]
        self.samples.append(Sample(time.time(), endpoint_id, deployed_id, latency, error))


def _with_id(name: str, projects: dict[str, str]) -> str:
    """Model names may be given with the project id; stored ones carry the number."""
    parts = name.split("/")
    if len(parts) > 1 and parts[1] in projects:
        parts[1] = projects[parts[1]]
    return "/".join(parts)
