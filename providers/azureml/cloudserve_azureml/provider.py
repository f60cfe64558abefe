"""The Azure ML target: managed online endpoints, one deployment per version.

Every write returns an Operation made of steps; each step starts one Azure call (most are
long-running and return an LROPoller) and the next starts only when the previous one
finished, so the core's poll loop drives the whole sequence without blocking. Importing
this module imports no Azure SDK; :mod:`.client` does, on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cloudserve import tags as T
from cloudserve.errors import DeploymentFailed, NotFound
from cloudserve.provider import (
    Capability,
    DesiredEndpoint,
    DesiredVersion,
    EndpointState,
    Feature,
    InvokeResult,
    Operation,
    PlanNote,
    Provider,
    VersionMetrics,
    coerce_settings,
)
from cloudserve.serving.pin_check import framework_pin_problems
from cloudserve.spec.models import Deployment
from cloudserve.steps import Pending, StepOperation, ignore_context
from cloudserve_azureml import catalog, rules
from cloudserve_azureml.errors import azure_errors, translate
from cloudserve_azureml.settings import AzureMLSettings
from cloudserve_azureml.translate import conda_pip_pins

Step = Callable[[], Any]


class _Poller(Pending):
    """An azure-core LROPoller, its errors translated."""

    def __init__(self, what: str, poller: Any) -> None:
        self.what = what
        self.poller = poller

    def done(self) -> bool:
        try:
            # A bounded wait lets the SDK's polling thread finish quick operations within
            # this poll instead of making the caller spin.
            self.poller.wait(timeout=0.05)
            if not self.poller.done():
                return False
            self.value = self.poller.result()
        except Exception as exc:
            raise _failed(exc, self.what) from exc
        return True

    def result(self) -> Any:
        return self.value


def _poller(what: str, result: Any) -> Pending | None:
    return _Poller(what, result) if result is not None and hasattr(result, "done") else None


def step_operation(description: str, steps: list[tuple[str, Step]]) -> StepOperation:
    """Azure calls in order (the core's StepOperation and its retry rule): a step may return
    a poller, waited on before the next starts; SDK errors are translated."""
    return StepOperation(
        description,
        [(what, ignore_context(call)) for what, call in steps],
        pending=_poller,
        guard=azure_errors,
    )


def _failed(exc: Exception, what: str) -> Exception:
    err = translate(exc, what)
    if type(err).__name__ in ("ProviderError", "InvalidSpec") and "failed" in str(exc).lower():
        return DeploymentFailed(err.message, target="azureml", request_id=err.request_id)
    return err


class AzureMLProvider(Provider):
    name = "azureml"

    def __init__(self, settings: Any, *, offline: bool = False) -> None:
        settings = coerce_settings(AzureMLSettings, settings)
        super().__init__(settings, offline=offline)
        from cloudserve_azureml.client import AzureClients

        self.clients = AzureClients(settings)
        self._ops: Any = None

    @property
    def ops(self) -> Any:
        if self._ops is None:
            from cloudserve_azureml.operations import AzureOperations

            self._ops = AzureOperations(self.clients, self.settings)
        return self._ops

    # --- what the target can do ----------------------------------------------------------------
    def capabilities(self) -> Mapping[Feature, Capability]:
        return rules.CAPABILITIES

    def validate(self, desired: DesiredEndpoint) -> list[str]:
        return [*rules.validate(desired), *framework_pin_problems(desired.deployment)]

    def resolve_instance_type(self, deployment: Deployment) -> str | None:
        override = deployment.spec.compute.instance_type.get("azureml")
        if override:
            return override
        return catalog.smallest_fit(deployment.spec.compute).name

    def plan_note(self, desired: DesiredEndpoint, version: DesiredVersion) -> PlanNote:
        sku = catalog.find(version.instance_type or "")
        as_of, _ = catalog.catalog()
        build = _build_note(version, self.settings.offline)
        if sku is None:
            return PlanNote(
                instance_type=version.instance_type,
                notes=("instance type not in cloudserve's catalog: no price shown", *build),
            )
        return PlanNote(
            instance_type=sku.name,
            hourly_price_usd=sku.hourly_usd,  # per instance; the core multiplies
            notes=(
                f"{sku.vcpu} vCPU, {sku.memory_gib:g} GiB"
                + (f", {sku.accelerator_count}x {sku.accelerator}" if sku.accelerator else "")
                + f"; list price as of {as_of}",
                *build,
            ),
        )

    def operations(self, action: str, desired: DesiredEndpoint, subject: str) -> list[str]:
        return rules.operations(action, desired, subject)

    # --- read ----------------------------------------------------------------------------------
    def observe(self, name: str) -> EndpointState | None:
        with azure_errors(f"read endpoint {name}"):
            return self.ops.observe(name)  # type: ignore[no-any-return]

    def list_endpoints(self) -> list[str]:
        with azure_errors("list endpoints"):
            return self.ops.list_endpoints()  # type: ignore[no-any-return]

    def read_tags(self, name: str) -> dict[str, str] | None:
        """Only the endpoint (one GET, plus the deployment list azure-ai-ml adds): rollouts
        poll this at every step of a bake, where observe() would also read each deployment's
        autoscale setting."""
        with azure_errors(f"read tags of {name}"):
            return self.ops.read_tags(name)  # type: ignore[no-any-return]

    # --- write ---------------------------------------------------------------------------------
    def create_endpoint(self, desired: DesiredEndpoint) -> Operation:
        return step_operation(f"create endpoint {desired.name}", self.ops.create_endpoint_steps(desired))

    def create_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        steps = self.ops.version_steps(desired, version) + self._drift_refresh(desired)
        return step_operation(f"create deployment {version.name}", steps)

    def replace_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        # A PUT of the deployment with the new model/environment/SKU: Azure rolls the
        # instances in place, keeping the deployment's name and its traffic share.
        return step_operation(f"replace deployment {version.name}", self.ops.version_steps(desired, version))

    def update_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        return step_operation(f"update scaling of {version.name}", self.ops.scaling_steps(desired, version))

    def delete_version(self, desired: DesiredEndpoint, name: str) -> Operation:
        steps = self.ops.delete_version_steps(desired.name, name) + self._drift_refresh(desired)
        return step_operation(f"delete deployment {name}", steps)

    def _drift_refresh(self, desired: DesiredEndpoint) -> list[tuple[str, Step]]:
        """The drift schedule has one signal per deployment: adding or removing one rewrites it."""
        return self.ops.drift_steps(desired) if desired.deployment.spec.monitoring.drift else []

    def set_traffic(self, name: str, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> Operation:
        return step_operation(
            f"set traffic on {name}",
            [("set traffic", lambda: self.ops.put_traffic(name, dict(traffic), dict(mirror)))],
        )

    def update_endpoint(self, desired: DesiredEndpoint) -> Operation:
        return step_operation(f"update endpoint {desired.name}", self.ops.update_endpoint_steps(desired))

    def delete_endpoint(self, name: str) -> Operation:
        with azure_errors(f"read endpoint {name}"):
            steps = self.ops.delete_endpoint_steps(name)
        if steps is None:
            raise NotFound(f"endpoint {name!r} does not exist", target="azureml")
        return step_operation(f"delete endpoint {name}", steps)

    def write_tags(self, name: str, tags: Mapping[str, str | None]) -> None:
        with azure_errors(f"write tags on {name}"):
            self.ops.write_tags(name, dict(tags))

    # --- data plane --------------------------------------------------------------------------------
    def invoke(self, name: str, payload: Any, *, version: str | None = None) -> InvokeResult:
        with azure_errors(f"invoke {name}"):
            return self.ops.invoke(name, payload, version)  # type: ignore[no-any-return]

    def metrics(self, name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        with azure_errors(f"read metrics of {name}"):
            return self.ops.metrics(name, versions, window_seconds)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.clients.close()


def _build_note(version: DesiredVersion, offline: bool) -> tuple[str, ...]:
    """What reaches PyPI for this version: the environment's image build, once per
    environment version; a started container downloads nothing but the model."""
    if version.spec.image or version.spec.model is None:
        return ()
    pins = conda_pip_pins(version.spec.model, None)
    if offline:
        return (
            f"image build: installs {len(pins)} wheels from the Environment's build context, "
            "nothing from an index (fetched at apply); containers download nothing at start but the model",
        )
    return (
        f"image build (once per environment version): installs {len(pins)} exactly pinned "
        "packages from PyPI; containers download nothing at start but the model",
    )


__all__ = ["AzureMLProvider", "T"]
