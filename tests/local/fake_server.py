"""A minimal stand-in for `cloudserve.serving.local_server`, following the local server
contract, used only when the real serving runtime is not importable.

Run as ``python -m tests.local.fake_server --state-dir DIR --host H --port N``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Endpoint:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.token = (state_dir / "token").read_text().strip()
        self.doc: dict[str, Any] = json.loads((state_dir / "endpoint.json").read_text())
        self.models: dict[str, Any] = {}
        self.status: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.counts: dict[str, list[float]] = {}
        for name, body in self.doc["versions"].items():
            self.load(name, body)

    def load(self, name: str, body: dict[str, Any]) -> str | None:
        try:
            model = _load(body)
        except Exception as exc:
            self.status[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            return str(exc)
        with self.lock:
            self.models[name] = model
            self.doc["versions"][name] = body
            self.status[name] = {"status": "ready", "error": None}
        return None

    def save(self) -> None:
        tmp = self.dir / ".endpoint.json.tmp"
        tmp.write_text(json.dumps(self.doc))
        os.replace(tmp, self.dir / "endpoint.json")

    def state(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(json.dumps(self.doc))
        for name, v in doc["versions"].items():
            v.update(self.status.get(name, {}))
        doc["pid"] = os.getpid()
        return doc

    def pick(self, forced: str | None) -> str:
        if forced:
            return forced
        traffic: dict[str, int] = self.doc["traffic"]
        names = [n for n, p in traffic.items() if p > 0]
        return str(random.choices(names, weights=[traffic[n] for n in names])[0])


def _load(body: dict[str, Any]) -> Any:
    import joblib

    model = body["model"]
    path = Path(model["uri"])
    if not path.is_absolute():
        path = Path(body["base_dir"]) / path
    return joblib.load(path)


class Handler(BaseHTTPRequestHandler):
    ep: Endpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    def _admin_ok(self) -> bool:
        if self.headers.get("X-Cloudserve-Token") != self.ep.token:
            self._send(401, {"error": "bad token"})
            return False
        return True

    def do_GET(self) -> None:
        ep = self.ep
        if self.path == "/ping":
            self._send(200 if ep.models else 503, {})
        elif self.path.startswith("/_cloudserve/"):
            if not self._admin_ok():
                return
            if self.path == "/_cloudserve/state":
                self._send(200, ep.state())
            elif self.path.startswith("/_cloudserve/metrics"):
                self._send(
                    200,
                    {
                        v: {
                            "requests": len(c),
                            "errors": 0,
                            "latency_p50_ms": 1.0,
                            "latency_p99_ms": 2.0,
                        }
                        for v, c in ep.counts.items()
                    },
                )
            else:
                self._send(404, {"error": "no such route"})
        else:
            self._send(404, {"error": "no such route"})

    def do_POST(self) -> None:
        ep = self.ep
        if self.path == "/_cloudserve/shutdown":
            if self._admin_ok():
                self._send(200, {})
                threading.Thread(target=self.server.shutdown).start()
            return
        if self.path not in ("/invocations", "/predict"):
            self._send(404, {"error": "no such route"})
            return
        body = self._body()
        with ep.lock:
            version = ep.pick(self.headers.get("X-Cloudserve-Version"))
            model = ep.models[version]
        rows = body["instances"] if isinstance(body, dict) else body
        preds = model.predict(rows).tolist()
        ep.counts.setdefault(version, []).append(time.time())
        self._send(200, {"predictions": preds}, {"X-Cloudserve-Version": version})

    def do_PUT(self) -> None:
        ep = self.ep
        if not self._admin_ok():
            return
        body = self._body()
        if self.path.startswith("/_cloudserve/versions/"):
            name = self.path.rsplit("/", 1)[1]
            err = ep.load(name, body)
            if err:
                self._send(422, {"error": err})
                return
        elif self.path == "/_cloudserve/traffic":
            if sum(body["traffic"].values()) != 100 or set(body["traffic"]) - set(ep.models):
                self._send(422, {"error": "bad traffic"})
                return
            with ep.lock:
                ep.doc["traffic"], ep.doc["mirror"] = body["traffic"], body.get("mirror") or {}
        elif self.path == "/_cloudserve/capture":
            ep.doc["capture"] = body
        ep.save()
        self._send(200, ep.state())

    def do_PATCH(self) -> None:
        ep = self.ep
        if not self._admin_ok():
            return
        for k, v in self._body().items():
            if v is None:
                ep.doc["tags"].pop(k, None)
            else:
                ep.doc["tags"][k] = v
        ep.save()
        self._send(200, ep.state())

    def do_DELETE(self) -> None:
        ep = self.ep
        if not self._admin_ok():
            return
        name = self.path.rsplit("/", 1)[1]
        if ep.doc["traffic"].get(name) or ep.doc.get("mirror", {}).get(name):
            self._send(409, {"error": f"{name} still has traffic"})
            return
        with ep.lock:
            ep.models.pop(name, None)
            ep.doc["versions"].pop(name, None)
            ep.doc["traffic"].pop(name, None)
            ep.status.pop(name, None)
        ep.save()
        self._send(200, {})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    state_dir = Path(args.state_dir)
    Handler.ep = Endpoint(state_dir)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    host, port = server.server_address[:2]
    info = {"pid": os.getpid(), "host": host, "port": port, "started_at": time.time()}
    (state_dir / "server.json").write_text(json.dumps(info))
    server.serve_forever()


if __name__ == "__main__":
    main()
