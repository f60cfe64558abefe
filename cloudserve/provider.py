"""The Provider interface every target implements, and the neutral types it speaks.

Providers translate; they do not decide. The core computes the desired state
(:class:`DesiredEndpoint`), observes the target through :meth:`Provider.observe`, diffs
the two into a plan, and calls the provider's small, single-purpose operations in order,
waiting on the :class:`Operation` each returns. Everything the core needs to recognise
its own resources later travels in tags/labels (see :mod:`cloudserve.tags`), so there is
no local state file.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from cloudserve.errors import NotSupported
from cloudserve.spec.models import NEUTRAL_METRICS as NEUTRAL_METRICS  # re-exported
from cloudserve.spec.models import Deployment, VersionSpec

# 2: plan-time calls are pure. plan_note gets the DesiredEndpoint, and native_rollout returns a
# NativePlan whose private data the core keeps on the plan (DesiredEndpoint.native) and hands
# back to the write calls, so a provider keeps no state between plan and apply.
INTERFACE_VERSION = 2


class Support(enum.StrEnum):
    NATIVE = "native"
    EMULATED = "emulated"  # cloudserve's own controller does it on top of the target
    UNSUPPORTED = "unsupported"
    IGNORED = "ignored"  # accepted so one spec serves every target, but has no effect here; plan says so


class Feature(enum.StrEnum):
    TRAFFIC_SPLIT = "traffic_split"
    MIRROR = "mirror"
    REPLICAS = "replicas"  # more than one replica (spec.compute.replicas above 1)
    AUTOSCALE = "autoscale"
    SERVERLESS = "serverless"
    ACCELERATOR = "accelerator"
    CAPTURE = "capture"
    DRIFT_MONITORING = "drift_monitoring"
    ROLLOUT = "rollout"


@dataclass(frozen=True)
class Capability:
    feature: Feature
    support: Support
    reason: str = ""


class Status(enum.StrEnum):
    CREATING = "creating"
    UPDATING = "updating"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"
    STOPPED = "stopped"  # e.g. a local server process that is no longer running


@dataclass(frozen=True)
class Scaling:
    """Replica range and autoscale policy, as the target reports it."""

    min: int
    max: int
    autoscale_metric: str | None = None
    autoscale_target: float | None = None


@dataclass
class VersionState:
    """One version as observed on the target."""

    name: str
    config_hash: str | None  # read back from the version's tags; None if not ours
    status: Status
    scaling: Scaling | None = None
    instance_type: str | None = None
    failure_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class EndpointState:
    """A deployment's endpoint as observed on the target, in neutral terms."""

    name: str
    status: Status
    versions: dict[str, VersionState] = field(default_factory=dict)
    traffic: dict[str, int] = field(default_factory=dict)
    mirror: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    capture_percent: int | None = None
    monitoring_hash: str | None = None  # config hash of the drift schedule, if any
    url: str | None = None
    failure_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def owned(self) -> bool:
        from cloudserve.tags import MANAGED_BY, MANAGED_BY_VALUE

        return self.tags.get(MANAGED_BY) == MANAGED_BY_VALUE


@dataclass(frozen=True)
class DesiredVersion:
    """One version as the spec wants it, with the hash of its immutable configuration."""

    name: str
    spec: VersionSpec
    config_hash: str  # model, image, env, size: a change means a replacement
    scaling: Scaling
    instance_type: str | None  # resolved for the chosen target; None where not applicable
    artifact: Path | None = None  # the model on this machine; None when remote or image-only


@dataclass(frozen=True)
class NativePlan:
    """A target's own rollout of one change: a sentence for the plan, and whatever the target
    needs to carry it out (its private data; the core only stores and returns it)."""

    description: str
    private: Any = None


@dataclass(frozen=True)
class DesiredEndpoint:
    """Everything the provider needs to build one deployment, resolved for its target."""

    deployment: Deployment
    target: str
    versions: dict[str, DesiredVersion]
    traffic: dict[str, int]
    mirror: dict[str, int]
    tags: dict[str, str]
    spec_hash: str
    monitoring_hash: str | None
    baseline: Path | None = None  # the drift baseline on this machine; None when remote or no drift
    # Set by the planner when the target carries out this change's rollout itself: what
    # native_rollout returned, for the write calls to act on (a shown plan is applied as shown).
    native: NativePlan | None = None

    @property
    def name(self) -> str:
        return self.deployment.metadata.name


@dataclass(frozen=True)
class InvokeResult:
    body: Any  # decoded JSON when the answer was JSON, else text
    version: str | None  # which version answered, where the target says
    status_code: int = 200
    latency_ms: float | None = None


@dataclass(frozen=True)
class VersionMetrics:
    """Neutral metrics for one version over a window."""

    requests: float
    errors: float  # server errors: 5xx answers
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    client_errors: float = 0.0  # 4xx answers: requests refused as malformed

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def client_error_rate(self) -> float | None:
        return self.client_errors / self.requests if self.requests else None

    def value(self, metric: str) -> float | None:
        if metric == "error_rate":
            return self.error_rate
        if metric == "client_error_rate":
            return self.client_error_rate
        if metric == "requests":
            return self.requests
        if metric == "errors":
            return self.errors
        if metric == "client_errors":
            return self.client_errors
        if metric == "latency_p50_ms":
            return self.latency_p50_ms
        if metric == "latency_p99_ms":
            return self.latency_p99_ms
        raise KeyError(metric)


class Operation(abc.ABC):
    """A long-running change the core waits on with capped exponential backoff."""

    description: str = ""

    @abc.abstractmethod
    def poll(self) -> bool:
        """True when finished; raise a neutral error (e.g. DeploymentFailed) when it failed."""


class Done(Operation):
    """An operation that finished inside the call that started it."""

    def __init__(self, description: str = "") -> None:
        self.description = description

    def poll(self) -> bool:
        return True


class CallbackOperation(Operation):
    def __init__(self, description: str, check: Callable[[], bool]) -> None:
        self.description = description
        self._check = check

    def poll(self) -> bool:
        return self._check()


@dataclass(frozen=True)
class PlanNote:
    """A target's annotation on a planned version: instance type, hourly price, and so on.

    ``hourly_price_usd`` is the price of one replica for an hour on every target (the catalog's
    unit price); the core fills ``replicas`` (the minimum that runs) and multiplies, so one spec
    shows the same kind of number on every cloud."""

    instance_type: str | None = None
    hourly_price_usd: float | None = None
    notes: tuple[str, ...] = ()
    replicas: int | None = None  # set by the planner, not by providers

    @property
    def hourly_price_at_min_usd(self) -> float | None:
        """What the version costs per hour at its minimum replicas."""
        if self.hourly_price_usd is None or self.replicas is None:
            return None
        return round(self.hourly_price_usd * self.replicas, 6)


SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def coerce_settings(model: type[SettingsModel], settings: Any) -> SettingsModel:
    """A target's settings as its model: None gives the defaults, a mapping is validated."""
    if settings is None:
        return model()
    if isinstance(settings, Mapping):
        return model.model_validate(dict(settings))
    return settings  # type: ignore[no-any-return]


class Provider(abc.ABC):
    """One deployment target. Subclasses are discovered through the entry point group
    ``cloudserve.providers`` and constructed with the spec's settings for that target."""

    name: ClassVar[str]
    interface_version: ClassVar[int] = INTERFACE_VERSION

    def __init__(self, settings: Any, *, offline: bool = False) -> None:
        self.settings = settings
        self.offline = offline
        # The folder of the spec file being served, when it came from a file (the API sets
        # it). The local target scopes its machine-wide state by it; clouds ignore it.
        self.project_dir: Path | None = None

    # --- what the target can do -------------------------------------------------------
    @abc.abstractmethod
    def capabilities(self) -> Mapping[Feature, Capability]:
        """Every Feature, declared native, emulated or unsupported (with a reason)."""

    def validate(self, desired: DesiredEndpoint) -> list[str]:
        """Target-specific rules (name formats, limits); each string is one problem."""
        return []

    def resolve_instance_type(self, deployment: Deployment) -> str | None:
        """The instance type for the spec's portable size on this target."""
        return None

    def plan_note(self, desired: DesiredEndpoint, version: DesiredVersion) -> PlanNote:
        """Size, unit price and notes for one planned version. Pure: what it needs comes from
        ``desired``, never from state kept since another call."""
        return PlanNote(instance_type=version.instance_type)

    def operations(self, action: str, desired: DesiredEndpoint, subject: str) -> list[str]:
        """The cloud API calls an action implies, for `plan` to show. ``action`` is one
        of the plan's action keys (create_endpoint, create_version, ...)."""
        return []

    # --- read ---------------------------------------------------------------------------
    @abc.abstractmethod
    def observe(self, name: str) -> EndpointState | None:
        """The deployment's endpoint as it is now, or None when it does not exist. Read-only."""

    def list_endpoints(self) -> list[str]:
        """The names of every endpoint this target's settings can see (region, project and
        location, workspace), cloudserve's or not: ``read_tags`` tells which are ours. The
        live acceptance run's sweep uses it to find what an interrupted run left behind."""
        raise NotSupported(f"the {self.name} target cannot list its endpoints")

    def read_tags(self, name: str) -> dict[str, str] | None:
        """The endpoint's tags, or None when it does not exist. Rollouts poll this for
        pause/abort/promote requests; targets override it when observe() is costly."""
        state = self.observe(name)
        return state.tags if state is not None else None

    # --- write: each returns an Operation the core waits on ------------------------------
    @abc.abstractmethod
    def create_endpoint(self, desired: DesiredEndpoint) -> Operation:
        """Create the endpoint with every desired version and the desired traffic."""

    @abc.abstractmethod
    def create_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        """Add a version to an existing endpoint at 0% traffic."""

    @abc.abstractmethod
    def update_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        """Change a version in place: scaling and autoscale only."""

    @abc.abstractmethod
    def replace_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        """Swap a version's immutable configuration (model, image, size), keeping its name and traffic."""

    @abc.abstractmethod
    def delete_version(self, desired: DesiredEndpoint, name: str) -> Operation:
        """Remove a version that has 0% traffic."""

    @abc.abstractmethod
    def set_traffic(self, name: str, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> Operation:
        """Set the live split and the mirror share by version name."""

    @abc.abstractmethod
    def update_endpoint(self, desired: DesiredEndpoint) -> Operation:
        """Endpoint-level settings: tags, request capture, monitoring schedule."""

    @abc.abstractmethod
    def delete_endpoint(self, name: str) -> Operation:
        """Delete the endpoint and everything cloudserve created for it."""

    @abc.abstractmethod
    def write_tags(self, name: str, tags: Mapping[str, str | None]) -> None:
        """Set (or, with None, remove) tags on the endpoint: rollout record and lease."""

    # --- data plane -----------------------------------------------------------------------
    @abc.abstractmethod
    def invoke(self, name: str, payload: Any, *, version: str | None = None) -> InvokeResult:
        """Send one request to the endpoint (or straight to one version)."""

    @abc.abstractmethod
    def metrics(self, name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        """Neutral metrics per version over the last ``window_seconds``."""

    def native_rollout(
        self, desired: DesiredEndpoint, observed: EndpointState, actions: list[str]
    ) -> NativePlan | None:
        """If this target carries out this change's rollout itself (e.g. SageMaker deployment
        guardrails), how: the write methods then find it as ``desired.native``. None:
        cloudserve's controller moves the traffic. Pure, like every plan-time call."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release clients and connections."""
