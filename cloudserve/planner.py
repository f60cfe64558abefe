"""Desired vs observed -> an ordered list of actions, each with the cloud calls it implies.

Ordering keeps traffic safe: new and replaced versions come first (at 0% or keeping their
share), traffic moves next, versions left without traffic are deleted after that, and
endpoint settings last. Nothing here calls a write API.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudserve import tags as T
from cloudserve.desired import build_desired
from cloudserve.errors import Conflict, InvalidSpec, NotSupported, SpecProblem
from cloudserve.provider import (
    Capability,
    DesiredEndpoint,
    DesiredVersion,
    EndpointState,
    Feature,
    NativePlan,
    PlanNote,
    Provider,
    Status,
    Support,
)
from cloudserve.spec.located import located
from cloudserve.spec.models import Deployment, DeploymentSpec

PLAN_FORMAT_VERSION = 1


class ActionKind(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"


@dataclass
class Change:
    field: str
    before: Any
    after: Any


@dataclass
class Action:
    key: str  # the provider method: create_endpoint, create_version, ...
    kind: ActionKind
    resource: str  # endpoint | version | traffic | settings
    subject: str
    changes: list[Change] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    note: PlanNote | None = None
    version_notes: dict[str, PlanNote] = field(default_factory=dict)  # for create_endpoint
    reason: str = ""

    def describe(self) -> str:
        return f"{self.kind.value} {self.resource} {self.subject}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.key,
            "kind": self.kind.value,
            "resource": self.resource,
            "subject": self.subject,
            "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in self.changes],
            "operations": self.operations,
            "reason": self.reason,
        }
        if self.note is not None:
            out["instance_type"] = self.note.instance_type
            out.update(_price_fields(self.note))
            out["notes"] = list(self.note.notes)
        if self.version_notes:
            out["versions"] = {
                v: {
                    "instance_type": n.instance_type,
                    **_price_fields(n),
                    "notes": list(n.notes),
                }
                for v, n in self.version_notes.items()
            }
        return out


def _price_fields(note: PlanNote) -> dict[str, Any]:
    return {
        "hourly_price_usd": note.hourly_price_usd,  # one replica
        "replicas_min": note.replicas,
        "hourly_price_at_min_usd": note.hourly_price_at_min_usd,
    }


@dataclass
class Plan:
    deployment: str
    target: str
    desired: DesiredEndpoint
    observed: EndpointState | None
    actions: list[Action]
    capabilities: dict[str, Capability]
    offline: bool = False
    used_features: list[str] = field(default_factory=list)
    rollout_mode: str = "none"  # none | client | native
    rollout_reason: str = ""
    rollout_blocked: str = ""  # why apply will refuse this spec's rollout (a person decides)
    ignored: list[str] = field(default_factory=list)  # settings this target accepts but cannot apply

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def __repr__(self) -> str:  # the dataclass repr dumps the whole desired state (~3 kB)
        what = "; ".join(a.describe() for a in self.actions) or "no changes"
        return f"<Plan {self.deployment} on {self.target}: {what}>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "deployment": self.deployment,
            "target": self.target,
            "offline": self.offline,
            "exists": self.observed is not None,
            "has_changes": self.has_changes,
            "spec_hash": self.desired.spec_hash,
            "traffic": self.desired.traffic,
            "mirror": self.desired.mirror,
            "features_used": self.used_features,
            "rollout": {
                "mode": self.rollout_mode,
                "reason": self.rollout_reason,
                "blocked": self.rollout_blocked or None,
            },
            "ignored": self.ignored,
            "capabilities": {
                k: {"support": c.support.value, "reason": c.reason} for k, c in self.capabilities.items()
            },
            "actions": [a.to_dict() for a in self.actions],
        }


def used_features(deployment: Deployment) -> dict[Feature, str]:
    """Each feature the spec uses, with the spec field that uses it."""
    spec = deployment.spec
    used: dict[Feature, str] = {}
    if sum(1 for v in spec.traffic_split().values() if v > 0) > 1:
        used[Feature.TRAFFIC_SPLIT] = "spec.traffic"
    if spec.mirror:
        used[Feature.MIRROR] = "spec.mirror"
    if spec.compute.replicas.min > 1 or (spec.compute.replicas.max or 0) > 1:
        used[Feature.REPLICAS] = "spec.compute.replicas"
    if spec.compute.autoscale:
        used[Feature.AUTOSCALE] = "spec.compute.autoscale"
    if spec.compute.serverless:
        used[Feature.SERVERLESS] = "spec.compute.serverless"
    if spec.compute.accelerator:
        used[Feature.ACCELERATOR] = "spec.compute.accelerator"
    if spec.capture:
        used[Feature.CAPTURE] = "spec.capture"
    if spec.monitoring.drift:
        used[Feature.DRIFT_MONITORING] = "spec.monitoring.drift"
    if spec.rollout.strategy != "all_at_once":
        used[Feature.ROLLOUT] = "spec.rollout"
    return used


def check_capabilities(deployment: Deployment, provider: Provider) -> dict[str, Capability]:
    caps = provider.capabilities()
    problems = []
    for feature, where in used_features(deployment).items():
        cap = caps.get(feature)
        if cap is None or cap.support is Support.UNSUPPORTED:
            reason = cap.reason if cap else "the target does not declare it"
            problems.append(f"{where}: {feature.value} is not supported on {provider.name}: {reason}")
    if problems:
        raise NotSupported(
            "\n".join(problems),
            hint="remove the setting for this target, or pick a target that supports it",
            target=provider.name,
        )
    return {f.value: c for f, c in caps.items()}


def missing_artifacts(deployment: Deployment) -> list[SpecProblem]:
    """Local model and baseline paths that do not exist: found before any API call, on every
    target (targets check only what their cloud adds, such as a remote baseline's scheme)."""
    problems = []
    for name, version in deployment.spec.versions.items():
        path = deployment.local_path(version.model.uri) if version.model else None
        if path is not None and not path.exists():
            problems.append(
                located(
                    deployment,
                    f"spec.versions.{name}.model.uri",
                    f"model file or directory {path} does not exist",
                    hint="train or copy the model there first, or fix the path (relative paths "
                    "start at the spec file's folder)",
                )
            )
    drift = deployment.spec.monitoring.drift
    path = deployment.local_path(drift.baseline) if drift is not None else None
    if path is not None and not path.is_file():
        problems.append(
            located(
                deployment,
                "spec.monitoring.drift.baseline",
                f"baseline file {path} does not exist",
                hint="write the training data there (CSV or Parquet), or fix the path "
                "(relative paths start at the spec file's folder)",
            )
        )
    return problems


#: A target's problem that begins with the field it is about: "spec.versions.a.x: ..."
#: (targets also write paths inside ``spec`` without the prefix: "monitoring.drift.x: ...").
_FIELD_FIRST = re.compile(r"^([a-z_]+(?:\.[A-Za-z0-9_-]+)*): (.+)$", re.S)
_TOP_LEVEL = frozenset({"metadata", "spec", "targets"})


def target_problem(deployment: Deployment, provider: Provider, text: str) -> SpecProblem:
    """A provider's validate() message, located when it starts with a field path."""
    match = _FIELD_FIRST.match(text)
    head = match[1].split(".", 1)[0] if match else ""
    if match is None or (head not in _TOP_LEVEL and head not in DeploymentSpec.model_fields):
        return SpecProblem(text, file=deployment._source_file, field=f"(target {provider.name})")
    field = match[1] if head in _TOP_LEVEL else f"spec.{match[1]}"
    return located(deployment, field, f"{match[2]} (target {provider.name})")


def make_plan(deployment: Deployment, provider: Provider, *, offline: bool = False) -> Plan:
    """Plan ``deployment`` on ``provider``. Unsupported features and target-specific spec
    problems fail here, before any API call."""
    capabilities = check_capabilities(deployment, provider)
    desired = build_desired(deployment, provider)
    problems = missing_artifacts(deployment) + [
        target_problem(deployment, provider, p) for p in provider.validate(desired)
    ]
    if problems:
        raise InvalidSpec("\n".join(p.render() for p in problems), problems=problems, target=provider.name)
    observed = None if offline else provider.observe(deployment.name)
    if observed is not None and not observed.owned and observed.status is not Status.STOPPED:
        raise Conflict(
            f"an endpoint named {deployment.name!r} already exists on {provider.name} and was not "
            "created by cloudserve (it has no managed-by=cloudserve tag)",
            hint="rename the deployment (metadata.name) or delete that endpoint yourself",
            target=provider.name,
        )
    actions = diff(desired, observed)
    for action in actions:
        action.operations = provider.operations(action.key, desired, action.subject)
        if action.resource == "version" and action.kind is not ActionKind.DELETE:
            action.note = version_note(provider, desired, desired.versions[action.subject])
        elif action.key == "create_endpoint":
            action.version_notes = {
                v: version_note(provider, desired, d) for v, d in desired.versions.items()
            }
    used_where = used_features(deployment)
    used = [f.value for f in used_where]
    mode, why, native = rollout_mode(deployment, provider, desired, observed, actions)
    if native is not None:
        desired = dataclasses.replace(desired, native=native)  # kept on the plan for apply
    plan = Plan(
        deployment.name, provider.name, desired, observed, actions, capabilities, offline, used, mode, why
    )
    plan.rollout_blocked = rollout_blocked(desired, observed) if actions else ""
    plan.ignored = [
        f"{where} is not applied on {provider.name}: {capabilities[f.value].reason}"
        for f, where in used_where.items()
        if capabilities[f.value].support is Support.IGNORED
    ]
    return plan


def rollout_blocked(desired: DesiredEndpoint, observed: EndpointState | None) -> str:
    """In words, why apply would stop at this spec's earlier rollout (rollout.flow decides it
    the same way from the same record), so plan does not promise what apply refuses."""
    from cloudserve.rollout.record import RolloutRecord

    record = RolloutRecord.from_tags(observed.tags) if observed is not None else None
    if record is None or not desired.spec_hash.startswith(record.spec_hash):
        return ""
    words = {"rolledback": "was rolled back", "aborted": "was aborted", "paused": "is paused"}
    if record.state not in words:
        return ""
    reason = f": {record.reason}" if record.reason else ""
    then = (
        "run `cloudserve rollout resume`, `promote` or `abort`"
        if record.state == "paused"
        else "change the spec, or clear the record with `cloudserve rollout abort` to retry it"
    )
    where = f"at step {record.step + 1}{reason}"
    return f"this spec's rollout {words[record.state]} {where}; apply stops there ({then})"


TRUSTED_CODE_NOTE = (
    "loads trusted code: trust_pickle is set, so its pickle-based model file runs code "
    "from the file when the server loads it"
)


def version_note(provider: Provider, desired: DesiredEndpoint, version: DesiredVersion) -> PlanNote:
    """The target's note on a version, plus what every target shares: trusted code."""
    note = provider.plan_note(desired, version)
    if note.hourly_price_usd is not None:  # serverless and unpriced sizes have no replica count
        note = dataclasses.replace(note, replicas=max(version.scaling.min, 1))
    model = version.spec.model
    if model is not None and model.trust_pickle:
        note = dataclasses.replace(note, notes=(*note.notes, TRUSTED_CODE_NOTE))
    return note


def rollout_mode(
    deployment: Deployment,
    provider: Provider,
    desired: DesiredEndpoint,
    observed: EndpointState | None,
    actions: list[Action],
) -> tuple[str, str, NativePlan | None]:
    """How this change's traffic moves: at once, by cloudserve's controller, or natively."""
    strategy = deployment.spec.rollout.strategy
    if strategy == "all_at_once":
        return "none", "", None
    if observed is None:
        return "none", "a new endpoint starts at the spec's split; rollouts apply to later changes", None
    native = provider.native_rollout(desired, observed, [a.key for a in actions])
    if native is not None:
        return "native", native.description, native
    mode, why = _client_or_none(deployment, provider, desired, observed, actions)
    return mode, why, None


def _client_or_none(
    deployment: Deployment,
    provider: Provider,
    desired: DesiredEndpoint,
    observed: EndpointState,
    actions: list[Action],
) -> tuple[str, str]:
    strategy = deployment.spec.rollout.strategy
    moving = any(a.key == "set_traffic" for a in actions) and any(
        desired.traffic.get(v, 0) > observed.traffic.get(v, 0) for v in desired.traffic
    )
    if not moving:
        live = [a.subject for a in actions if a.key == "replace_version" and observed.traffic.get(a.subject)]
        if live:
            return "none", (
                f"{', '.join(live)} keeps its traffic share and is replaced at once on {provider.name}; "
                "steps apply to traffic moving between versions (deploy the new model as its own version "
                "to canary it)"
            )
        return "none", "no traffic moves towards a version"
    steps = " -> ".join(f"{s}%" for s in deployment.spec.rollout.step_percents())
    return "client", f"{strategy} {steps} by cloudserve's controller on {provider.name}"


def _nonzero(split: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in split.items() if v}


def diff(desired: DesiredEndpoint, observed: EndpointState | None) -> list[Action]:
    """The actions that take ``observed`` to ``desired``, in the order they must run."""
    name = desired.name
    if observed is None or observed.status is Status.STOPPED:
        why = "the endpoint does not exist" if observed is None else "the endpoint is stopped"
        return [_create_endpoint(desired, why)]
    if observed.status is Status.FAILED:
        why = f"the endpoint failed: {observed.failure_reason or 'no reason given'}"
        return [
            Action("delete_endpoint", ActionKind.DELETE, "endpoint", name, reason=why),
            _create_endpoint(desired, "recreate after failure"),
        ]
    actions = [a for v, want in desired.versions.items() if (a := _version_action(v, want, observed))]
    order = {"create_version": 0, "replace_version": 1, "update_version": 2}
    actions.sort(key=lambda a: order[a.key])  # stable: spec order within each kind
    traffic = _traffic_action(desired, observed)
    deletions = [
        Action("delete_version", ActionKind.DELETE, "version", v, reason="no longer in the spec")
        for v in observed.versions
        if v not in desired.versions
    ]
    settings = _settings_changes(desired, observed)
    update = (
        [
            Action(
                "update_endpoint",
                ActionKind.UPDATE,
                "settings",
                name,
                changes=settings,
                reason="endpoint settings changed",
            )
        ]
        if settings
        else []
    )
    return actions + ([traffic] if traffic else []) + deletions + update


def _version_action(name: str, want: DesiredVersion, observed: EndpointState) -> Action | None:
    have = observed.versions.get(name)
    if have is None:
        return Action("create_version", ActionKind.CREATE, "version", name, reason="new version")
    if have.config_hash != want.config_hash or have.status is Status.FAILED:
        why = (
            f"it failed: {have.failure_reason or 'no reason given'}"
            if have.status is Status.FAILED
            else "its model, image, env or size changed"
        )
        changes = [Change("config_hash", have.config_hash, want.config_hash)]
        return Action("replace_version", ActionKind.REPLACE, "version", name, reason=why, changes=changes)
    if have.scaling is not None and have.scaling != want.scaling:
        changes = _scaling_changes(have.scaling, want.scaling)
        return Action(
            "update_version", ActionKind.UPDATE, "version", name, reason="scaling changed", changes=changes
        )
    return None


def _traffic_action(desired: DesiredEndpoint, observed: EndpointState) -> Action | None:
    changes = [
        Change(field, _nonzero(have), _nonzero(want))
        for field, have, want in (
            ("traffic", observed.traffic, desired.traffic),
            ("mirror", observed.mirror, desired.mirror),
        )
        if _nonzero(have) != _nonzero(want)
    ]
    if not changes:
        return None
    return Action(
        "set_traffic", ActionKind.UPDATE, "traffic", desired.name, reason="the split changed", changes=changes
    )


def _create_endpoint(desired: DesiredEndpoint, why: str) -> Action:
    return Action(
        "create_endpoint",
        ActionKind.CREATE,
        "endpoint",
        desired.name,
        reason=why,
        changes=[
            Change("versions", None, sorted(desired.versions)),
            Change("traffic", None, _nonzero(desired.traffic)),
            *([Change("mirror", None, _nonzero(desired.mirror))] if _nonzero(desired.mirror) else []),
        ],
    )


def _scaling_changes(have: Any, want: Any) -> list[Change]:
    return [
        Change(f"scaling.{k}", getattr(have, k), getattr(want, k))
        for k in ("min", "max", "autoscale_metric", "autoscale_target")
        if getattr(have, k) != getattr(want, k)
    ]


def _settings_changes(desired: DesiredEndpoint, observed: EndpointState) -> list[Change]:
    changes = []
    capture = desired.deployment.spec.capture
    want_capture = capture.sample_percent if capture else None
    if observed.capture_percent != want_capture:
        changes.append(Change("capture.sample_percent", observed.capture_percent, want_capture))
    if observed.monitoring_hash != desired.monitoring_hash:
        changes.append(Change("monitoring", observed.monitoring_hash, desired.monitoring_hash))
    want_tags = {k: v for k, v in desired.tags.items() if not T.is_internal(k)}
    have_tags = {k: v for k, v in observed.tags.items() if not T.is_internal(k)}
    if want_tags != have_tags:
        changes.append(Change("tags", have_tags, want_tags))
    return changes
