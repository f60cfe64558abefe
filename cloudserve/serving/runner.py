"""Run an ASGI app under uvicorn on a socket we bind ourselves.

Binding first lets port 0 work (we learn the port before anyone needs it), lets the
caller record where we listen the moment we do, and lets us set TCP_NODELAY on the
listening socket, which Linux copies to every accepted connection: without it small
JSON answers can wait on Nagle's algorithm for tens of milliseconds.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
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
        http="httptools",
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
