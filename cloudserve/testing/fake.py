"""An in-memory target for testing the core and for plugin authors' own experiments.

It behaves like a small cloud: state lives in a :class:`FakeCloud` shared by every
provider instance pointed at it, operations can take several polls to finish, faults can
be injected per call, and metrics can be fed in so rollout gates have something to read.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudserve import tags as T
from cloudserve.errors import CloudServeError, DeploymentFailed, NotFound
from cloudserve.provider import (
    CallbackOperation,
    Capability,
    DesiredEndpoint,
    DesiredVersion,
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
)


@dataclass
class FakeCloud:
    endpoints: dict[str, EndpointState] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    faults: dict[str, list[CloudServeError]] = field(default_factory=dict)
    polls_needed: int = 0
    metrics: dict[tuple[str, str], VersionMetrics] = field(default_factory=dict)
    fail_versions: dict[str, str] = field(default_factory=dict)  # version -> failure reason

    def inject(self, call: str, *errors: CloudServeError) -> None:
        """The next calls to ``call`` raise these errors, in order."""
        self.faults.setdefault(call, []).extend(errors)


class FakeProvider(Provider):
    name = "fake"

    def __init__(
        self, settings: Any = None, *, offline: bool = False, cloud: FakeCloud | None = None
    ) -> None:
        super().__init__(settings, offline=offline)
        self.cloud = cloud or FakeCloud()
        self._ids = itertools.count(1)

    def capabilities(self) -> Mapping[Feature, Capability]:
        caps = {f: Capability(f, Support.NATIVE) for f in Feature}
        caps[Feature.ROLLOUT] = Capability(Feature.ROLLOUT, Support.EMULATED, "cloudserve's controller")
        caps[Feature.SERVERLESS] = Capability(
            Feature.SERVERLESS, Support.UNSUPPORTED, "the fake has no serverless"
        )
        return caps

    def resolve_instance_type(self, deployment: Any) -> str | None:
        return "fake.small"

    def plan_note(self, desired: DesiredEndpoint, version: DesiredVersion) -> PlanNote:
        return PlanNote(instance_type=version.instance_type, hourly_price_usd=0.1)

    def operations(self, action: str, desired: DesiredEndpoint, subject: str) -> list[str]:
        return [f"fake:{action}({subject})"]

    def _call(self, name: str) -> None:
        self.cloud.calls.append(name)
        queue = self.cloud.faults.get(name)
        if queue:
            raise queue.pop(0)

    def _op(self, description: str, finish: Any = None) -> Operation:
        remaining = [self.cloud.polls_needed]

        def check() -> bool:
            if remaining[0] > 0:
                remaining[0] -= 1
                return False
            if finish is not None:
                finish()
            return True

        return CallbackOperation(description, check)

    def _get(self, name: str) -> EndpointState:
        if name not in self.cloud.endpoints:
            raise NotFound(f"endpoint {name} not found", target=self.name)
        return self.cloud.endpoints[name]

    def _version(self, v: DesiredVersion) -> VersionState:
        reason = self.cloud.fail_versions.get(v.name)
        if reason:
            raise DeploymentFailed(f"version {v.name} failed: {reason}", target=self.name)
        return VersionState(
            v.name, v.config_hash, Status.READY, scaling=v.scaling, instance_type=v.instance_type
        )

    def list_endpoints(self) -> list[str]:
        self._call("list_endpoints")
        return sorted(self.cloud.endpoints)

    def observe(self, name: str) -> EndpointState | None:
        self._call("observe")
        state = self.cloud.endpoints.get(name)
        return copy.deepcopy(state)

    def create_endpoint(self, desired: DesiredEndpoint) -> Operation:
        self._call("create_endpoint")
        capture = desired.deployment.spec.capture
        state = EndpointState(
            desired.name,
            Status.CREATING,
            versions={n: self._version(v) for n, v in desired.versions.items()},
            traffic=dict(desired.traffic),
            mirror=dict(desired.mirror),
            tags=dict(desired.tags),
            capture_percent=capture.sample_percent if capture else None,
            monitoring_hash=desired.monitoring_hash,
        )
        self.cloud.endpoints[desired.name] = state
        return self._op(f"create endpoint {desired.name}", lambda: setattr(state, "status", Status.READY))

    def create_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        self._call("create_version")
        state = self._get(desired.name)
        state.versions[version.name] = self._version(version)
        state.traffic.setdefault(version.name, 0)
        return self._op(f"create version {version.name}")

    def update_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        self._call("update_version")
        self._get(desired.name).versions[version.name].scaling = version.scaling
        return self._op(f"update version {version.name}")

    def replace_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        self._call("replace_version")
        self._get(desired.name).versions[version.name] = self._version(version)
        return self._op(f"replace version {version.name}")

    def delete_version(self, desired: DesiredEndpoint, name: str) -> Operation:
        self._call("delete_version")
        state = self._get(desired.name)
        if state.traffic.get(name) or state.mirror.get(name):
            raise DeploymentFailed(f"version {name} still has traffic", target=self.name)
        state.versions.pop(name, None)
        state.traffic.pop(name, None)
        return self._op(f"delete version {name}")

    def set_traffic(self, name: str, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> Operation:
        self._call("set_traffic")
        state = self._get(name)
        unknown = (set(traffic) | set(mirror)) - set(state.versions)
        if unknown:
            raise DeploymentFailed(f"traffic names unknown versions {sorted(unknown)}", target=self.name)
        state.traffic = {k: v for k, v in traffic.items()}
        state.mirror = dict(mirror)
        return self._op(f"set traffic on {name}")

    def update_endpoint(self, desired: DesiredEndpoint) -> Operation:
        self._call("update_endpoint")
        state = self._get(desired.name)
        capture = desired.deployment.spec.capture
        state.capture_percent = capture.sample_percent if capture else None
        state.monitoring_hash = desired.monitoring_hash
        internal = {k: v for k, v in state.tags.items() if T.is_rollout_bookkeeping(k)}
        state.tags = {**desired.tags, **internal}
        return self._op(f"update endpoint {desired.name}")

    def delete_endpoint(self, name: str) -> Operation:
        self._call("delete_endpoint")
        self.cloud.endpoints.pop(name, None)
        return self._op(f"delete endpoint {name}")

    def write_tags(self, name: str, tags: Mapping[str, str | None]) -> None:
        self._call("write_tags")
        state = self._get(name)
        for key, value in tags.items():
            if value is None:
                state.tags.pop(key, None)
            else:
                state.tags[key] = value

    def invoke(self, name: str, payload: Any, *, version: str | None = None) -> InvokeResult:
        self._call("invoke")
        state = self._get(name)
        chosen = version or max(state.traffic, key=lambda v: state.traffic[v])
        return InvokeResult({"predictions": [0 for _ in payload.get("instances", [])]}, chosen)

    def metrics(self, name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        self._call("metrics")
        return {v: self.cloud.metrics.get((name, v), VersionMetrics(0, 0)) for v in versions}
