"""The Python API: the CLI's verbs as functions over spec objects, returning typed results.

Orchestration code (Airflow, Prefect, Dagster, CI) calls these; every function accepts a
path, a mapping or a :class:`~cloudserve.spec.models.Deployment`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cloudserve import tags as T
from cloudserve.desired import build_desired
from cloudserve.errors import Conflict, InvokeFailed, NotFound
from cloudserve.executor import DEFAULT_TIMEOUT, ApplyResult, deployment_lock
from cloudserve.executor import apply as _apply
from cloudserve.planner import Plan, diff, make_plan
from cloudserve.provider import InvokeResult, Provider, VersionMetrics
from cloudserve.registry import create_provider
from cloudserve.rollout.controller import ProgressFn
from cloudserve.spec.loader import SpecSource, load_one
from cloudserve.spec.loader import load as _load
from cloudserve.spec.models import Deployment
from cloudserve.waiting import call_with_retry, wait_for

if TYPE_CHECKING:
    from cloudserve.rollout.gates import CallableGate

__all__ = ["apply", "destroy", "invoke", "load", "metrics", "plan", "status", "validate"]


def load(source: SpecSource, *, env: str | None = None, target: str | None = None) -> list[Deployment]:
    """Every deployment in a file, directory, mapping or Deployment, validated."""
    return _load(source, env=env, target=target)


validate = load


def _deployment(spec: SpecSource, env: str | None, target: str | None) -> Deployment:
    if isinstance(spec, Deployment) and env is None and target is None:
        return spec
    return load_one(spec, env=env, target=target)


def provider_for(deployment: Deployment, *, offline: bool = False) -> Provider:
    target = deployment.target
    provider = create_provider(target, deployment.target_settings(target), offline=offline)
    provider.project_dir = deployment.source_dir
    return provider


@contextmanager
def _provider(deployment: Deployment, provider: Provider | None, offline: bool = False) -> Iterator[Provider]:
    if provider is not None:
        yield provider
        return
    made = provider_for(deployment, offline=offline)
    try:
        yield made
    finally:
        made.close()


def plan(
    spec: SpecSource,
    *,
    env: str | None = None,
    target: str | None = None,
    offline: bool = False,
    provider: Provider | None = None,
) -> Plan:
    """What apply would do. ``offline`` needs no credentials: it plans from scratch."""
    deployment = _deployment(spec, env, target)
    with _provider(deployment, provider, offline) as prov:
        return make_plan(deployment, prov, offline=offline)


def apply(
    spec: SpecSource,
    *,
    env: str | None = None,
    target: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: ProgressFn | None = None,
    provider: Provider | None = None,
    gates: Sequence[CallableGate] = (),
    poll_interval: float = 15.0,
    plan: Plan | None = None,
) -> ApplyResult:
    """Make the target match the spec; returns what was done. Raises a neutral error
    naming the failed step; the next apply converges from there. ``gates`` adds Python
    callables to the rollout's gates: each gets a GateContext and returns a bool or a
    GateResult. A failed rollout raises RolloutFailed after rolling back (or pausing).

    ``plan``: a plan from :func:`plan` that was shown to someone. It is carried out as shown,
    or not at all: Conflict when the target has moved since (``spec`` is then its deployment)."""
    deployment = plan.desired.deployment if plan is not None else _deployment(spec, env, target)
    with _provider(deployment, provider) as prov:
        return _apply(
            deployment,
            prov,
            timeout=timeout,
            progress=progress,
            python_gates=gates,
            poll_interval=poll_interval,
            shown=plan,
        )


@dataclass
class VersionStatus:
    name: str
    status: str
    traffic: int
    mirror: int
    instance_type: str | None
    in_sync: bool
    failure_reason: str | None = None


@dataclass
class StatusResult:
    deployment: str
    target: str
    exists: bool
    status: str
    in_sync: bool
    traffic: dict[str, int] = field(default_factory=dict)
    mirror: dict[str, int] = field(default_factory=dict)
    versions: list[VersionStatus] = field(default_factory=list)
    url: str | None = None
    failure_reason: str | None = None
    rollout: dict[str, Any] | None = None
    lease: dict[str, Any] | None = None
    pending: list[str] = field(default_factory=list)  # what apply would still do

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def status(
    spec: SpecSource,
    *,
    env: str | None = None,
    target: str | None = None,
    provider: Provider | None = None,
) -> StatusResult:
    """The deployment as the target reports it, and whether it matches the spec."""
    deployment = _deployment(spec, env, target)
    with _provider(deployment, provider) as prov:
        observed = prov.observe(deployment.name)
        if observed is None:
            return StatusResult(
                deployment.name, prov.name, False, "absent", False, pending=["create endpoint"]
            )
        desired = build_desired(deployment, prov)
        pending = [a.describe() for a in diff(desired, observed)]
        versions = [
            VersionStatus(
                name=v.name,
                status=v.status.value,
                traffic=observed.traffic.get(v.name, 0),
                mirror=observed.mirror.get(v.name, 0),
                instance_type=v.instance_type,
                in_sync=v.name in desired.versions and desired.versions[v.name].config_hash == v.config_hash,
                failure_reason=v.failure_reason,
            )
            for v in observed.versions.values()
        ]
        from cloudserve.rollout.record import Lease, RolloutRecord

        record = RolloutRecord.from_tags(observed.tags)
        lease = Lease.decode(observed.tags.get(T.LEASE))
        return StatusResult(
            deployment.name,
            prov.name,
            True,
            observed.status.value,
            not pending,
            traffic={k: v for k, v in observed.traffic.items() if v},
            mirror={k: v for k, v in observed.mirror.items() if v},
            versions=versions,
            url=observed.url,
            failure_reason=observed.failure_reason,
            rollout=record.to_dict() if record else None,
            lease=(
                {"holder": lease.holder, "expires": lease.expires}
                if lease and lease.active() and not lease.holder_gone()
                else None
            ),
            pending=pending,
        )


def invoke(
    spec: SpecSource,
    payload: Any,
    *,
    version: str | None = None,
    env: str | None = None,
    target: str | None = None,
    provider: Provider | None = None,
) -> InvokeResult:
    """Send one request to the deployment's endpoint (or straight to one version).

    An answer with an error status (4xx or 5xx) raises :class:`InvokeFailed`, carrying the
    status code and an excerpt of the body; it is not retried, since the endpoint did answer
    (only a neutral retryable error from the target, such as Throttled, is)."""
    deployment = _deployment(spec, env, target)
    if version is not None and version not in deployment.spec.versions:
        raise NotFound(
            f"version {version!r} is not in the spec",
            hint=f"versions: {', '.join(deployment.spec.versions)}",
        )
    with _provider(deployment, provider) as prov:
        result = call_with_retry(lambda: prov.invoke(deployment.name, payload, version=version))
        target_name = prov.name
    # The one place an error answer becomes an error: providers report the status as is.
    if result.status_code >= 400:
        raise InvokeFailed.from_answer(
            deployment.name,
            result.status_code,
            result.body,
            version=result.version or version,
            target=target_name,
        )
    return result


def metrics(
    spec: SpecSource,
    *,
    window_seconds: float = 300.0,
    env: str | None = None,
    target: str | None = None,
    provider: Provider | None = None,
) -> dict[str, VersionMetrics]:
    deployment = _deployment(spec, env, target)
    with _provider(deployment, provider) as prov:
        return prov.metrics(deployment.name, list(deployment.spec.versions), window_seconds)


@dataclass
class DestroyResult:
    deployment: str
    target: str
    deleted: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "target": self.target,
            "deleted": self.deleted,
            "seconds": round(self.seconds, 3),
        }


def destroy(
    spec: SpecSource,
    *,
    env: str | None = None,
    target: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    provider: Provider | None = None,
) -> DestroyResult:
    """Delete the endpoint and everything cloudserve created for it, and nothing else."""
    deployment = _deployment(spec, env, target)
    start = time.monotonic()
    with _provider(deployment, provider) as prov, deployment_lock(prov, deployment.name):
        observed = prov.observe(deployment.name)
        if observed is None:
            return DestroyResult(deployment.name, prov.name, False, time.monotonic() - start)
        if not observed.owned:
            raise Conflict(
                f"endpoint {deployment.name!r} on {prov.name} was not created by cloudserve; "
                "refusing to delete it",
                hint="delete it with the cloud's own tools if it is really yours to remove",
            )
        op = call_with_retry(lambda: prov.delete_endpoint(deployment.name))
        wait_for(op, timeout=timeout)
        return DestroyResult(deployment.name, prov.name, True, time.monotonic() - start)
