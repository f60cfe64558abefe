"""The drift monitoring job's lifecycle, as steps of the provider's chains.

One job per endpoint, found by its labels (managed-by, deployment) and its endpoint. It
monitors every deployed model of the endpoint: a version deployed later is added, and a
version is removed from the job before it is undeployed, since Vertex AI refuses to
undeploy a model a job monitors. Observe reports the job's hash label only while the job
covers exactly the deployed models, so a job left partial plans an update that repairs it.
"""

from __future__ import annotations

from typing import Any

from cloudserve import tags as T
from cloudserve.provider import DesiredEndpoint
from cloudserve.steps import Context, Step
from cloudserve_vertex import monitoring
from cloudserve_vertex.client import VertexClient


def find_job(client: VertexClient, endpoint_name: str, deployment: str) -> Any | None:
    """The job cloudserve made for this endpoint (names may carry project id or number)."""
    tail = endpoint_name.split("/locations/", 1)[-1]
    labels = {T.MANAGED_BY: T.MANAGED_BY_VALUE, T.DEPLOYMENT: deployment}
    for job in client.list_monitoring_jobs(labels):
        if job.endpoint.endswith(f"/locations/{tail}"):
            return job
    return None


def observed_hash(job: Any | None, endpoint: Any) -> str | None:
    if job is None:
        return None
    if monitoring.covered(job) != {d.id for d in endpoint.deployed_models}:
        return None  # a partial job: plan an update, which re-covers every deployed model
    value = job.labels.get(monitoring.HASH_LABEL)
    return str(value) if value else None


def apply_steps(client: VertexClient, desired: DesiredEndpoint) -> list[Step]:
    """Create, patch or delete the job so it matches ``monitoring.drift`` (nothing if it does)."""

    def stage(ctx: Context) -> str | None:
        drift = desired.deployment.spec.monitoring.drift
        return monitoring.stage_baseline(client, desired) if drift is not None else None

    def converge(ctx: Context) -> Any:
        endpoint = client.get_endpoint(client.endpoint_name(desired.name))
        job = find_job(client, endpoint.name, desired.name)
        if desired.monitoring_hash is None:
            return client.delete_monitoring_job(job.name) if job is not None else None
        if job is not None and observed_hash(job, endpoint) == desired.monitoring_hash:
            return None
        ids = [d.id for d in endpoint.deployed_models]
        body = monitoring.job(desired, endpoint.name, ids, ctx["stage drift baseline"], client.project)
        if job is None:
            return client.create_monitoring_job(body)
        body.name = job.name
        return client.update_monitoring_job(body, monitoring.UPDATE_PATHS)

    return [("stage drift baseline", stage), ("drift monitoring job", converge)]


def cover_step(client: VertexClient, deployment: str, without: str | None = None) -> Step:
    """Make the job monitor every deployed model except ``without`` (about to be undeployed)."""
    from cloudserve_vertex.client import v1

    def cover(ctx: Context) -> Any:
        endpoint = client.get_endpoint(client.endpoint_name(deployment))
        job = find_job(client, endpoint.name, deployment)
        if job is None or not job.model_deployment_monitoring_objective_configs:
            return None
        wanted = sorted(d.id for d in endpoint.deployed_models if d.id != without)
        if set(wanted) == monitoring.covered(job) or not wanted:
            return None
        objective = job.model_deployment_monitoring_objective_configs[0].objective_config
        configs = [
            v1().ModelDeploymentMonitoringObjectiveConfig(deployed_model_id=i, objective_config=objective)
            for i in wanted
        ]
        body = v1().ModelDeploymentMonitoringJob(
            name=job.name, model_deployment_monitoring_objective_configs=configs
        )
        return client.update_monitoring_job(body, ["model_deployment_monitoring_objective_configs"])

    return (f"monitor deployed models of {deployment}", cover)


def delete_step(client: VertexClient, endpoint_name: str, deployment: str) -> Step:
    def delete(ctx: Context) -> Any:
        job = find_job(client, endpoint_name, deployment)
        return client.delete_monitoring_job(job.name) if job is not None else None

    return ("delete drift monitoring job", delete)
