"""Starting, finding and stopping the detached server process of one local deployment.

The server must outlive the terminal that ran `apply`: it runs in its own session, with
its output in a log file and no inherited file descriptors. Liveness is never taken
from a pid alone (pids get reused): the admin API must also answer with our token and
report the same pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudserve.errors import DeploymentFailed, Timeout, Unavailable
from cloudserve.local.client import ServerClient
from cloudserve.local.state import StateDir

SERVER_MODULE = "cloudserve.serving.local_server"

# Children this process started: polling them reaps zombies, which would otherwise
# look alive to os.kill(pid, 0) until this process exits.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    host: str
    port: int
    started_at: Any = None

    @classmethod
    def read(cls, state: StateDir) -> ServerInfo | None:
        data = state.read_json(state.server)
        if not data:
            return None
        try:
            return cls(int(data["pid"]), str(data["host"]), int(data["port"]), data.get("started_at"))
        except (KeyError, TypeError, ValueError):
            return None


def pid_alive(pid: int) -> bool:
    """True when ``pid`` is a running (not zombie) process."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(pid, None)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def spawn(state: StateDir, host: str, port: int, module: str = SERVER_MODULE) -> int:
    """Start the server detached from this process's session; return its pid."""
    state.ensure()
    state.forget_server()
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=_pythonpath())
    cmd = [
        sys.executable,
        "-m",
        module,
        "--state-dir",
        str(state.path),
        "--host",
        host,
        "--port",
        str(port),
    ]
    with open(state.log, "ab") as log:
        log.write(f"--- starting {module} at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=state.path,
            env=env,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def _pythonpath() -> str:
    """The server runs the same cloudserve as this process, installed or not (its working
    directory is the state directory, not the caller's)."""
    import cloudserve

    here = str(Path(cloudserve.__file__).resolve().parent.parent)
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]
    return os.pathsep.join([here, *rest])


def wait_ready(state: StateDir, pid: int, token: str, timeout: float) -> ServerInfo:
    """Wait until the server answers /ping, or fail with the reason in its log."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if not pid_alive(pid):
            raise DeploymentFailed(
                "the local server exited while starting",
                hint=_tail_hint(state),
            )
        info = ServerInfo.read(state)
        if info is not None and info.pid == pid:
            client = ServerClient(info.host, info.port, token)
            serving = client.ping()
            _raise_if_failed(client, state)  # also when some serve: a broken artifact fails apply
            if serving:
                return info
        if time.monotonic() > deadline:
            stop(state, pid, None, grace=2.0)
            raise Timeout(
                f"the local server did not become ready within {timeout:g} s",
                hint=_tail_hint(state),
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _raise_if_failed(client: ServerClient, state: StateDir) -> None:
    """Versions that did not load, with the loader's reasons. A server that cannot load a
    model with traffic never answers /ping, so this is also how a start fails fast."""
    try:
        server_state = client.state()
    except Exception:  # not ready to answer yet
        return
    failed = {
        name: v.get("error")
        for name, v in (server_state.get("versions") or {}).items()
        if isinstance(v, dict) and v.get("status") == "failed"
    }
    if failed:
        reasons = "; ".join(f"{name}: {err}" for name, err in sorted(failed.items()))
        raise DeploymentFailed(f"the local server could not load every version: {reasons}")


def _tail_hint(state: StateDir) -> str:
    tail = state.log_tail()
    return f"last lines of {state.log}:\n{tail}" if tail else f"no output in {state.log}"


def stop(state: StateDir, pid: int, client: ServerClient | None, grace: float = 10.0) -> None:
    """Graceful shutdown through the admin API, then SIGTERM, then SIGKILL."""
    if client is not None and pid_alive(pid):
        with contextlib.suppress(Exception):
            client.request("POST", "/_cloudserve/shutdown", {}, timeout=grace)
        if _wait_exit(pid, grace):
            return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not pid_alive(pid):
            return
        _signal_group(pid, sig)
        if _wait_exit(pid, wait):
            return
    if pid_alive(pid):
        raise Unavailable(f"local server pid {pid} did not stop after SIGKILL")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the server's session (it leads it), falling back to the pid alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except (ProcessLookupError, PermissionError):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)
    return True
