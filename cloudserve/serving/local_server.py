"""The local target's endpoint server: every version of one deployment in one process.

Started detached by the local provider as::

    python -m cloudserve.serving.local_server --state-dir DIR --host 127.0.0.1 --port N

``DIR/endpoint.json`` holds the desired state ({"name", "versions": {name: {"config_hash",
"model", "image", "env", "base_dir"}}, "traffic", "mirror", "tags", "capture",
"monitoring"}) and
``DIR/token`` the admin token. Models are loaded before the port opens, so once
``DIR/server.json`` ({"pid", "host", "port", "started_at"}) exists the server answers
with every loadable version; one that fails to load is reported by
``GET /_cloudserve/state`` as ``failed`` with the loader's reason, and the others serve.
The server keeps ``endpoint.json`` current after each admin change, so a restart
restores the same state. ``server.json`` is removed on a graceful stop. ``monitoring``
(a drift config, or null) is the drift schedule the server runs over its capture log in
a background thread (:mod:`cloudserve.serving.drift_schedule`), reports under
``DIR/drift/``. The HTTP
surface (data plane and admin API) is in :mod:`cloudserve.serving.app` and
:mod:`cloudserve.serving.admin`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from cloudserve.serving.admin import Admin, load_version, write_json_atomic
from cloudserve.serving.app import ServingApp
from cloudserve.serving.drift_schedule import ScheduleError
from cloudserve.serving.loaders import LoaderError
from cloudserve.serving.metrics import PrometheusMetrics
from cloudserve.serving.state import Endpoint, RouteTable, StateError, Version

log = logging.getLogger("cloudserve.serving")


def build_endpoint(document: dict[str, Any], state_dir: Path) -> Endpoint:
    """Load every version of a stored endpoint; failures are recorded, not fatal."""
    endpoint = Endpoint(name=str(document.get("name", state_dir.name)), prom=PrometheusMetrics())
    for name, config in (document.get("versions") or {}).items():
        version = Version(name=name, config=config, stats=endpoint.stats_for(name))
        try:
            version.model = load_version(config)
        except LoaderError as exc:
            version.error = str(exc)
            log.error("version %s failed to load: %s", name, exc)
        endpoint.versions[name] = version
    traffic = dict(document.get("traffic") or {})
    mirror = dict(document.get("mirror") or {})
    try:
        endpoint.set_traffic(traffic, mirror)
    except StateError as exc:
        # Keep the recorded split (the provider reads it back) but route only to what loaded.
        log.error("restored traffic cannot be served as recorded: %s", exc)
        endpoint.traffic, endpoint.mirror = traffic, mirror
        ready = {n: p for n, p in traffic.items() if n in endpoint.versions and endpoint.versions[n].ready}
        endpoint.table = RouteTable.build(ready)
    endpoint.tags = {str(k): str(v) for k, v in (document.get("tags") or {}).items()}
    capture = document.get("capture")
    if capture is not None:
        endpoint.set_capture(capture, state_dir / "capture")
    return endpoint


def start_monitoring(admin: Admin, config: Any) -> None:
    """Resume the drift schedule recorded in endpoint.json. A config this server cannot
    run is dropped with an error in the log, not fatal: serving matters more, and the
    provider sees the schedule missing and sends it again, getting the reason back."""
    if config is None:
        return
    try:
        admin.drift.configure(config)
    except ScheduleError as exc:
        log.error("drift schedule not started: %s", exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudserve.serving.local_server")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default=0, type=int)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    state_dir: Path = args.state_dir.resolve()
    try:
        token = (state_dir / "token").read_text().strip()
        document = orjson.loads((state_dir / "endpoint.json").read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    if not token:
        print(f"cannot start: {state_dir / 'token'} is empty", file=sys.stderr)
        return 2
    from cloudserve.serving import runner

    endpoint = build_endpoint(document, state_dir)
    admin = Admin(endpoint, token, state_dir)
    start_monitoring(admin, document.get("monitoring"))
    admin.persist()
    app = ServingApp(endpoint, admin=admin)
    sock = runner.bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    server_file = state_dir / "server.json"

    def started() -> None:
        info = {"pid": os.getpid(), "host": host, "port": port, "started_at": time.time()}
        write_json_atomic(server_file, info)
        log.info("endpoint %s listening on http://%s:%s", endpoint.name, host, port)

    def stopped() -> None:
        admin.drift.close()
        try:
            if orjson.loads(server_file.read_bytes()).get("pid") == os.getpid():
                server_file.unlink()
        except (OSError, orjson.JSONDecodeError):
            pass

    runner.serve(app, sock, started, "warning", controllers=(admin,), on_stopped=stopped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
