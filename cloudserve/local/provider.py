"""LocalProvider: each deployment is one detached server process on this machine.

Every version is hosted in-process by that server (the serving runtime), which exposes
an admin API on the same port. The provider writes the desired state into the
deployment's state directory, starts the process, and maps each core operation onto
one admin call; the server does the work atomically (a model is loaded before it is
swapped in, a traffic change is one switch), so every operation has finished when the
call returns.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import urllib.parse
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from cloudserve.errors import Conflict, DeploymentFailed, NotFound, ProviderError, Unavailable
from cloudserve.local import translate
from cloudserve.local.client import INVOKE_TIMEOUT, VERSION_HEADER, ServerClient
from cloudserve.local.lock import DEFAULT_LOCK_TIMEOUT, deployment_lock
from cloudserve.local.process import SERVER_MODULE, ServerInfo, pid_alive, spawn, stop, wait_ready
from cloudserve.local.settings import LocalSettings
from cloudserve.local.state import StateDir, state_dir, state_root
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
    coerce_settings,
)
from cloudserve.spec.models import Deployment

log = logging.getLogger(__name__)

START_TIMEOUT = 120.0

_CAPABILITIES = (
    Capability(Feature.TRAFFIC_SPLIT, Support.NATIVE, "weighted per request by the server"),
    Capability(Feature.MIRROR, Support.NATIVE, "the server copies the mirror share in the background"),
    Capability(Feature.CAPTURE, Support.NATIVE, "JSON Lines files in a local directory"),
    # Ignored, not refused, so that the spec a team deploys to a cloud also runs here.
    Capability(
        Feature.REPLICAS,
        Support.IGNORED,
        "one server process on this machine serves every version (its traffic table, admin API "
        "and gate metrics live in that process); replicas apply on the cloud targets",
    ),
    Capability(
        Feature.AUTOSCALE,
        Support.IGNORED,
        "one server process on this machine; autoscaling applies on the cloud targets",
    ),
    Capability(Feature.SERVERLESS, Support.UNSUPPORTED, "one long-running process on this machine"),
    Capability(Feature.ACCELERATOR, Support.UNSUPPORTED, "models run on this machine's CPU"),
    Capability(
        Feature.DRIFT_MONITORING,
        Support.EMULATED,
        "the endpoint's server runs cloudserve's drift engine over its capture log on the schedule",
    ),
    Capability(
        Feature.ROLLOUT,
        Support.EMULATED,
        "cloudserve's controller shifts traffic and reads metrics",
    ),
)


class _Live:
    """A verified running server: the pid is alive and answers with our token."""

    def __init__(self, state: StateDir, info: ServerInfo, client: ServerClient, doc: dict[str, Any]):
        self.state = state
        self.info = info
        self.client = client
        self.doc = doc


class LocalProvider(Provider):
    name = "local"

    def __init__(
        self,
        settings: Any = None,
        *,
        offline: bool = False,
        server_module: str = SERVER_MODULE,
        start_timeout: float = START_TIMEOUT,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        settings = coerce_settings(LocalSettings, settings)
        super().__init__(settings, offline=offline)
        self.local: LocalSettings = settings
        self.root = state_root(settings.state_dir)
        self.server_module = server_module
        self.start_timeout = start_timeout
        self.lock_timeout = lock_timeout

    # --- what the target can do -------------------------------------------------------
    def capabilities(self) -> Mapping[Feature, Capability]:
        return {c.feature: c for c in _CAPABILITIES}

    def validate(self, desired: DesiredEndpoint) -> list[str]:
        problems = translate.version_problems(desired)
        problems.extend(translate.monitoring_problems(desired))
        problems.extend(self._bind_problems())
        return problems

    def _bind_problems(self) -> list[str]:
        host, port = self.local.host, self.local.port
        if not _is_loopback(host):
            if "host" in self.local.model_fields_set:
                message = (
                    f"targets.local.host is {host!r}: the endpoint (and its admin API, guarded "
                    "only by a token) will be reachable from other machines"
                )
                warnings.warn(message, UserWarning, stacklevel=3)
                log.warning(message)
            else:
                return [f"targets.local.host {host!r} is not a loopback address"]
        if port is not None and 0 < port < 1024 and hasattr(os, "geteuid") and os.geteuid() != 0:
            return [f"targets.local.port {port} is below 1024 and needs root; pick 1024-65535 or omit it"]
        return []

    def resolve_instance_type(self, deployment: Deployment) -> str | None:
        return "local"

    def plan_note(self, desired: DesiredEndpoint, version: DesiredVersion) -> PlanNote:
        notes = ["one process on this machine serves every version"]
        if version.spec.env:
            # Versions share the server process, so one version's variables cannot be its
            # own; the server inherits the environment `apply` runs in.
            notes.append(
                f"env ({', '.join(sorted(version.spec.env))}) is not applied here: versions share "
                "one process, which inherits the environment of the apply; it is the serving "
                "container's environment on the cloud targets"
            )
        return PlanNote(instance_type="local", hourly_price_usd=0.0, notes=tuple(notes))

    def operations(self, action: str, desired: DesiredEndpoint, subject: str) -> list[str]:
        where = self._state(desired.name).path
        drift = desired.deployment.spec.monitoring.drift
        schedule = [f"start the {drift.schedule} drift schedule in the server"] if drift else []
        calls = {
            "create_endpoint": [
                f"write {where}/endpoint.json",
                f"spawn python -m {self.server_module}",
                *schedule,
            ],
            "create_version": [f"PUT /_cloudserve/versions/{subject}"],
            "replace_version": [f"PUT /_cloudserve/versions/{subject}"],
            "update_version": [],
            "delete_version": [f"DELETE /_cloudserve/versions/{subject}"],
            "set_traffic": ["PUT /_cloudserve/traffic"],
            "update_endpoint": [
                "PATCH /_cloudserve/tags",
                "PUT /_cloudserve/capture",
                "PUT /_cloudserve/monitoring",
            ],
            "delete_endpoint": ["POST /_cloudserve/shutdown", f"remove {where}"],
        }
        return calls.get(action, [])

    # --- concurrency --------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str, timeout: float | None = None) -> Iterator[None]:
        """Exclusive hold on one deployment for an apply or rollout; Conflict after
        ``timeout`` seconds naming the holder, or at once when a rollout's lease held by
        another process is on the endpoint (the issue's rule: refused, not queued)."""
        wait = self.lock_timeout if timeout is None else timeout
        with deployment_lock(self._state(name), name, wait, lambda: self._refuse_if_leased(name)):
            yield

    def _refuse_if_leased(self, name: str) -> None:
        from cloudserve.rollout.controller import check_lease
        from cloudserve.rollout.record import holder_id

        observed = self.observe(name)
        if observed is not None:
            check_lease(observed.tags, holder_id())

    # --- read ---------------------------------------------------------------------------
    def list_endpoints(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if state_dir(self.root, p.name).exists())

    def observe(self, name: str) -> EndpointState | None:
        state = self._state(name)
        if not state.exists():
            return None
        live = self._connect(state)
        if live is None:
            doc = state.read_json(state.endpoint) or {}
            return self._endpoint_state(name, state, doc, None)
        return self._endpoint_state(name, state, live.doc, live)

    def _endpoint_state(
        self,
        name: str,
        state: StateDir,
        doc: dict[str, Any],
        live: _Live | None,
    ) -> EndpointState:
        versions = translate.version_states(doc, running=live is not None)
        failed = {n: v.failure_reason for n, v in versions.items() if v.status == Status.FAILED}
        traffic = translate.full_traffic(versions, doc.get("traffic"))
        serving = any(
            pct > 0 and versions[n].status == Status.READY for n, pct in traffic.items() if n in versions
        )
        if live is not None and not serving:  # up, but every request would be a 503
            split = {n: p for n, p in traffic.items() if p}
            failed = {"endpoint": f"no loaded version receives traffic (traffic: {split})", **failed}
        capture = doc.get("capture")
        details: dict[str, Any] = {"state_dir": str(state.path), "log": str(state.log)}
        if live is not None:
            details["pid"] = live.info.pid
        if doc.get("monitoring"):
            details["drift_reports"] = str(state.path / "drift")
        return EndpointState(
            name=name,
            status=Status.STOPPED if live is None else Status.READY if serving else Status.FAILED,
            versions=versions,
            traffic=traffic,
            mirror={k: int(v) for k, v in (doc.get("mirror") or {}).items() if v},
            tags={str(k): str(v) for k, v in (doc.get("tags") or {}).items()},
            capture_percent=int(capture["sample_percent"]) if isinstance(capture, dict) else None,
            monitoring_hash=translate.monitoring_hash(doc),
            url=f"http://{live.info.host}:{live.info.port}" if live is not None else None,
            failure_reason="; ".join(f"{n}: {r}" for n, r in failed.items()) or None
            if live is not None
            else "the local server is not running",
            details=details,
        )

    # --- write ----------------------------------------------------------------------------
    def create_endpoint(self, desired: DesiredEndpoint) -> Operation:
        """Start the server, or bring a stopped one back with the new desired state. On a
        server that is already running, converge it instead (idempotent)."""
        state = self._state(desired.name)
        live = self._connect(state)
        if live is not None:
            self._converge(live, desired)
            return Done(f"local endpoint {desired.name} already running; converged")
        existed = state.exists()
        token = state.token()
        state.write_json(state.endpoint, translate.endpoint_body(desired))
        state.write_json(state.provider, translate.provider_record(desired))
        if self.project_dir is not None and state.owning_project() is None:
            state.write_json(state.project, {"spec_dir": str(self.project_dir)})
        port = self.local.port if self.local.port is not None else 0
        pid = spawn(state, self.local.host, port, self.server_module)
        try:
            info = wait_ready(state, pid, token, self.start_timeout)
        except Exception as exc:
            self._after_failed_start(state, pid, token, existed, exc)
            raise
        return Done(f"local endpoint {desired.name} listening on {info.host}:{info.port}")

    def _after_failed_start(
        self, state: StateDir, pid: int, token: str, existed: bool, exc: Exception
    ) -> None:
        """A failed first start leaves no endpoint behind, only the log. A restart in which
        only some versions failed keeps the others serving (status shows the failures)."""
        info = ServerInfo.read(state)
        serving = (
            existed
            and isinstance(exc, DeploymentFailed)
            and info is not None
            and info.pid == pid
            and ServerClient(info.host, info.port, token).ping()
        )
        if serving:
            return
        if pid_alive(pid):
            stop(state, pid, None, grace=2.0)
        if not existed:
            for path in (state.endpoint, state.provider, state.project, state.server, state.token_file):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _converge(self, live: _Live, desired: DesiredEndpoint) -> None:
        current = live.doc.get("versions") or {}
        for name, version in desired.versions.items():
            have = current.get(name) or {}
            if have.get("config_hash") != version.config_hash or have.get("status") == "failed":
                self._put_version(live, desired, version)
        live.client.admin(
            "PUT",
            "/traffic",
            {
                "traffic": dict(desired.traffic),
                "mirror": {k: v for k, v in desired.mirror.items() if v},
            },
            what="set traffic",
        )
        for name in set(current) - set(desired.versions):
            live.client.admin("DELETE", f"/versions/{_q(name)}", what=f"delete version {name}")
        self._update_endpoint(live, desired)

    def create_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        live = self._require(desired.name)
        self._put_version(live, desired, version)
        return Done(f"version {version.name} loaded")

    def replace_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        """The server loads the new model beside the old and swaps atomically: the old
        one keeps answering if the new one fails to load."""
        live = self._require(desired.name)
        self._put_version(live, desired, version)
        return Done(f"version {version.name} replaced")

    def update_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        """Nothing to change: one process serves every version (observe reports no scaling,
        so the core does not plan this on the local target)."""
        self._require(desired.name)
        return Done(f"version {version.name}: scaling does not apply to one local process")

    def delete_version(self, desired: DesiredEndpoint, name: str) -> Operation:
        live = self._require(desired.name)
        live.client.admin("DELETE", f"/versions/{_q(name)}", what=f"delete version {name}")
        return Done(f"version {name} unloaded")

    def set_traffic(self, name: str, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> Operation:
        live = self._require(name)
        body = {"traffic": dict(traffic), "mirror": {k: v for k, v in mirror.items() if v}}
        live.client.admin("PUT", "/traffic", body, what="set traffic", unprocessable=ProviderError)
        return Done("traffic switched")

    def update_endpoint(self, desired: DesiredEndpoint) -> Operation:
        self._update_endpoint(self._require(desired.name), desired)
        return Done("endpoint settings updated")

    def _update_endpoint(self, live: _Live, desired: DesiredEndpoint) -> None:
        current = {str(k): str(v) for k, v in (live.doc.get("tags") or {}).items()}
        patch = translate.tag_patch(current, dict(desired.tags))
        if patch:
            live.client.admin("PATCH", "/tags", patch, what="write tags")
        capture = translate.capture_body(desired)
        if not translate.same_capture(capture, live.doc.get("capture")):
            live.client.admin("PUT", "/capture", capture, what="set capture", unprocessable=ProviderError)
        monitoring = translate.monitoring_body(desired)
        if not translate.same_monitoring(monitoring, live.doc.get("monitoring")):
            live.client.admin(
                "PUT", "/monitoring", monitoring, what="set the drift schedule", unprocessable=ProviderError
            )
        live.state.write_json(live.state.provider, translate.provider_record(desired))

    def delete_endpoint(self, name: str) -> Operation:
        state = self._state(name)
        if not state.exists() and not state.server.exists():
            raise NotFound(f"local deployment {name!r} does not exist (looked in {state.path})")
        live = self._connect(state)
        if live is not None:
            stop(state, live.info.pid, live.client)
        state.remove()
        return Done(f"local endpoint {name} stopped and {state.path} removed")

    def write_tags(self, name: str, tags: Mapping[str, str | None]) -> None:
        self._require(name).client.admin("PATCH", "/tags", dict(tags), what="write tags")

    # --- data plane -----------------------------------------------------------------------
    def invoke(self, name: str, payload: Any, *, version: str | None = None) -> InvokeResult:
        client = self._data_client(name)
        headers = {VERSION_HEADER: version} if version else {}
        if isinstance(payload, (str, bytes)):
            raw = payload.encode() if isinstance(payload, str) else payload
            headers["Content-Type"] = "text/csv"
            resp = client.request("POST", "/invocations", headers=headers, raw=raw, timeout=INVOKE_TIMEOUT)
        else:
            resp = client.request("POST", "/invocations", payload, headers=headers, timeout=INVOKE_TIMEOUT)
        answered = next((v for k, v in resp.headers.items() if k.lower() == VERSION_HEADER.lower()), None)
        return InvokeResult(resp.body, answered, resp.status, resp.latency_ms)

    def metrics(self, name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        raw = self._require(name).client.metrics(window_seconds)
        out: dict[str, VersionMetrics] = {}
        for version in versions:
            m = raw.get(version) or {}
            out[version] = VersionMetrics(
                requests=float(m.get("requests") or 0),
                errors=float(m.get("errors") or 0),
                client_errors=float(m.get("client_errors") or 0),
                latency_p50_ms=m.get("latency_p50_ms"),
                latency_p99_ms=m.get("latency_p99_ms"),
            )
        return out

    # --- helpers --------------------------------------------------------------------------
    def _state(self, name: str) -> StateDir:
        """The deployment's state directory, refused when another project's spec owns it:
        the state root is per user, so two checkouts using one name would otherwise stop,
        replace and destroy each other's servers."""
        state = state_dir(self.root, name)
        owner = state.owning_project()
        mine = str(self.project_dir) if self.project_dir is not None else None
        if owner is not None and mine is not None and owner != mine and state.path.exists():
            raise Conflict(
                f"local deployment {name!r} belongs to the spec in {owner} (its state is {state.path}), "
                f"not to this one in {mine}",
                hint=f"rename metadata.name here, give this project its own targets.local.state_dir, "
                f"or manage it from {owner}",
                target=self.name,
            )
        return state

    def _connect(self, state: StateDir) -> _Live | None:
        """The running server, verified: pid alive, admin API answers our token, same pid."""
        info = ServerInfo.read(state)
        if info is None or not pid_alive(info.pid) or not state.token_file.exists():
            return None
        client = ServerClient(info.host, info.port, state.token())
        try:
            doc = client.state()
        except Exception:  # not ours, not answering, or a reused pid
            return None
        if int(doc.get("pid") or -1) != info.pid:
            return None
        return _Live(state, info, client, doc)

    def _require(self, name: str) -> _Live:
        state = self._state(name)
        live = self._connect(state)
        if live is not None:
            return live
        if not state.exists():
            raise NotFound(f"local deployment {name!r} does not exist (looked in {state.path})")
        raise ProviderError(
            f"the local server of {name!r} is not running",
            hint=f"run apply to start it again; its log is {state.log}",
        )

    def _data_client(self, name: str) -> ServerClient:
        state = self._state(name)
        info = ServerInfo.read(state)
        if info is None or not pid_alive(info.pid):
            self._require(name)  # raises the precise error
            raise Unavailable(f"the local server of {name!r} is not running")
        return ServerClient(info.host, info.port)

    def _put_version(self, live: _Live, desired: DesiredEndpoint, version: DesiredVersion) -> None:
        body = translate.version_body(desired, version)
        try:
            live.client.admin(
                "PUT", f"/versions/{_q(version.name)}", body, what=f"load version {version.name}"
            )
        except DeploymentFailed as err:
            raise DeploymentFailed(
                f"version {version.name!r} could not be loaded: {err.message}",
                hint="the versions already serving keep serving",
            ) from err


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
