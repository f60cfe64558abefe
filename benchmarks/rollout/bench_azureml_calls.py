"""How many Azure Resource Manager calls one full canary costs, on the Azure ML emulator.

    .venv/bin/python benchmarks/rollout/bench_azureml_calls.py               # poll 15 s, bake 10 m
    .venv/bin/python benchmarks/rollout/bench_azureml_calls.py --poll 60 --bake 300

cloudserve's controller moves traffic from ``stable`` to ``candidate`` (both already
deployed, candidate at 0%) in 3 steps (10 -> 50 -> 100) with a bake at the first two and two
gates (error_rate, latency_p99_ms) read from Azure Monitor; healthy metrics are injected
into the emulator's metric store. Every request the real azure-ai-ml and azure-mgmt-monitor
clients send to ``management.azure.com`` is counted by method and path (ids replaced by
placeholders), from the apply that starts the rollout to its end.

Time is simulated (sleeping advances a clock), so the bake costs nothing but its polls. The
emulator finishes each long-running operation on its first status poll; on Azure, a PUT of
an endpoint takes longer and azure-core polls its Azure-AsyncOperation URL at the interval
the service asks for, so a real rollout adds about one status GET per few seconds of each
traffic or tag update. The counts are deterministic: no randomness and no real waiting.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import train_two_models

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "providers" / "azureml"))

GATES = [{"metric": "error_rate", "max": 0.01}, {"metric": "latency_p99_ms", "max": 300}]
_PLACEHOLDERS = [
    (
        re.compile(
            r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices"
            r"/workspaces/[^/]+",
            re.I,
        ),
        "{workspace}",
    ),
    (
        re.compile(
            r"^/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/locations/[^/]+", re.I
        ),
        "{location}",
    ),
    (re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/", re.I), "{group}/"),
    (re.compile(r"/(mfeOperationsStatus|mfeOperationResults)/[^/]+$", re.I), r"/\1/{op}"),
]


def spec(models: dict[str, Path], traffic: dict[str, int], settings: dict[str, str], bake: int) -> Any:
    from cloudserve.spec.models import Deployment

    return Deployment.model_validate(
        {
            "apiVersion": "cloudserve/v1",
            "kind": "Deployment",
            "metadata": {"name": "churn"},
            "spec": {
                "target": "azureml",
                "versions": {
                    v: {"model": {"uri": str(models[k]), "framework": "sklearn", "framework_version": "1.5"}}
                    for v, k in (("stable", "a"), ("candidate", "b"))
                },
                "traffic": traffic,
                "rollout": {"strategy": "canary", "steps": [10, 50, 100], "bake": bake, "gates": GATES},
            },
            "targets": {"azureml": settings},
        }
    )


def shape(path: str) -> str:
    for pattern, placeholder in _PLACEHOLDERS:
        path = pattern.sub(placeholder, path)
    return path


def measure(models: dict[str, Path], poll: float, bake: int) -> dict[str, Any]:
    from cloudserve_azureml.provider import AzureMLProvider
    from cloudserve_azureml.testing import AzureMLEmulator

    from cloudserve.executor import apply
    from cloudserve.testing.rollout import SimulatedClock

    clock = SimulatedClock()
    with AzureMLEmulator() as azure:
        settings = azure.settings()
        provider = AzureMLProvider(settings)
        before = spec(models, {"stable": 100, "candidate": 0}, settings, bake)
        after = spec(models, {"stable": 0, "candidate": 100}, settings, bake)
        apply(before, provider, sleep=clock.sleep, clock=clock, poll_interval=poll)
        for version in ("stable", "candidate"):
            azure.record_requests("churn", version, 998, latency_ms=40)
            azure.record_requests("churn", version, 2, status=500, latency_ms=40)
        start = len(azure.calls)
        result = apply(after, provider, sleep=clock.sleep, clock=clock, poll_interval=poll)
        assert result.plan.rollout_mode == "client", result.plan.rollout_reason
        assert result.rollout is not None and result.rollout.state == "done", result.rollout
        calls = Counter(f"{method} {shape(path)}" for method, path in azure.calls[start:])
        provider.close()
    return {
        "poll_s": poll,
        "bake_s": bake,
        "reason": result.plan.rollout_reason,
        "calls": dict(sorted(calls.items())),
        "total": sum(calls.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--poll", type=float, default=15.0, help="controller poll interval (s)")
    parser.add_argument("--bake", type=int, default=600, help="bake time per step (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        row = measure(train_two_models(Path(tmp)), args.poll, args.bake)
    ops = ", ".join(f"{k} {v}" for k, v in sorted(row["calls"].items(), key=lambda kv: (-kv[1], kv[0])))
    mode = f"client: 3 steps (10 → 50 → 100), bake {row['bake_s']} s, poll {row['poll_s']:g} s, 2 gates"
    print(f"| Azure ML (emulator) | {mode} | {ops} | {row['total']} |")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    out = results / f"azureml-calls-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(row, indent=2))
    print(f"raw: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
