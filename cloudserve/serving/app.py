"""The ASGI application: a thin dispatcher in front of the endpoint state.

No web framework: a dict lookup on (method, path), one body read, one ``predict`` call,
one ``send``. At a few hundred microseconds per request the framework would be the
biggest cost. Predictions run on the event loop thread (a single-row scikit-learn
predict is faster than the hand-off to a thread), unless a version's moving-average
model time passes ``OFFLOAD_MS``; then they go to a thread pool so one slow model
cannot stall the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cloudserve.serving import codec, heap
from cloudserve.serving.loaders import InputError
from cloudserve.serving.state import Endpoint, StateError, Version

log = logging.getLogger("cloudserve.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint payload limit
VERSION_HEADERS = (b"x-cloudserve-version", b"x-amzn-sagemaker-target-variant")
PREDICT_PATHS = ("/invocations", "/predict", "/score")
HEALTH_PATHS = ("/ping", "/score")
ADMIN_PREFIX = "/_cloudserve/"


def configure_frameworks() -> None:
    """Per-thread framework settings for serving; also the pool threads' initializer.

    scikit-learn keeps its config per thread. Parameter validation (of fit arguments and
    public functions) is skipped; input checks stay on, since whether NaN is acceptable
    input depends on the estimator. OpenMP's thread count is per thread too: the native
    pools get what a serving worker may use (``threads.py``).
    """
    import sys
    import warnings

    from cloudserve.serving.threads import limit_native_pools

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    if "sklearn" in sys.modules:
        import sklearn

        sklearn.set_config(skip_parameter_validation=True)
    limit_native_pools()


def too_large() -> StateError:
    return StateError(413, f"request body over {MAX_BODY} bytes (SageMaker's 6 MB payload limit)")


async def read_body(receive: Receive, scope: Scope | None = None) -> bytes:
    """The whole body, refused with 413 once it passes MAX_BODY: up front when the
    declared content-length says so, else as soon as the chunks read add up past it."""
    if scope is not None:
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
                raise too_large()
    message = await receive()
    body: bytes = message.get("body", b"")
    chunks, size = [body], len(body)
    while True:
        if size > MAX_BODY:
            raise too_large()
        if not message.get("more_body"):
            break
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
    return body if len(chunks) == 1 else b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = codec.JSON,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def respond_error(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await respond(send, status, codec.error_body(message), codec.JSON, extra)


class ServingApp:
    """Data plane routes, plus any extra routes (the admin API, cloud-specific paths)."""

    def __init__(
        self,
        endpoint: Endpoint,
        extra_routes: dict[tuple[str, str], Handler] | None = None,
        admin: Handler | None = None,
        predict_paths: tuple[str, ...] = PREDICT_PATHS,
        health_paths: tuple[str, ...] = HEALTH_PATHS,
    ) -> None:
        self.endpoint = endpoint
        self.routes: dict[tuple[str, str], Handler] = {}
        for path in predict_paths:
            self.routes[("POST", path)] = self.predict
        for path in health_paths:
            self.routes[("GET", path)] = self.ping
        self.routes[("GET", "/")] = self.live
        self.routes[("GET", "/metrics")] = self.metrics
        self.routes.update(extra_routes or {})
        self.admin = admin
        self.pool = ThreadPoolExecutor(max_workers=4, initializer=configure_frameworks)
        self._background: set[asyncio.Task[None]] = set()
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            handler = self.routes.get((scope["method"], scope["path"]))
            if handler is None:
                if self.admin is None or not scope["path"].startswith(ADMIN_PREFIX):
                    await self._no_route(scope, send)
                    return
                handler = self.admin
            try:
                await handler(scope, receive, send)
            except StateError as exc:
                await respond_error(send, exc.status, str(exc))
            except InputError as exc:
                await respond_error(send, 400, str(exc))
            except Exception as exc:  # never a traceback to the caller
                log.exception("request to %s failed", scope["path"])
                await respond_error(send, 500, f"internal error: {type(exc).__name__}")
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _no_route(self, scope: Scope, send: Send) -> None:
        if any(path == scope["path"] for _, path in self.routes):
            await respond_error(send, 405, f"{scope['method']} not allowed on {scope['path']}")
        else:
            await respond_error(send, 404, f"no route {scope['path']}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                configure_frameworks()
                heap.settle()  # the models are loaded: hide them from the collector
                self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._flusher is not None:
                    self._flusher.cancel()
                self.flush_capture()
                self.pool.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            capture = self.endpoint.capture
            if capture is not None:
                await asyncio.to_thread(capture.flush)

    def flush_capture(self) -> None:
        if self.endpoint.capture is not None:
            self.endpoint.capture.flush()

    async def live(self, scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, 200, b"Healthy", b"text/plain")

    async def ping(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.endpoint.healthy():
            await respond(send, 200, b'{"status":"ok"}')
        else:
            await respond_error(send, 503, "no version with traffic is loaded")

    async def metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.endpoint.prom.render()
        await respond(send, 200, body, b"text/plain; version=0.0.4; charset=utf-8")

    async def predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type, accept, forced = _headers(scope)
        body = await read_body(receive, scope)
        instances = codec.parse(body, content_type)
        version = self.endpoint.pick(forced)
        answered_by = [(b"x-cloudserve-version", version.name.encode())]
        try:
            predictions, elapsed = await self._run(version, instances)
        except (StateError, InputError) as exc:  # a failure is attributed to its version too
            status = exc.status if isinstance(exc, StateError) else 400
            await respond_error(send, status, str(exc), answered_by)
            return
        payload, out_type = codec.encode(predictions, accept)
        await respond(send, 200, payload, out_type, answered_by)
        endpoint = self.endpoint
        if endpoint.capture is not None and endpoint.capture.sampled():
            endpoint.capture.record(
                version.name,
                False,
                {"instances": instances},
                {"predictions": predictions},
                elapsed * 1000.0,
            )
        for name, pct in endpoint.mirror_items:
            if pct >= 100 or random.random() * 100 < pct:
                self._spawn(self._shadow(name, instances))

    async def _run(self, version: Version, instances: list[Any]) -> tuple[list[Any], float]:
        start = time.perf_counter()
        try:
            predictions = await version.batcher(self.pool).submit(instances)
        except InputError:
            # The caller's mistake, not the version's: counted apart from errors, so
            # malformed traffic cannot fail a healthy canary's error_rate gate.
            version.observe(time.perf_counter() - start, False, client_error=True)
            raise
        except Exception as exc:
            version.observe(time.perf_counter() - start, True)
            log.warning("version %s failed to predict: %s", version.name, exc, exc_info=exc)
            raise StateError(
                500, f"model error in version {version.name!r}: {type(exc).__name__}: {exc}"
            ) from exc
        elapsed = time.perf_counter() - start
        version.observe(elapsed, False)
        return predictions, elapsed

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _shadow(self, name: str, instances: list[Any]) -> None:
        """Mirror a request: record the answer (metrics, capture), never return it."""
        await asyncio.sleep(0)  # after the caller's answer is on its way
        version = self.endpoint.versions.get(name)
        if version is None or version.model is None:
            return
        try:
            predictions, elapsed = await self._run(version, instances)
            response: Any = {"predictions": predictions}
        except (InputError, StateError) as exc:
            elapsed, response = 0.0, {"error": str(exc)}
        capture = self.endpoint.capture
        if capture is not None and capture.sampled():
            capture.record(name, True, {"instances": instances}, response, elapsed * 1000.0)


def _headers(scope: Scope) -> tuple[str, str, str | None]:
    content_type, accept, forced = "application/json", "", None
    for key, value in scope["headers"]:
        if key == b"content-type":
            content_type = value.decode("latin-1").lower()
        elif key == b"accept":
            accept = value.decode("latin-1").lower()
        elif key in VERSION_HEADERS:
            forced = value.decode("latin-1")
    return content_type, accept, forced
