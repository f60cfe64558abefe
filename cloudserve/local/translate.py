"""Desired state -> the local server's request bodies, and its answers -> neutral state.

The server contract (see the serving runtime) speaks the same shape in endpoint.json and
in the admin API, so one set of builders serves both the first start and later changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudserve.artifacts import is_remote, resolve_local
from cloudserve.provider import DesiredEndpoint, DesiredVersion, Status, VersionState

# Tags the core writes on a running endpoint (rollout record, lease) outside the spec:
# an update_endpoint from the spec must not erase them.
from cloudserve.tags import is_rollout_bookkeeping


def base_dir(desired: DesiredEndpoint) -> Path:
    """Relative model paths resolve against the spec's folder (or, for a spec built in
    Python, the working directory of the apply); the server runs elsewhere."""
    return desired.deployment.source_dir or Path.cwd()


def version_body(desired: DesiredEndpoint, version: DesiredVersion) -> dict[str, Any]:
    spec = version.spec
    return {
        "config_hash": version.config_hash,
        "model": spec.model.model_dump(mode="json") if spec.model else None,
        "image": spec.image,
        "env": dict(spec.env),
        "base_dir": str(base_dir(desired)),
    }


def capture_body(desired: DesiredEndpoint) -> dict[str, Any] | None:
    capture = desired.deployment.spec.capture
    if capture is None:
        return None
    destination = None
    if capture.destination:
        destination = str(resolve_local(capture.destination, base_dir(desired)))
    return {"sample_percent": capture.sample_percent, "destination": destination}


def same_capture(want: dict[str, Any] | None, have: Any) -> bool:
    """Whether the server already captures as asked (no destination: the server's default)."""
    if want is None or not isinstance(have, dict):
        return want is None and not have
    if float(want["sample_percent"]) != float(have.get("sample_percent", -1)):
        return False
    return want["destination"] is None or want["destination"] == have.get("destination")


def endpoint_body(desired: DesiredEndpoint) -> dict[str, Any]:
    """The content of endpoint.json for a first start or a restart."""
    return {
        "name": desired.name,
        "versions": {n: version_body(desired, v) for n, v in desired.versions.items()},
        "traffic": dict(desired.traffic),
        "mirror": {v: p for v, p in desired.mirror.items() if p},
        "tags": dict(desired.tags),
        "capture": capture_body(desired),
        "monitoring": monitoring_body(desired),
    }


def monitoring_body(desired: DesiredEndpoint) -> dict[str, Any] | None:
    """The drift schedule the server runs (PUT /_cloudserve/monitoring): the spec's
    ``monitoring.drift`` as the drift engine reads it, with the baseline resolved against
    the spec's folder (the server runs in its state directory) and the spec's monitoring
    hash, which observe reads back from the server."""
    drift = desired.deployment.spec.monitoring.drift
    if drift is None:
        return None
    from cloudserve.monitor.config import DriftConfig

    config = DriftConfig.from_spec(drift)
    return {
        "hash": desired.monitoring_hash,
        "baseline": str(desired.baseline or config.baseline),
        "schedule": config.schedule,
        "method": config.method,
        "threshold": config.threshold,
        "thresholds": dict(config.thresholds),
        "features": list(config.features) if config.features is not None else None,
        "webhook": config.webhook,
    }


def same_monitoring(want: dict[str, Any] | None, have: Any) -> bool:
    """Whether the server already runs this schedule (absent and null are the same)."""
    return (want or None) == (have or None)


def monitoring_hash(doc: dict[str, Any]) -> str | None:
    """The hash of the schedule the server runs (or, stopped, would resume)."""
    monitoring = doc.get("monitoring")
    if not isinstance(monitoring, dict):
        return None
    value = monitoring.get("hash")
    return str(value) if value else None


def provider_record(desired: DesiredEndpoint) -> dict[str, Any]:
    """What the provider last applied, beside the server's own state, for people reading
    the state directory. Nothing reads it back: the server holds the drift schedule it
    runs, and observe asks the server."""
    drift = desired.deployment.spec.monitoring.drift
    return {
        "monitoring_hash": desired.monitoring_hash,
        "monitoring": drift.model_dump(mode="json") if drift else None,
    }


_STATUS = {"ready": Status.READY, "failed": Status.FAILED, "loading": Status.UPDATING}


def version_states(doc: dict[str, Any], *, running: bool) -> dict[str, VersionState]:
    """Versions from the server's state (running) or from endpoint.json (stopped).

    Scaling is None: one process serves every version, so replicas and autoscale have
    nothing to act on here (autoscale is declared unsupported, and plan says so)."""
    out: dict[str, VersionState] = {}
    for name, v in (doc.get("versions") or {}).items():
        v = v if isinstance(v, dict) else {}
        status = _STATUS.get(str(v.get("status")), Status.READY) if running else Status.STOPPED
        out[name] = VersionState(
            name=name,
            config_hash=v.get("config_hash"),
            status=status,
            instance_type="local",
            failure_reason=v.get("error") if running else None,
            details={"model": v.get("model")},
        )
    return out


def full_traffic(versions: dict[str, Any], traffic: Any) -> dict[str, int]:
    """Traffic with every version present (0 where unnamed), as the desired state has it."""
    traffic = traffic if isinstance(traffic, dict) else {}
    split = {name: int(traffic.get(name, 0)) for name in versions}
    split.update({k: int(v) for k, v in traffic.items() if k not in split})
    return split


def tag_patch(current: dict[str, str], desired: dict[str, str]) -> dict[str, str | None]:
    """Set the spec's tags, drop ones the spec no longer has, keep rollout bookkeeping."""
    patch: dict[str, str | None] = {
        key: None for key in current if key not in desired and not is_rollout_bookkeeping(key)
    }
    patch.update({k: v for k, v in desired.items() if current.get(k) != v})
    return patch


def version_problems(desired: DesiredEndpoint) -> list[str]:
    """Versions this machine cannot serve: container images, remote artifacts, missing files."""
    problems: list[str] = []
    for name, version in desired.versions.items():
        model = version.spec.model
        if model is None:
            problems.append(
                f"version {name!r}: the local target cannot run container images "
                f"({version.spec.image}); give it a model: {{uri: ...}}"
            )
            continue
        if is_remote(model.uri):
            problems.append(
                f"version {name!r}: the local target serves files on this machine; "
                f"download {model.uri} and point uri at the local copy"
            )
    capture = desired.deployment.spec.capture
    if capture is not None and capture.destination and is_remote(capture.destination):
        problems.append(
            f"capture.destination {capture.destination!r}: the local target writes capture "
            "files to a local directory"
        )
    return problems


def monitoring_problems(desired: DesiredEndpoint) -> list[str]:
    """A drift schedule this machine cannot run: the baseline must be a local file, the
    schedule an interval, and requests must be captured for there to be a window."""
    spec = desired.deployment.spec
    drift = spec.monitoring.drift
    if drift is None:
        return []
    from cloudserve.monitor.config import parse_duration

    problems: list[str] = []
    if is_remote(drift.baseline):
        problems.append(
            f"monitoring.drift.baseline {drift.baseline!r}: the local target reads the baseline "
            "from this machine; download it and point baseline at the local copy"
        )
    interval = parse_duration(drift.schedule)
    if interval is None or interval.total_seconds() <= 0:
        problems.append(
            f"monitoring.drift.schedule {drift.schedule!r}: the local target runs hourly, daily, "
            "weekly or an interval such as 6h or 30m"
        )
    if spec.capture is None or spec.capture.sample_percent <= 0 or not spec.capture.request:
        problems.append(
            "monitoring.drift on the local target judges the captured requests: "
            "add spec.capture with requests (e.g. {sample_percent: 20})"
        )
    return problems
