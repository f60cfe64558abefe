"""Run an ASGI app under uvicorn on a socket we bind ourselves.

Binding first lets port 0 work (we learn the port before anyone needs it), lets the
caller record where we listen the moment we do, and lets us set TCP_NODELAY on the
listening socket, which Linux copies to every accepted connection: without it small
JSON answers can wait on Nagle's algorithm for tens of milliseconds.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)  # now, so forked workers share a socket that already accepts
    sock.set_inheritable(True)
    return sock


def make_server(
    app: Any,
    on_started: Callable[[], None] | None = None,
    log_level: str = "warning",
    on_stopped: Callable[[], None] | None = None,
) -> Any:
    """A uvicorn Server (httptools; uvloop if installed) calling ``on_started`` once listening."""
    import uvicorn

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - Windows
        loop = "asyncio"
    config = uvicorn.Config(
        app,
        loop=loop,
        http=_coalescing_protocol(),
        proxy_headers=False,  # no proxy in front; its middleware costs a call per request
        server_header=False,
        lifespan="on",
        access_log=False,
        log_level=log_level,
        timeout_keep_alive=75,  # above common load balancers' idle timeouts (SageMaker: 60 s)
        backlog=2048,
    )

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if on_started is not None and not self.should_exit:
                on_started()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # Here, not after serve(): uvicorn re-raises a caught SIGTERM once serve() ends.
            await super().shutdown(sockets=sockets)
            if on_stopped is not None:
                on_stopped()

    return _Server(config)


def serve(
    app: Any,
    sock: socket.socket,
    on_started: Callable[[], None] | None = None,
    log_level: str = "warning",
    controllers: tuple[Any, ...] = (),
    on_stopped: Callable[[], None] | None = None,
) -> Any:
    """Serve until stopped (a signal, or a controller's ``request_shutdown()``)."""
    server = make_server(app, on_started, log_level, on_stopped)

    def stop() -> None:
        server.should_exit = True

    for controller in controllers:
        controller.request_shutdown = stop
    server.run(sockets=[sock])
    return server


def _coalescing_protocol() -> type[Any]:
    """uvicorn's httptools protocol, writing each response's head and body in one write.

    uvicorn writes the status line and headers on ``http.response.start`` and the body on
    ``http.response.body``: two syscalls and, with TCP_NODELAY, two packets per answer.
    For a ~30-byte JSON body that doubles the kernel work per request. Here the start
    message is held and both are written through one buffered ``transport.write``.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            cycle.send = _coalescing_send(cycle, cycle.send)
            super()._start_asgi_task(cycle, app)

    return CoalescingHttpToolsProtocol


class _Joined:
    """Stands in for the transport during one response; passes everything else through."""

    __slots__ = ("chunks", "real")

    def __init__(self, real: Any) -> None:
        self.real = real
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(data)

    def flush(self) -> None:
        if self.chunks:
            self.real.write(b"".join(self.chunks))
            self.chunks = []

    def close(self) -> None:
        self.flush()
        self.real.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _coalescing_send(cycle: Any, send: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    held: list[Any] = []

    async def coalesced(message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not held:
            held.append(message)
            return
        if kind != "http.response.body" or not held:
            await send(message)
            return
        start = held.pop()
        real = cycle.transport
        joined = _Joined(real)
        cycle.transport = joined
        try:
            await send(start)
            await send(message)
        finally:
            cycle.transport = real
            joined.flush()

    return coalesced
