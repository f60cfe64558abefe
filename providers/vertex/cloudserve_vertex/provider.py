"""The Vertex AI target: one Endpoint per deployment, one Model and DeployedModel per version.

This module imports no Google SDK; :mod:`cloudserve_vertex.client` does, on first use.
Versions are addressed by name everywhere the core can see: the DeployedModel's display
name is the version name, and the numeric deployed-model ids Vertex AI uses for traffic
splits are looked up here and never returned.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

from cloudserve import tags as T
from cloudserve.errors import Conflict, InvalidSpec, NotFound, NotSupported
from cloudserve.provider import (
    Capability,
    DesiredEndpoint,
    DesiredVersion,
    Done,
    EndpointState,
    Feature,
    InvokeResult,
    Operation,
    PlanNote,
    Provider,
    Status,
    Support,
    VersionMetrics,
    VersionState,
    coerce_settings,
)
from cloudserve.spec.models import Deployment
from cloudserve.steps import Context, Step, StepOperation, ignore_context
from cloudserve_vertex import catalog, containers, drift, metrics, monitoring, translate
from cloudserve_vertex.client import VertexClient
from cloudserve_vertex.settings import VertexSettings
from cloudserve_vertex.steps import chain, deploy_step, upload_steps
from cloudserve_vertex.validation import problems as validation_problems

CAPABILITIES = {
    Feature.TRAFFIC_SPLIT: (Support.NATIVE, "Endpoint.trafficSplit across deployed models"),
    Feature.MIRROR: (
        Support.UNSUPPORTED,
        "a Vertex AI endpoint sends each request to exactly one deployed "
        "model chosen by trafficSplit; it cannot copy (shadow) requests to another",
    ),
    Feature.REPLICAS: (Support.NATIVE, "dedicatedResources minReplicaCount"),
    Feature.AUTOSCALE: (Support.NATIVE, "dedicatedResources min/max replicas with autoscalingMetricSpecs"),
    Feature.SERVERLESS: (
        Support.UNSUPPORTED,
        "dedicated resources keep at least one replica "
        "(minReplicaCount >= 1); the v1 API has no scale to zero",
    ),
    Feature.ACCELERATOR: (Support.NATIVE, "machineSpec acceleratorType and acceleratorCount"),
    Feature.CAPTURE: (
        Support.NATIVE,
        "request-response logging to BigQuery (predictRequestResponseLoggingConfig)",
    ),
    Feature.DRIFT_MONITORING: (
        Support.NATIVE,
        "a model deployment monitoring job on the endpoint: skew against the baseline and drift "
        "between windows per feature, hourly or slower, alerts by email or notification channel",
    ),
    Feature.ROLLOUT: (
        Support.EMULATED,
        "Vertex AI has no canary: cloudserve moves trafficSplit step by "
        "step and reads Cloud Monitoring for the gates",
    ),
}


class VertexProvider(Provider):
    name = "vertex"

    def __init__(self, settings: Any = None, *, offline: bool = False) -> None:
        super().__init__(coerce_settings(VertexSettings, settings), offline=offline)
        self._client: VertexClient | None = None
        # Model resource name -> its labels. cloudserve never relabels a Model and Vertex AI
        # assigns each upload a new id, so one read per Model is enough: a rollout's polls
        # observe the endpoint every few seconds and would otherwise re-read every Model.
        self._model_labels: dict[str, dict[str, str]] = {}

    @property
    def client(self) -> VertexClient:
        if self._client is None:
            self._client = VertexClient(self.settings)
        return self._client

    # --- what the target can do -------------------------------------------------------------
    def capabilities(self) -> Mapping[Feature, Capability]:
        return {f: Capability(f, support, reason) for f, (support, reason) in CAPABILITIES.items()}

    def validate(self, desired: DesiredEndpoint) -> list[str]:
        return validation_problems(desired) + monitoring.problems(desired)

    def resolve_instance_type(self, deployment: Deployment) -> str | None:
        try:
            return catalog.choose(deployment).machine_type
        except InvalidSpec:
            return None  # validate() reports why, with the other problems

    def plan_note(self, desired: DesiredEndpoint, version: DesiredVersion) -> PlanNote:
        container = _container_note(desired.deployment, version.name)
        if version.instance_type is None:
            return PlanNote(notes=container)
        try:  # the same choice resolve_instance_type made, recomputed: plan calls keep no state
            choice: catalog.Choice | None = catalog.choose(desired.deployment)
        except InvalidSpec:
            choice = None
        if choice is not None and choice.machine_type != version.instance_type:
            choice = None
        machine = catalog.machine_types().get(version.instance_type)
        price = choice.hourly_usd if choice else (machine.hourly_usd if machine else None)
        data = catalog.data()
        notes = [f"on-demand price from the catalog of {data['catalog_date']}"]
        if choice and choice.accelerator_type:
            notes.append(f"{choice.accelerator_count}x {choice.accelerator_type}")
        if self.settings.location != data["region"]:
            notes.append(f"price is {data['region']}'s; {self.settings.location} may differ")
        return PlanNote(
            instance_type=version.instance_type, hourly_price_usd=price, notes=(*container, *notes)
        )

    def operations(self, action: str, desired: DesiredEndpoint, subject: str) -> list[str]:
        deploy = [f"models.upload {desired.name}-{subject}", f"endpoints.deployModel {subject}"]
        stage = ["storage.objects.insert (stage artifact, once per content)"]
        drift_spec = desired.deployment.spec.monitoring.drift
        job_create = (
            [
                "storage.objects.insert (stage drift baseline, once per content)",
                f"modelDeploymentMonitoringJobs.create every {drift_spec.schedule}",
            ]
            if drift_spec
            else []
        )
        table = {
            "create_endpoint": [
                *stage,
                "models.upload (one per version)",
                f"endpoints.create {desired.name}",
                "endpoints.deployModel (one per version)",
                "endpoints.patch trafficSplit",
                *job_create,
            ],
            "create_version": stage + deploy,
            "replace_version": [
                *stage,
                *deploy[:1],
                f"endpoints.deployModel {subject} (takes over its traffic)",
                f"endpoints.undeployModel old {subject}",
                "models.delete old model",
            ],
            "update_version": [f"endpoints.mutateDeployedModel {subject} (replicas, autoscaling)"],
            "delete_version": [f"endpoints.undeployModel {subject}", "models.delete"],
            "set_traffic": [f"endpoints.patch {desired.name} trafficSplit"],
            "update_endpoint": [
                f"endpoints.patch {desired.name} labels, predictRequestResponseLoggingConfig",
                *(
                    ["modelDeploymentMonitoringJobs.create or .patch (drift)", *job_create[:1]]
                    if drift_spec
                    else ["modelDeploymentMonitoringJobs.delete (if one exists)"]
                ),
            ],
            "delete_endpoint": [
                "modelDeploymentMonitoringJobs.delete (if one exists)",
                "endpoints.patch trafficSplit={}",
                "endpoints.undeployModel (each)",
                f"endpoints.delete {desired.name}",
                "models.delete (each cloudserve model)",
            ],
        }
        return table.get(action, [])

    # --- read -------------------------------------------------------------------------------
    def _get(self, name: str) -> Any | None:
        try:
            return self.client.get_endpoint(self.client.endpoint_name(name))
        except NotFound:
            return None

    def _ids(self, endpoint: Any) -> dict[str, str]:
        """version name -> deployed model id; with two of one name (mid-replace), the one
        with traffic, else the newest, is the version."""
        split = dict(endpoint.traffic_split)
        ranked = sorted(
            endpoint.deployed_models,
            key=lambda d: (split.get(d.id, 0), d.create_time.timestamp() if d.create_time else 0),
        )
        return {d.display_name: d.id for d in ranked}

    def list_endpoints(self) -> list[str]:
        return self.client.list_endpoint_ids()  # cloudserve names an endpoint by its id

    def observe(self, name: str) -> EndpointState | None:
        endpoint = self._get(name)
        if endpoint is None:
            return None
        ids = self._ids(endpoint)
        by_id = {d.id: d for d in endpoint.deployed_models}
        versions = {v: self._version_state(v, by_id[i]) for v, i in ids.items()}
        names = {i: v for v, i in ids.items()}
        traffic = {v: 0 for v in versions}
        traffic.update({names[i]: pct for i, pct in endpoint.traffic_split.items() if i in names})
        logging = endpoint.predict_request_response_logging_config
        job = drift.find_job(self.client, endpoint.name, name)
        return EndpointState(
            name=name,
            status=Status.READY,
            versions=versions,
            traffic=traffic,
            tags=dict(endpoint.labels),
            capture_percent=round(logging.sampling_rate * 100) if logging.enabled else None,
            monitoring_hash=drift.observed_hash(job, endpoint),
            url=None
            if self.client.emulator
            else f"https://{self.settings.location}-aiplatform.googleapis.com/v1/{endpoint.name}:predict",
        )

    def read_tags(self, name: str) -> dict[str, str] | None:
        """One endpoints.get: a rollout polls this for pause/abort/promote requests."""
        endpoint = self._get(name)
        return dict(endpoint.labels) if endpoint is not None else None

    def _version_state(self, version: str, deployed: Any) -> VersionState:
        labels = self._model_labels.get(deployed.model)
        if labels is None:
            try:
                labels = dict(self.client.get_model(deployed.model).labels)
            except NotFound:
                labels = {}
            else:
                self._model_labels[deployed.model] = labels
        resources = deployed.dedicated_resources
        return VersionState(
            name=version,
            config_hash=labels.get(T.CONFIG_HASH),
            status=Status.READY,
            scaling=translate.scaling_of(resources),
            instance_type=resources.machine_spec.machine_type or None,
        )

    def _require(self, name: str) -> Any:
        endpoint = self._get(name)
        if endpoint is None:
            raise NotFound(f"Vertex AI endpoint {name!r} does not exist", target=self.name)
        return endpoint

    # --- write ------------------------------------------------------------------------------
    def create_endpoint(self, desired: DesiredEndpoint) -> Operation:
        client = self.client
        steps: list[Step] = []
        for version in desired.versions:
            steps += upload_steps(client, desired, version)
        body = translate.build_endpoint(desired, client.project)
        steps.append(("create endpoint", lambda ctx: client.create_endpoint(body, desired.name)))
        for i, version in enumerate(desired.versions):
            # The first deployed model takes all traffic ("0" = the model being deployed);
            # the rest join at 0% and the final patch sets the spec's split.
            steps.append(deploy_step(client, desired, version, _all_traffic if i == 0 else _no_traffic))
        steps.append(("set traffic", lambda ctx: self._patch_traffic(desired.name, desired.traffic)))
        if desired.monitoring_hash is not None:
            steps += drift.apply_steps(client, desired)
        return chain(f"create Vertex AI endpoint {desired.name}", steps)

    def create_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        steps = [
            *upload_steps(self.client, desired, version.name),
            deploy_step(self.client, desired, version.name),
            drift.cover_step(self.client, desired.name),
        ]
        return chain(f"deploy version {version.name}", steps)

    def replace_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        """Deploy the new model beside the old one, hand it the old one's share in the same
        deployModel call, then undeploy and delete the old: no moment without a server."""
        client, endpoint = self.client, self._require(desired.name)
        old_id = self._ids(endpoint).get(version.name)
        old = next((d for d in endpoint.deployed_models if d.id == old_id), None)

        def traffic(ctx: Context) -> dict[str, int] | None:
            split = dict(self._require(desired.name).traffic_split)
            share = split.pop(old_id, 0) if old_id else 0
            return {**{k: v for k, v in split.items() if v}, "0": share} if share else None

        steps = [
            *upload_steps(client, desired, version.name),
            deploy_step(client, desired, version.name, traffic),
        ]
        if old is not None:
            name = client.endpoint_name(desired.name)
            steps.append(drift.cover_step(client, desired.name, without=old.id))
            steps.append(("undeploy old", lambda ctx: client.undeploy_model(name, old.id, None)))
            steps.append(("delete old model", lambda ctx: self._delete_model(old.model)))
        return chain(f"replace version {version.name}", steps)

    def update_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        from cloudserve_vertex.client import v1

        endpoint = self._require(desired.name)
        deployed_id = self._ids(endpoint).get(version.name)
        if deployed_id is None:
            raise NotFound(f"version {version.name} is not deployed on {desired.name}", target=self.name)
        types = v1()
        current = next(d for d in endpoint.deployed_models if d.id == deployed_id)
        resources = types.DedicatedResources(
            machine_spec=current.dedicated_resources.machine_spec,
            min_replica_count=max(version.scaling.min, 1),
            max_replica_count=max(version.scaling.max, version.scaling.min, 1),
            autoscaling_metric_specs=translate.autoscaling_specs(version.scaling),
        )
        deployed = types.DeployedModel(id=deployed_id, dedicated_resources=resources)
        paths = [
            f"dedicated_resources.{p}"
            for p in ("min_replica_count", "max_replica_count", "autoscaling_metric_specs")
        ]
        name = self.client.endpoint_name(desired.name)
        return chain(
            f"rescale version {version.name}",
            [("mutate", lambda ctx: self.client.mutate_deployed_model(name, deployed, paths))],
        )

    def delete_version(self, desired: DesiredEndpoint, name: str) -> Operation:
        endpoint = self._require(desired.name)
        deployed_id = self._ids(endpoint).get(name)
        if deployed_id is None:
            return Done(f"version {name} is not deployed")
        deployed = next(d for d in endpoint.deployed_models if d.id == deployed_id)
        ep_name = self.client.endpoint_name(desired.name)
        return chain(
            f"remove version {name}",
            [
                drift.cover_step(self.client, desired.name, without=deployed_id),
                ("undeploy", lambda ctx: self.client.undeploy_model(ep_name, deployed_id, None)),
                ("delete model", lambda ctx: self._delete_model(deployed.model)),
            ],
        )

    def _patch_traffic(self, name: str, traffic: Mapping[str, int]) -> None:
        from cloudserve_vertex.client import v1

        endpoint = self._require(name)
        split = translate.traffic_by_id(traffic, self._ids(endpoint))
        if split == {k: v for k, v in endpoint.traffic_split.items() if v}:
            return
        self.client.update_endpoint(v1().Endpoint(name=endpoint.name, traffic_split=split), ["traffic_split"])

    def set_traffic(self, name: str, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> Operation:
        if any(mirror.values()):
            raise NotSupported(CAPABILITIES[Feature.MIRROR][1], target=self.name)
        self._patch_traffic(name, traffic)
        return Done(f"traffic on {name} set to {dict(traffic)}")

    def update_endpoint(self, desired: DesiredEndpoint) -> Operation:
        from cloudserve_vertex.client import v1

        endpoint = self._require(desired.name)
        # The rollout record spans several labels (cloudserve-rollout, -steps, -from-2 ...).
        keep = {k: v for k, v in endpoint.labels.items() if T.is_rollout_bookkeeping(k)}
        body = v1().Endpoint(
            name=endpoint.name,
            labels={**translate.endpoint_labels(desired), **keep},
            predict_request_response_logging_config=translate.logging_config(
                desired.deployment.spec.capture, self.client.project
            ),
        )
        self.client.update_endpoint(body, ["labels", "predict_request_response_logging_config"])
        return chain(f"endpoint {desired.name} settings", drift.apply_steps(self.client, desired))

    def write_tags(self, name: str, tags: Mapping[str, str | None]) -> None:
        from cloudserve_vertex.client import v1

        endpoint = self._require(name)
        labels = dict(endpoint.labels)
        for key, value in tags.items():
            if value is None:
                labels.pop(key, None)
            else:
                labels[key] = value
        problems = translate.label_problems(labels, f"endpoint {name}")
        if problems:
            raise InvalidSpec("; ".join(problems), target=self.name)
        self.client.update_endpoint(v1().Endpoint(name=endpoint.name, labels=labels), ["labels"])

    def _delete_model(self, model: str) -> Any:
        self._model_labels.pop(model, None)
        try:
            return self.client.delete_model(model)
        except NotFound:
            return None

    def delete_endpoint(self, name: str) -> Operation:
        """Undeploy every model, delete the endpoint, then delete the Models cloudserve
        uploaded for this deployment (by their labels), and nothing else."""
        client = self.client
        endpoint = self._get(name)
        steps: list[Step] = []
        if endpoint is not None:
            if endpoint.labels.get(T.MANAGED_BY) != T.MANAGED_BY_VALUE:
                raise Conflict(
                    f"Vertex AI endpoint {name!r} was not created by cloudserve; not deleting it",
                    target=self.name,
                )
            steps.append(
                drift.delete_step(client, endpoint.name, name)
            )  # a monitored model cannot be undeployed
            if endpoint.traffic_split:
                steps.append(("clear traffic", lambda ctx: self._patch_traffic(name, {})))
            for deployed in endpoint.deployed_models:
                undeploy = functools.partial(client.undeploy_model, endpoint.name, deployed.id, None)
                steps.append((f"undeploy {deployed.display_name}", ignore_context(undeploy)))
            steps.append(("delete endpoint", lambda ctx: client.delete_endpoint(endpoint.name)))
        steps.append(("list models", lambda ctx: self._owned_models(name)))
        operation = chain(f"delete Vertex AI endpoint {name}", steps)
        operation.then("delete models", lambda ctx: self._delete_models(operation, ctx["list models"]))
        return operation

    def _owned_models(self, name: str) -> list[str]:
        labels = {T.MANAGED_BY: T.MANAGED_BY_VALUE, T.DEPLOYMENT: name}
        return [m.name for m in self.client.list_models(labels)]

    def _delete_models(self, operation: StepOperation, names: list[str]) -> None:
        for model in names:
            operation.then(
                f"delete model {model}", ignore_context(functools.partial(self._delete_model, model))
            )

    # --- data plane ---------------------------------------------------------------------------
    def invoke(self, name: str, payload: Any, *, version: str | None = None) -> InvokeResult:
        endpoint = self._require(name)
        ids = self._ids(endpoint)
        if version is not None:
            share = endpoint.traffic_split.get(ids.get(version, ""), 0)
            if share != 100:
                raise NotSupported(
                    f"Vertex AI's predict routes by the endpoint's traffic split and cannot address one "
                    f"deployed model; version {version!r} has {share}% of {name!r}",
                    hint="invoke without a version, or move all traffic to it first",
                    target=self.name,
                )
        body = payload if isinstance(payload, dict) else {"instances": payload}
        start = time.perf_counter()
        response = self.client.predict(endpoint.name, list(body.get("instances", [])), body.get("parameters"))
        latency = (time.perf_counter() - start) * 1000
        names = {i: v for v, i in ids.items()}
        predictions = [_plain(p) for p in response.predictions]
        return InvokeResult({"predictions": predictions}, names.get(response.deployed_model_id), 200, latency)

    def metrics(self, name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        endpoint = self._require(name)
        endpoint_id = endpoint.name.rsplit("/", 1)[1]
        series = {
            m: self.client.time_series(metrics.query(endpoint_id, m, window_seconds))
            for m in (metrics.COUNT, metrics.ERRORS, metrics.LATENCY)
        }
        return metrics.combine(
            metrics.counts(series[metrics.COUNT]),
            metrics.counts(series[metrics.ERRORS]),
            metrics.latencies(series[metrics.LATENCY]),
            self._ids(endpoint),
            versions,
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _all_traffic(ctx: Context) -> dict[str, int] | None:
    return {"0": 100}


def _no_traffic(ctx: Context) -> dict[str, int] | None:
    return None


def _plain(value: Any) -> Any:
    """proto-plus hands predictions back as floats; whole numbers become ints again, so a
    class label reads 1, as the model returned it, not 1.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "__iter__") and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def _container_note(deployment: Deployment, version: str) -> tuple[str, ...]:
    """Which container the version's Model gets, and why (the same choice apply makes)."""
    if version not in deployment.spec.versions:
        return ()
    chosen = containers.choose(deployment, version)
    return (f"container: {chosen.image} ({chosen.reason})",) if chosen.image else ()
