"""The servers of the serving benchmark, the load generator (wrk) and the CPU neighbour.

Every server binds 127.0.0.1 and is driven by wrk over loopback only. The peers (MLflow,
BentoML) live in benchmarks/.venv-peers, never in the project's venv.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PEERS = REPO / "benchmarks" / ".venv-peers"
PEER_PY = PEERS / "bin" / "python"
PEER_PACKAGES = ("mlflow", "bentoml", "scikit-learn", "joblib", "xgboost")

# One service class per mode; BentoML's adaptive batching as its docs show it, with the
# settings the issue measured (max_batch_size=64, max_latency_ms=20).
BENTO_SERVICE = """
import os

import bentoml
import numpy as np


def _load():
    path = os.environ["BENCH_MODEL"]
    if path.endswith(".json"):
        import xgboost

        model = xgboost.XGBClassifier()
        model.load_model(path)
        return model
    import joblib

    return joblib.load(path)


@bentoml.service
class Classifier:
    def __init__(self) -> None:
        self.model = _load()

    @bentoml.api
    def predict(self, instances: list[list[float]]) -> list:
        return self.model.predict(np.asarray(instances)).tolist()


@bentoml.service
class Batched:
    def __init__(self) -> None:
        self.model = _load()

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=20)
    def predict(self, instances: np.ndarray) -> np.ndarray:
        return self.model.predict(instances)
"""

MLFLOW_SAVE = """
import sys
path, out = sys.argv[1], sys.argv[2]
if path.endswith(".json"):
    import mlflow.xgboost, xgboost
    model = xgboost.XGBClassifier()
    model.load_model(path)
    mlflow.xgboost.save_model(model, out)
else:
    import joblib, mlflow.sklearn, skops.io
    model = joblib.load(path)
    # mlflow 3 saves with skops, which asks which types to trust: we built this model.
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    mlflow.sklearn.save_model(model, out, skops_trusted_types=trusted)
"""

# A bounded CPU-bound neighbour: one process pinned to one core, spinning until killed
# or until its own deadline, whichever comes first.
NEIGHBOUR = """
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    sum(i * i for i in range(10000))
"""


def ensure_peers() -> None:
    """Create the peer venv (mlflow, bentoml, xgboost) unless it already has them."""
    if not PEER_PY.exists():
        print("creating benchmarks/.venv-peers (mlflow, bentoml) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    probe = subprocess.run(
        [str(PEER_PY), "-c", "import mlflow, bentoml, sklearn, xgboost"], capture_output=True
    )
    if probe.returncode != 0:
        subprocess.run([str(PEER_PY), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    # `mlflow models serve` execs the venv's `uvicorn` script, so that script must run
    # (a venv that was moved keeps scripts pointing at its old path).
    try:
        subprocess.run([str(PEERS / "bin" / "uvicorn"), "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        subprocess.run(
            [str(PEER_PY), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", "uvicorn"],
            check=True,
        )


def peer_versions() -> dict[str, str]:
    code = "import mlflow, bentoml, sklearn, xgboost; print(mlflow.__version__, bentoml.__version__)"
    out = subprocess.run([str(PEER_PY), "-c", code], capture_output=True, text=True, check=True).stdout
    mlflow, bentoml = out.split()
    return {"mlflow": mlflow, "bentoml": bentoml}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout} s")


@contextmanager
def running(cmd: list[str], ready_url: str, cwd: Path, env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(ready_url, proc)
        yield
    finally:
        # Each server was started in its own session: stop its whole process group.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextmanager
def neighbour(core: int, seconds: float) -> Iterator[None]:
    """One CPU-bound process on ``core`` for at most ``seconds`` (killed on exit)."""
    proc = subprocess.Popen([sys.executable, "-c", NEIGHBOUR, str(core), str(seconds)])
    try:
        time.sleep(0.5)  # let it start spinning before anything is measured
        yield
    finally:
        proc.kill()
        proc.wait(10)


def wrk(url: str, body_file: Path, concurrency: int, duration: int) -> dict[str, Any]:
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = io.open("{body_file}"):read("*a")\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    out = subprocess.run(
        [*cmd, "-s", str(script), url], capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(int(g) for g in sockets.groups()) if sockets else 0),
    }


def _latency(text: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


_TOKENS: dict[str, str] = {}  # cloudserve's predict URL -> its admin token


def batch_counts(url: str) -> tuple[int, int] | None:
    """(batches, requests) cloudserve's batcher has made so far, or None for a peer."""
    token = _TOKENS.get(url)
    if token is None:
        return None
    admin = url.rsplit("/", 1)[0] + "/_cloudserve/state"
    request = urllib.request.Request(admin, headers={"X-Cloudserve-Token": token})
    with urllib.request.urlopen(request, timeout=10) as answer:
        stats = json.load(answer)["batching"].get("v1", {"batches": 0, "requests": 0})
    return int(stats["batches"]), int(stats["requests"])


def start_cloudserve(work: Path, model: Path, stack: ExitStack) -> str:
    state = work / "cloudserve-state"
    state.mkdir()
    token = secrets.token_hex(16)
    (state / "token").write_text(token)
    spec = {"uri": str(model), "trust_pickle": model.suffix == ".joblib"}  # we built it
    version = {"config_hash": "bench", "model": spec, "image": None, "env": {}, "base_dir": None}
    document = {"name": "bench", "versions": {"v1": version}, "traffic": {"v1": 100}}
    (state / "endpoint.json").write_text(json.dumps({**document, "mirror": {}, "tags": {}, "capture": None}))
    port = free_port()
    cmd = [sys.executable, "-m", "cloudserve.serving.local_server", "--state-dir", str(state)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    base = f"http://127.0.0.1:{port}"
    stack.enter_context(running(cmd, base + "/ping", REPO, dict(os.environ), work / "cs.log"))
    _TOKENS[base + "/invocations"] = token
    return base + "/invocations"


def start_mlflow(work: Path, model: Path, stack: ExitStack) -> str:
    model_dir = work / "mlflow-model"
    subprocess.run(
        [str(PEER_PY), "-c", MLFLOW_SAVE, str(model), str(model_dir)], check=True, capture_output=True
    )
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"file://{work}/mlruns",
        "PATH": f"{PEERS / 'bin'}:{os.environ.get('PATH', '')}",
    }
    cmd = [str(PEER_PY), "-m", "mlflow", "models", "serve", "-m", str(model_dir)]
    cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    base = f"http://127.0.0.1:{port}"
    stack.enter_context(running(cmd, base + "/ping", work, env, work / "mlflow.log"))
    return base + "/invocations"


def start_bentoml(work: Path, model: Path, stack: ExitStack, batched: bool) -> str:
    service_dir = work / ("bento-batched" if batched else "bento")
    service_dir.mkdir()
    (service_dir / "service.py").write_text(BENTO_SERVICE)
    port = free_port()
    env = {
        **os.environ,
        "BENCH_MODEL": str(model),
        "BENTOML_DO_NOT_TRACK": "true",
        "PATH": f"{PEERS / 'bin'}:{os.environ.get('PATH', '')}",
        "BENTOML_HOME": str(work / "bentoml-home"),
    }
    service = "service:Batched" if batched else "service:Classifier"
    cmd = [str(PEER_PY), "-m", "bentoml", "serve", service, "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    log = work / f"bentoml{'-batched' if batched else ''}.log"
    stack.enter_context(running(cmd, base + "/readyz", service_dir, env, log))
    return base + "/predict"
