"""Serving throughput and latency: cloudserve's local endpoint vs `mlflow models serve` vs
`bentoml serve`, on the same LogisticRegression (20 features), single-row JSON requests.

    .venv/bin/python benchmarks/serving/bench_serving.py [--duration 10] [--skip-peers]

Each server runs alone (started, measured, stopped) on 127.0.0.1 with its default
settings; wrk (one thread, keep-alive, a Lua script for the POST body) drives it at
concurrency 1, 8 and 32. Every server gets the same body, {"instances": [[20 floats]]},
which all three accept. The peers live in benchmarks/.venv-peers (git-ignored; created
here when missing). The in-process ceiling is cloudserve's loaded predict() called in a
loop, with no HTTP at all. Results: printed, and saved under benchmarks/serving/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PEERS = REPO / "benchmarks" / ".venv-peers"
PEER_PY = PEERS / "bin" / "python"
CONCURRENCY = (1, 8, 32)

BENTO_SERVICE = """
import os

import bentoml
import joblib
import numpy as np


@bentoml.service
class Classifier:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api
    def predict(self, instances: list[list[float]]) -> list:
        return self.model.predict(np.asarray(instances)).tolist()
"""

MLFLOW_SAVE = """
import sys, joblib, mlflow.sklearn
mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2])
"""


def ensure_peers() -> None:
    """Create the peer venv (mlflow, bentoml) unless it already has them."""
    if not PEER_PY.exists():
        print("creating benchmarks/.venv-peers (mlflow, bentoml) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    probe = subprocess.run([str(PEER_PY), "-c", "import mlflow, bentoml, sklearn"], capture_output=True)
    if probe.returncode != 0:
        pip = [str(PEER_PY), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "mlflow", "bentoml", "scikit-learn", "joblib"], check=True)
    # `mlflow models serve` execs the venv's `uvicorn` script, so that script must run
    # (a venv that was moved keeps scripts pointing at its old path).
    try:
        subprocess.run([str(PEERS / "bin" / "uvicorn"), "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        subprocess.run(
            [str(PEER_PY), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", "uvicorn"],
            check=True,
        )


def train(workdir: Path) -> tuple[Path, list[float]]:
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    path = workdir / "model.joblib"
    joblib.dump(model, path)
    return path, [float(v) for v in x[0]]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
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


def wrk(url: str, body_file: Path, concurrency: int, duration: int) -> dict[str, Any]:
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = io.open("{body_file}"):read("*a")\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _latency(text: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


Target = tuple[str, str, Path]  # (label, URL to POST to, body file)


def start_cloudserve(work: Path, model: Path, stack: ExitStack) -> str:
    state = work / "cloudserve-state"
    state.mkdir()
    (state / "token").write_text(secrets.token_hex(16))
    version = {
        "config_hash": "bench",
        "model": {"uri": str(model)},
        "image": None,
        "env": {},
        "base_dir": None,
    }
    document = {
        "name": "bench",
        "versions": {"v1": version},
        "traffic": {"v1": 100},
        "mirror": {},
        "tags": {},
        "capture": None,
    }
    (state / "endpoint.json").write_text(json.dumps(document))
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "cloudserve.serving.local_server",
        "--state-dir",
        str(state),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{port}"
    stack.enter_context(running(cmd, base + "/ping", REPO, dict(os.environ), work / "cs.log"))
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
    cmd = [
        str(PEER_PY),
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    base = f"http://127.0.0.1:{port}"
    stack.enter_context(running(cmd, base + "/ping", work, env, work / "mlflow.log"))
    return base + "/invocations"


def start_bentoml(work: Path, model: Path, stack: ExitStack) -> str:
    service_dir = work / "bento"
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
    cmd = [
        str(PEER_PY),
        "-m",
        "bentoml",
        "serve",
        "service:Classifier",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    base = f"http://127.0.0.1:{port}"
    stack.enter_context(running(cmd, base + "/readyz", service_dir, env, work / "bentoml.log"))
    return base + "/predict"


def measure(
    targets: list[Target], rounds: int, duration: int, ceiling: Callable[[], dict[str, float]]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Interleave the servers (all started, one driven at a time) and keep each one's best
    round, so a noisy neighbour on a shared machine hurts every server alike."""
    for _, url, body in targets:
        wrk(url, body, 8, 2)  # warm-up: first-call paths, connection pools
    best: dict[str, dict[int, dict[str, Any]]] = {label: {} for label, _, _ in targets}
    best_ceiling: dict[str, float] = {}
    for round_no in range(1, rounds + 1):
        for name, calls in ceiling().items():  # the in-process ceiling, interleaved too
            best_ceiling[name] = max(calls, best_ceiling.get(name, 0.0))
        for conc in CONCURRENCY:
            for label, url, body in targets:
                result = wrk(url, body, conc, duration)
                print(
                    f"  round {round_no}  {label:<22} c={conc:<3} {result['rps']:>9.1f} req/s  "
                    f"p50 {result['p50_ms']:>8.2f} ms  p99 {result['p99_ms']:>8.2f} ms  "
                    f"non-2xx {result['non_2xx']}",
                    flush=True,
                )
                kept = best[label].get(conc)
                if kept is None or result["rps"] > kept["rps"]:
                    best[label][conc] = result
    return best, best_ceiling


def in_process_ceiling(model: Path, row: list[float], seconds: float = 2.0) -> dict[str, float]:
    """cloudserve's predict (conversion + the real model.predict) with no HTTP."""
    import joblib
    import numpy as np

    from cloudserve.serving.app import configure_frameworks
    from cloudserve.serving.loaders import load_model

    configure_frameworks()
    loaded = load_model({"uri": str(model)})
    raw = joblib.load(model)
    out = {}
    for name, call in (
        ("cloudserve_predict", lambda: loaded.predict([row])),
        ("sklearn_predict", lambda: raw.predict(np.asarray([row]))),
    ):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(100):
                call()
            n += 100
        out[name] = n / (time.perf_counter() - start)
    return out


def report(results: dict[str, Any]) -> None:
    servers = results["servers"]
    print("\nsummary, each server's best round (req/s, p50 ms, p99 ms):")
    print(f"{'server':<24}" + "".join(f"{'c=' + str(c):>26}" for c in CONCURRENCY))
    for name, by_conc in servers.items():
        cells = "".join(
            f"{r['rps']:>10.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f}"
            for r in (by_conc[c] for c in CONCURRENCY)
        )
        print(f"{name:<24}{cells}")
    ceiling = results["in_process"]
    print(
        f"\nin-process: cloudserve predict {ceiling['cloudserve_predict']:.0f} calls/s, "
        f"raw sklearn predict {ceiling['sklearn_predict']:.0f} calls/s (one row per call)"
    )
    ours = servers["cloudserve"]
    for conc in CONCURRENCY:
        share = ours[conc]["rps"] / ceiling["cloudserve_predict"]
        print(f"cloudserve c={conc}: {share:.0%} of the one-row in-process ceiling")
    for peer in servers:
        if peer != "cloudserve":
            theirs = servers[peer][8]
            print(
                f"c=8 vs {peer}: {ours[8]['rps'] / theirs['rps']:.1f}x throughput, "
                f"p99 {ours[8]['p99_ms']:.2f} vs {theirs['p99_ms']:.2f} ms "
                f"({ours[8]['p99_ms'] / theirs['p99_ms']:.2f} of theirs)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; best kept")
    parser.add_argument("--skip-peers", action="store_true", help="only measure cloudserve")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not args.skip_peers:
        ensure_peers()
    with tempfile.TemporaryDirectory(prefix="cloudserve-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        model, row = train(work)
        body = work / "instances.json"
        body.write_text(json.dumps({"instances": [row]}))
        split = work / "dataframe_split.json"
        split.write_text(
            json.dumps({"dataframe_split": {"columns": [f"f{i}" for i in range(20)], "data": [row]}})
        )
        results: dict[str, Any] = {
            "cpus": os.cpu_count(),
            "duration_s": args.duration,
            "rounds": args.rounds,
            "load_before": os.getloadavg(),
        }
        targets: list[Target] = [("cloudserve", start_cloudserve(work, model, stack), body)]
        if not args.skip_peers:
            mlflow_url = start_mlflow(work, model, stack)
            targets += [
                ("mlflow", mlflow_url, body),
                ("mlflow (dataframe_split)", mlflow_url, split),
                ("bentoml", start_bentoml(work, model, stack), body),
            ]
        results["servers"], results["in_process"] = measure(
            targets, args.rounds, args.duration, lambda: in_process_ceiling(model, row)
        )
        results["load_after"] = os.getloadavg()
    report(results)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"serving-{stamp}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
