"""The Azure calls behind each provider action, as ordered steps (see StepOperation).

Kept apart from provider.py so the Provider stays a thin, readable map of actions; this
module touches the SDK only through :class:`.client.AzureClients`.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from cloudserve import tags as T
from cloudserve.errors import NotFound
from cloudserve.provider import (
    DesiredEndpoint,
    DesiredVersion,
    EndpointState,
    InvokeResult,
    Status,
    VersionMetrics,
    VersionState,
)
from cloudserve_azureml import catalog
from cloudserve_azureml import drift as dr
from cloudserve_azureml import translate as tr
from cloudserve_azureml.client import AzureClients
from cloudserve_azureml.settings import AzureMLSettings

_STATUS = {
    "creating": Status.CREATING,
    "updating": Status.UPDATING,
    "succeeded": Status.READY,
    "failed": Status.FAILED,
    "canceled": Status.FAILED,
    "deleting": Status.DELETING,
}
_AUTH = {"key": "key", "aml_token": "aml_token", "aad_token": "aad_token"}


def _status(state: str | None) -> Status:
    return _STATUS.get((state or "").lower(), Status.UPDATING)


class AzureOperations:
    def __init__(self, clients: AzureClients, settings: AzureMLSettings) -> None:
        self.c = clients
        self.settings = settings
        self._location: str | None = None

    @property
    def ent(self) -> Any:
        return self.c.entities()

    @property
    def location(self) -> str:
        if self._location is None:
            self._location = str(self.c.ml.workspaces.get(self.settings.workspace).location)
        return self._location

    # --- observe ------------------------------------------------------------------------------
    def _get_endpoint(self, name: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.c.ml.online_endpoints.get(name)
        except ResourceNotFoundError:
            return None

    def list_endpoints(self) -> list[str]:
        return [e.name for e in self.c.ml.online_endpoints.list()]

    def read_tags(self, name: str) -> dict[str, str] | None:
        endpoint = self._get_endpoint(name)
        return None if endpoint is None else dict(endpoint.tags or {})

    def observe(self, name: str) -> EndpointState | None:
        endpoint = self._get_endpoint(name)
        if endpoint is None:
            return None
        versions: dict[str, VersionState] = {}
        capture: int | None = None
        for dep in self.c.ml.online_deployments.list(name):
            tags = dict(dep.tags or {})
            autoscale = self._get_autoscale(name, dep.name)
            versions[dep.name] = VersionState(
                name=dep.name,
                config_hash=tags.get(T.CONFIG_HASH) if tags.get(T.MANAGED_BY) == T.MANAGED_BY_VALUE else None,
                status=_status(dep.provisioning_state),
                scaling=tr.scaling_from(int(dep.instance_count or 1), tags, autoscale),
                instance_type=dep.instance_type,
                failure_reason="provisioning failed"
                if _status(dep.provisioning_state) == Status.FAILED
                else None,
                details={"id": dep.id},
            )
            collector = getattr(dep, "data_collector", None)
            payload = set(getattr(collector, "collections", None) or {}) & set(tr.PAYLOAD_COLLECTIONS)
            if collector is not None and collector.sampling_rate is not None and payload:
                capture = round(float(collector.sampling_rate) * 100)
        traffic = {k: int(v) for k, v in (endpoint.traffic or {}).items() if k in versions}
        for v in versions:
            traffic.setdefault(v, 0)
        mirror = {k: int(v) for k, v in (endpoint.mirror_traffic or {}).items() if int(v)}
        return EndpointState(
            name=name,
            monitoring_hash=dr.observed_hash(self._get_schedule(name), list(versions)),
            status=_status(endpoint.provisioning_state),
            versions=versions,
            traffic=traffic,
            mirror=mirror,
            tags=dict(endpoint.tags or {}),
            capture_percent=capture,
            url=endpoint.scoring_uri,
            details={"id": endpoint.id, "auth_mode": endpoint.auth_mode},
        )

    def _get_autoscale(self, endpoint: str, version: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.c.monitor.autoscale_settings.get(
                self.settings.resource_group, tr.autoscale_name(endpoint, version)
            )
        except ResourceNotFoundError:
            return None

    # --- create / update -------------------------------------------------------------------------
    def create_endpoint_steps(self, desired: DesiredEndpoint) -> list[tuple[str, Any]]:
        auth = _AUTH[self.settings.auth_mode]
        steps: list[tuple[str, Any]] = [
            (
                f"create endpoint {desired.name}",
                lambda: self.c.ml.online_endpoints.begin_create_or_update(
                    tr.endpoint_entity(self.ent, desired, auth)
                ),
            )
        ]
        for version in desired.versions.values():
            steps += self.version_steps(desired, version)
        # Traffic only once every deployment exists: Azure rejects traffic to a deployment
        # that has not been created yet.
        steps.append(("set traffic", lambda: self.put_traffic(desired.name, desired.traffic, desired.mirror)))
        return steps + self.drift_steps(desired)

    def version_steps(self, desired: DesiredEndpoint, version: DesiredVersion) -> list[tuple[str, Any]]:
        steps: list[tuple[str, Any]] = [
            (f"create deployment {version.name}", lambda: self._put_deployment(desired, version))
        ]
        steps += self._autoscale_steps(desired, version)
        return steps

    def _put_deployment(self, desired: DesiredEndpoint, version: DesiredVersion) -> Any:
        ent = self.ent
        model = (
            tr.model_entity(ent, desired, version) if version.spec.model and not version.spec.image else None
        )
        if model is not None and not isinstance(model, str):
            model = self.c.ml.models.create_or_update(model)
        environment = self.c.ml.environments.create_or_update(tr.environment_entity(ent, desired, version))
        # resolve_instance_type always names a SKU; the image name used to stand in here
        instance_type = version.instance_type or catalog.smallest_fit(desired.deployment.spec.compute).name
        deployment = tr.deployment_entity(ent, desired, version, instance_type, model, environment)
        return self.c.ml.online_deployments.begin_create_or_update(deployment)

    def _autoscale_steps(self, desired: DesiredEndpoint, version: DesiredVersion) -> list[tuple[str, Any]]:
        name = tr.autoscale_name(desired.name, version.name)
        if version.scaling.autoscale_metric is None:
            return [(f"remove autoscale of {version.name}", lambda: self._delete_autoscale(name))]

        def put() -> None:
            from azure.mgmt.monitor.models import AutoscaleSettingResource

            ws = self.c.ml.workspaces.get(self.settings.workspace)
            endpoint_id = f"{ws.id}/onlineEndpoints/{desired.name}"
            body = tr.autoscale_body(
                desired, version, f"{endpoint_id}/deployments/{version.name}", endpoint_id, self.location
            )
            self.c.monitor.autoscale_settings.create_or_update(
                self.settings.resource_group, name, AutoscaleSettingResource.from_dict(body)
            )

        return [(f"set autoscale of {version.name}", put)]

    def _delete_autoscale(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.c.monitor.autoscale_settings.get(self.settings.resource_group, name)
        except ResourceNotFoundError:
            return
        self.c.monitor.autoscale_settings.delete(self.settings.resource_group, name)

    def scaling_steps(self, desired: DesiredEndpoint, version: DesiredVersion) -> list[tuple[str, Any]]:
        def resize() -> Any:
            dep = self.c.ml.online_deployments.get(version.name, desired.name)
            dep.instance_count = max(version.scaling.min, 1)
            dep.tags = tr.version_tags(desired, version) | {T.CONFIG_HASH: dep.tags.get(T.CONFIG_HASH, "")}
            return self.c.ml.online_deployments.begin_create_or_update(dep, skip_script_validation=True)

        return [(f"resize deployment {version.name}", resize), *self._autoscale_steps(desired, version)]

    def put_traffic(self, name: str, traffic: dict[str, int], mirror: dict[str, int]) -> Any:
        endpoint = self.c.ml.online_endpoints.get(name)
        endpoint.traffic = {k: int(v) for k, v in traffic.items()}
        endpoint.mirror_traffic = {k: int(v) for k, v in mirror.items()}
        return self.c.ml.online_endpoints.begin_create_or_update(endpoint)

    def update_endpoint_steps(self, desired: DesiredEndpoint) -> list[tuple[str, Any]]:
        def tags() -> Any:
            endpoint = self.c.ml.online_endpoints.get(desired.name)
            endpoint.tags = {
                **{k: v for k, v in (endpoint.tags or {}).items() if T.is_rollout_bookkeeping(k)},
                **desired.tags,
            }
            return self.c.ml.online_endpoints.begin_create_or_update(endpoint)

        steps: list[tuple[str, Any]] = [(f"update endpoint {desired.name}", tags)]
        for version in desired.versions.values():
            steps.append(
                (
                    f"update data collector of {version.name}",
                    lambda v=version: self._set_collector(desired, v),
                )
            )
        return steps + self.drift_steps(desired)

    def _set_collector(self, desired: DesiredEndpoint, version: DesiredVersion) -> Any:
        dep = self.c.ml.online_deployments.get(version.name, desired.name)
        dep.data_collector = tr.data_collector(self.ent, desired)
        columns = tr.baseline_columns(desired)
        env = dict(dep.environment_variables or {})
        if columns:
            env[tr.INPUT_COLUMNS_ENV] = json.dumps(columns)
        else:
            env.pop(tr.INPUT_COLUMNS_ENV, None)
        dep.environment_variables = env
        return self.c.ml.online_deployments.begin_create_or_update(dep, skip_script_validation=True)

    def write_tags(self, name: str, changes: dict[str, str | None]) -> None:
        endpoint = self.c.ml.online_endpoints.get(name)
        tags = dict(endpoint.tags or {})
        for key, value in changes.items():
            if value is None:
                tags.pop(key, None)
            else:
                tags[key] = value
        endpoint.tags = tags
        self.c.ml.online_endpoints.begin_create_or_update(endpoint).result()

    # --- drift monitoring -------------------------------------------------------------------------
    def _get_schedule(self, endpoint: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.c.ml.schedules.get(dr.schedule_name(endpoint))
        except ResourceNotFoundError:
            return None

    def drift_steps(self, desired: DesiredEndpoint) -> list[tuple[str, Any]]:
        """The monitor schedule as the spec wants it: written (with its baseline registered
        first), or removed when the spec has no drift monitoring."""
        if desired.deployment.spec.monitoring.drift is None:
            return [("remove drift schedule", lambda: self._delete_schedule(desired.name))]
        return [("set drift schedule", lambda: self._put_schedule(desired))]

    def _put_schedule(self, desired: DesiredEndpoint) -> Any:
        deployed = [d.name for d in self.c.ml.online_deployments.list(desired.name)]
        versions = [v for v in deployed if v in desired.versions]
        if not versions:
            return None
        baseline = self._register_baseline(desired)
        entity = dr.schedule_entity(self.ent, desired, versions, baseline)
        return self.c.ml.schedules.begin_create_or_update(entity)

    def _register_baseline(self, desired: DesiredEndpoint) -> str:
        """The baseline file as an MLTable data asset, versioned by its content hash, so an
        unchanged baseline is uploaded once."""
        import hashlib
        import shutil
        import tempfile
        from pathlib import Path

        from azure.core.exceptions import ResourceNotFoundError

        path = desired.baseline
        assert path is not None  # validation: Azure ML drift needs a local baseline
        version = hashlib.sha256(path.read_bytes()).hexdigest()[: T.HASH_LEN]
        name = dr.baseline_name(desired.name)
        try:
            found = self.c.ml.data.get(name, version=version)
            return f"azureml:{found.name}:{found.version}"
        except ResourceNotFoundError:
            pass
        with tempfile.TemporaryDirectory(prefix="cloudserve-baseline-") as tmp:
            folder = Path(tmp) / "baseline"
            folder.mkdir()
            shutil.copyfile(path, folder / path.name)
            (folder / "MLTable").write_text(dr.mltable_text(path.name))
            data = self.ent.Data(
                name=name,
                version=version,
                type="mltable",
                path=str(folder),
                description=f"cloudserve drift baseline of {desired.name} ({path.name})",
                tags={T.MANAGED_BY: T.MANAGED_BY_VALUE, T.DEPLOYMENT: desired.name},
            )
            created = self.c.ml.data.create_or_update(data)
        return f"azureml:{created.name}:{created.version}"

    def _delete_schedule(self, endpoint: str) -> Any:
        schedule = self._get_schedule(endpoint)
        if schedule is None or (schedule.tags or {}).get(T.MANAGED_BY) != T.MANAGED_BY_VALUE:
            return None
        return self.c.ml.schedules.begin_delete(dr.schedule_name(endpoint))

    # --- delete -------------------------------------------------------------------------------------
    def delete_version_steps(self, endpoint: str, name: str) -> list[tuple[str, Any]]:
        return [
            (
                f"remove autoscale of {name}",
                lambda: self._delete_autoscale(tr.autoscale_name(endpoint, name)),
            ),
            (f"delete deployment {name}", lambda: self.c.ml.online_deployments.begin_delete(name, endpoint)),
            (f"archive model of {name}", lambda: self._archive_model(endpoint, name)),
        ]

    def delete_endpoint_steps(self, name: str) -> list[tuple[str, Any]] | None:
        endpoint = self._get_endpoint(name)
        if endpoint is None:
            return None
        versions = [d.name for d in self.c.ml.online_deployments.list(name)]
        steps: list[tuple[str, Any]] = [("remove drift schedule", lambda: self._delete_schedule(name))]
        steps += [
            (f"remove autoscale of {v}", lambda v=v: self._delete_autoscale(tr.autoscale_name(name, v)))
            for v in versions
        ]
        steps.append((f"delete endpoint {name}", lambda: self.c.ml.online_endpoints.begin_delete(name)))
        steps += [(f"archive model of {v}", lambda v=v: self._archive_model(name, v)) for v in versions]
        return steps

    def _archive_model(self, endpoint: str, version: str) -> None:
        """Models registered for a version are archived (Azure ML's way to retire an asset;
        asset versions cannot be deleted through the SDK). Only ours: tagged, and named
        after the endpoint."""
        from azure.core.exceptions import ResourceNotFoundError

        name = f"{endpoint}-{version}"
        try:
            models = list(self.c.ml.models.list(name=name))
        except ResourceNotFoundError:
            return
        if any((m.tags or {}).get(T.MANAGED_BY) == T.MANAGED_BY_VALUE for m in models):
            self.c.ml.models.archive(name=name)

    # --- data plane ---------------------------------------------------------------------------------
    def invoke(self, name: str, payload: Any, version: str | None) -> InvokeResult:
        endpoint = self.c.ml.online_endpoints.get(name)
        keys = self.c.ml.online_endpoints.get_keys(name)
        token = getattr(keys, "primary_key", None) or getattr(keys, "access_token", None)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        if version:
            headers["azureml-model-deployment"] = version
        started = time.perf_counter()
        reply = self.c.session.post(
            endpoint.scoring_uri, data=json.dumps(payload), headers=headers, timeout=60
        )
        latency = (time.perf_counter() - started) * 1000
        try:
            body: Any = reply.json()
        except ValueError:
            body = reply.text
        if reply.status_code == 404 and version:
            raise NotFound(f"deployment {version!r} of endpoint {name!r}: {body}", target="azureml")
        return InvokeResult(
            body=body,
            version=reply.headers.get("azureml-model-deployment") or version,
            status_code=reply.status_code,
            latency_ms=latency,
        )

    def metrics(self, name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        endpoint = self.c.ml.online_endpoints.get(name)
        # Whole seconds, rounded up so the current second's requests are inside the window.
        end = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
        start = end - timedelta(seconds=max(window_seconds, 60))
        span = f"{start.strftime('%Y-%m-%dT%H:%M:%SZ')}/{end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        # Two reads: Azure Monitor validates a filter's dimensions against every metric asked
        # for, and the latency metrics have only `deployment` (supported metrics for
        # Microsoft.MachineLearningServices/workspaces/onlineEndpoints), so one read filtered
        # by statusCodeClass would be refused with a 400.
        read = partial(self.c.monitor.metrics.list, endpoint.id, timespan=span, interval="PT1M")
        counts = read(
            metricnames="RequestsPerMinute",
            aggregation="Average",
            filter="deployment eq '*' and statusCodeClass eq '*'",
        )
        latency = read(
            metricnames="RequestLatency_P50,RequestLatency_P99",
            aggregation="Average",
            filter="deployment eq '*'",
        )
        return _neutral_metrics([*counts.value, *latency.value], versions)


def _neutral_metrics(result: list[Any], versions: list[str]) -> dict[str, VersionMetrics]:
    """RequestsPerMinute per minute summed over the window = requests; 5xx = errors, 4xx =
    client_errors;
    latency percentiles: the worst minute in the window (a gate should see the spike)."""
    requests = dict.fromkeys(versions, 0.0)
    errors = dict.fromkeys(versions, 0.0)
    client_errors = dict.fromkeys(versions, 0.0)
    latency: dict[str, dict[str, float]] = {v: {} for v in versions}
    for metric in result:
        for series in metric.timeseries or []:
            dims = {m.name.value: m.value for m in series.metadatavalues or []}
            version = dims.get("deployment")
            if version not in requests:
                continue
            values = [p.average for p in series.data or [] if p.average is not None]
            if metric.name.value == "RequestsPerMinute":
                requests[version] += sum(values)
                if dims.get("statusCodeClass") == "5xx":
                    errors[version] += sum(values)
                elif dims.get("statusCodeClass") == "4xx":
                    client_errors[version] += sum(values)
            elif values:
                key = metric.name.value
                latency[version][key] = max([*values, latency[version].get(key, 0.0)])
    return {
        v: VersionMetrics(
            requests=requests[v],
            errors=errors[v],
            client_errors=client_errors[v],
            latency_p50_ms=latency[v].get("RequestLatency_P50"),
            latency_p99_ms=latency[v].get("RequestLatency_P99"),
        )
        for v in versions
    }
