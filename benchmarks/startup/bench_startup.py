"""Cold-start cost of `import cloudserve` and `cloudserve validate`, beside `mlflow deployments --help`.

Each command runs in a fresh interpreter N times (after one warm-up run so the OS file cache
is equal for everyone); the median wall time is reported with the ratio to the peer.

    python benchmarks/startup/bench_startup.py [--runs 15] [--peer-python benchmarks/.venv-peers/bin/python]

The peer venv is created (pip install mlflow) when missing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "quickstart" / "deployment.yaml"
PEER_VENV = ROOT / "benchmarks" / ".venv-peers"


def median_seconds(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ensure_peer(python: Path) -> Path:
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow"], check=True)
    mlflow = python.parent / "mlflow"
    if not mlflow.exists():
        subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow"], check=True)
    return mlflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--peer-python", type=Path, default=PEER_VENV / "bin" / "python")
    args = parser.parse_args()
    cloudserve = Path(sys.executable).parent / "cloudserve"
    rows = [
        ("python -c 'import cloudserve'", [sys.executable, "-c", "import cloudserve"]),
        (
            "python -c 'import cloudserve.api' (plan/apply machinery)",
            [sys.executable, "-c", "import cloudserve.api"],
        ),
        ("cloudserve validate examples/quickstart/deployment.yaml", [str(cloudserve), "validate", str(SPEC)]),
        ("cloudserve --help", [str(cloudserve), "--help"]),
    ]
    baseline = median_seconds([sys.executable, "-c", "pass"], args.runs)
    results = [(label, median_seconds(cmd, args.runs)) for label, cmd in rows]
    mlflow = ensure_peer(args.peer_python)
    peer = median_seconds([str(mlflow), "deployments", "--help"], max(3, args.runs // 3))
    print(f"{'command':62} {'median s':>9} {'vs mlflow':>10}")
    print(f"{'python -c pass (interpreter floor)':62} {baseline:9.3f}")
    for label, seconds in results:
        print(f"{label:62} {seconds:9.3f} {peer / seconds:9.1f}x")
    print(f"{'mlflow deployments --help (peer)':62} {peer:9.3f} {1.0:9.1f}x")


if __name__ == "__main__":
    main()
