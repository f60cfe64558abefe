"""The admin API of the local server (contract: /tmp/local_contract.md, kept in the repo
as the docstring of :mod:`cloudserve.serving.local_server`).

Every call needs ``X-Cloudserve-Token``. Changes are serialized by one lock (a model
load runs in a worker thread while the lock is held, so serving carries on) and each is
persisted to ``endpoint.json`` with write-to-temp + ``os.replace`` before answering, so
a restarted server comes back with exactly what the provider last saw acknowledged.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson

from cloudserve.serving import codec, heap
from cloudserve.serving.app import ADMIN_PREFIX as PREFIX
from cloudserve.serving.app import (
    Receive,
    Scope,
    Send,
    configure_frameworks,
    read_body,
    respond,
    respond_error,
)
from cloudserve.serving.drift_schedule import DriftSchedule, NoSchedule, ScheduleError
from cloudserve.serving.loaders import LoadedModel, LoaderError, load_model
from cloudserve.serving.loaders.base import InputError
from cloudserve.serving.state import Endpoint, StateError, Version

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def load_version(config: dict[str, Any]) -> LoadedModel:
    """Load the model a version config names; image-only versions cannot run in-process."""
    model = config.get("model")
    if not model:
        raise LoaderError(
            "the local target serves models in-process; a version with only an image "
            "needs a container runtime"
        )
    return load_model(model, config.get("base_dir"))


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    os.replace(tmp, path)


class Admin:
    def __init__(self, endpoint: Endpoint, token: str, state_dir: Path) -> None:
        self.endpoint = endpoint
        self.token = token.encode()
        self.state_dir = state_dir
        self.lock = asyncio.Lock()
        self.request_shutdown: Any = None  # set by the runner
        self.drift = DriftSchedule(state_dir, lambda: self.endpoint.capture)

    def persist(self) -> None:
        write_json_atomic(self.state_dir / "endpoint.json", self.document())

    def document(self) -> dict[str, Any]:
        """endpoint.json: the endpoint, plus the drift schedule this server runs."""
        doc = self.endpoint.document()
        doc["monitoring"] = self.drift.config.to_dict() if self.drift.config else None
        return doc

    def state(self) -> dict[str, Any]:
        doc = self.document()
        for name, version in self.endpoint.versions.items():
            doc["versions"][name] = {**version.config, **version_status(version)}
        doc["pid"] = os.getpid()
        doc["batching"] = {  # how batches formed: the benchmark reads it, and people tuning
            name: {"batches": b.batches, "requests": b.requests, "model_ms": round(b.model_ms, 3)}
            for name, version in self.endpoint.versions.items()
            if (b := version.current_batcher) is not None
        }
        return doc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._authorized(scope):
            await respond_error(send, 401, "missing or wrong X-Cloudserve-Token")
            return
        method, path = scope["method"], scope["path"][len(PREFIX) :]
        body = await read_body(receive, scope) if method in ("PUT", "PATCH", "POST") else b""
        if path.startswith("versions/"):
            name = path[len("versions/") :]
            if not _NAME.match(name):
                raise StateError(400, f"invalid version name {name!r}")
            result = await self._version(method, name, body)
        else:
            result = await self._other(method, path, body, scope)
        await respond(send, 200, codec.dumps(result))

    def _authorized(self, scope: Scope) -> bool:
        for key, value in scope["headers"]:
            if key == b"x-cloudserve-token":
                return hmac.compare_digest(value, self.token)
        return False

    async def _version(self, method: str, name: str, body: bytes) -> dict[str, Any]:
        if method == "PUT":
            return await self.put_version(name, _json_object(body))
        if method == "DELETE":
            async with self.lock:
                self.endpoint.delete(name)
                self.persist()
                heap.settle()
            return {"deleted": name}
        raise StateError(405, f"{method} not allowed on versions")

    async def put_version(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        async with self.lock:
            try:
                model = await asyncio.to_thread(load_version, config)
            except LoaderError as exc:
                raise StateError(422, str(exc)) from exc
            configure_frameworks()  # this model may have brought scikit-learn in first
            # One assignment: requests already running keep the object they picked.
            self.endpoint.versions[name] = Version(
                name=name, config=config, stats=self.endpoint.stats_for(name), model=model
            )
            self.persist()
            heap.settle()
        return {"name": name, **config, **version_status(self.endpoint.versions[name])}

    async def _other(self, method: str, path: str, body: bytes, scope: Scope) -> Any:
        route = (method, path)
        if route == ("GET", "state"):
            return self.state()
        if route == ("GET", "metrics"):
            query = parse_qs(scope.get("query_string", b"").decode())
            try:
                window = float(query.get("window", ["60"])[0])
            except ValueError:
                raise StateError(400, "window must be a number of seconds") from None
            return {n: v.stats.window.summary(window) for n, v in self.endpoint.versions.items()}
        if route == ("POST", "shutdown"):
            if self.request_shutdown is not None:
                asyncio.get_running_loop().call_later(0.05, self.request_shutdown)
            return {"stopping": True}
        if path == "monitoring" or path.startswith("monitoring/"):
            return await self._monitoring(route, body)
        async with self.lock:
            result = self._mutate(route, body)
            self.persist()
        return result

    async def _monitoring(self, route: tuple[str, str], body: bytes) -> Any:
        """The drift schedule: read it, replace it (null removes it), or run it now. A run
        goes to a worker thread and holds only the schedule's lock, never the admin one."""
        if route == ("GET", "monitoring"):
            return self.drift.status()
        if route == ("PUT", "monitoring"):
            data: Any = _json_value(body) if body.strip() else None
            async with self.lock:
                try:
                    self.drift.configure(data)
                except ScheduleError as exc:
                    raise StateError(422, str(exc)) from None
                self.persist()
            return self.drift.status()
        if route == ("POST", "monitoring/run"):
            options = _json_object(body) if body.strip() else {}
            window = options.get("window")
            try:
                return await asyncio.to_thread(self.drift.run_now, str(window) if window else None)
            except NoSchedule as exc:
                raise StateError(409, str(exc)) from None
            except (ValueError, OSError) as exc:  # an unreadable baseline or capture log
                raise StateError(422, f"drift run failed: {exc}") from None
        raise StateError(404, f"no admin route {route[0]} {PREFIX}{route[1]}")

    def _mutate(self, route: tuple[str, str], body: bytes) -> Any:
        endpoint = self.endpoint
        if route == ("PUT", "traffic"):
            data = _json_object(body, required=("traffic",), allowed=("traffic", "mirror"))
            traffic = _split(data["traffic"])
            if not traffic:
                raise InputError('traffic must name at least one version, e.g. {"traffic": {"a": 100}}')
            endpoint.set_traffic(traffic, _split(data.get("mirror")))
            return {"traffic": endpoint.traffic, "mirror": endpoint.mirror}
        if route == ("PATCH", "tags"):
            patch = _json_object(body)
            for key, value in patch.items():
                if value is not None and not isinstance(value, str | int | float | bool):
                    raise InputError(f"tag {key!r} must be a string or null, not {type(value).__name__}")
            for key, value in patch.items():
                if value is None:
                    endpoint.tags.pop(key, None)
                else:
                    endpoint.tags[key] = str(value)
            return {"tags": endpoint.tags}
        if route == ("PUT", "capture"):
            capture: Any = _json_value(body) if body.strip() else None
            if capture is not None and not isinstance(capture, dict):
                raise StateError(400, "capture must be an object or null")
            endpoint.set_capture(capture, self.state_dir / "capture")
            return {"capture": endpoint.capture.config() if endpoint.capture else None}
        raise StateError(404, f"no admin route {route[0]} {PREFIX}{route[1]}")


def version_status(version: Version) -> dict[str, Any]:
    return {"status": "ready" if version.ready else "failed", "error": version.error}


def _json_value(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON ({exc})") from None


def _json_object(
    body: bytes, required: tuple[str, ...] = (), allowed: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """A JSON object body; a missing required key or an unknown one is a 400 (InputError),
    checked before anything changes."""
    if not body.strip():
        raise InputError("body is empty; a JSON object is required")
    data = _json_value(body)
    if not isinstance(data, dict):
        raise InputError("body must be a JSON object")
    missing = [key for key in required if key not in data]
    if missing:
        raise InputError(f"body lacks {', '.join(missing)}")
    unknown = sorted(set(data) - set(allowed)) if allowed is not None else []
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}; expected {', '.join(allowed or ())}")
    return data


def _split(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError("traffic and mirror must be {version: percent} objects")
    return dict(value)
