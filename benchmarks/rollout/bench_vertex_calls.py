"""Vertex AI API calls a full canary costs, counted on the offline emulator.

    .venv/bin/python benchmarks/rollout/bench_vertex_calls.py            # 10 -> 50 -> 100, bake 10m
    .venv/bin/python benchmarks/rollout/bench_vertex_calls.py --bake 30m --poll 60 --json

A deployment with ``stable`` at 100% and ``candidate`` at 0% is applied first (not
counted); then the spec moves all traffic to ``candidate`` through a canary with two
metric gates, on a simulated clock, and every HTTP request the real SDK sends to the
emulator is counted by method and path template (ids replaced). Cloud Monitoring is fed
healthy metrics so every gate passes. No time is measured: the emulator answers at once,
so wall time says nothing about the cloud.

What scales with what: each poll of the controller (``--poll`` seconds, 15 by default)
reads the endpoint's labels once (a pause/abort/promote request), and the lease is renewed
every third of its life (a read and a labels patch), so a bake of B seconds costs about
B / poll + 2 * B / 300 calls; the gates cost one Cloud Monitoring read per metric (3)
per baked step.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from cloudserve_vertex.settings import VertexSettings
from common import train_two_models

PROJECT, NUMBER, BUCKET, NAME = "bench-project", "123456789012", "bench-artifacts", "churn"


def spec(models: dict[str, Path], traffic: dict[str, int], steps: list[int], bake: str) -> Any:
    from cloudserve.spec.models import Deployment

    version = {"framework": "sklearn", "framework_version": "1.5"}
    return Deployment.model_validate(
        {
            "metadata": {"name": NAME},
            "spec": {
                "target": "vertex",
                "versions": {
                    "stable": {"model": {"uri": str(models["v1"]), **version}},
                    "candidate": {"model": {"uri": str(models["v2"]), **version}},
                },
                "traffic": traffic,
                "rollout": {
                    "strategy": "canary",
                    "steps": steps,
                    "bake": bake,
                    "gates": [
                        {"metric": "error_rate", "max": 0.01},
                        {"metric": "latency_p99_ms", "max": 300},
                    ],
                },
            },
            "targets": {"vertex": {"project": PROJECT, "staging_bucket": f"gs://{BUCKET}"}},
        }
    )


def count(steps: list[int], bake: str, poll: float) -> Counter[str]:
    import os

    from cloudserve_vertex.provider import VertexProvider
    from cloudserve_vertex.testing import VertexEmulator

    from cloudserve.executor import apply
    from cloudserve.testing.rollout import SimulatedClock

    with tempfile.TemporaryDirectory() as tmp, VertexEmulator({PROJECT: NUMBER}, [BUCKET]) as emu:
        os.environ.update(emu.env())
        models = train_two_models(Path(tmp), ("v1", "v2"))
        base = spec(models, {"stable": 100, "candidate": 0}, steps, bake)
        provider = VertexProvider(VertexSettings.of(base))
        clock = SimulatedClock()
        apply(base, provider, sleep=clock.sleep, clock=clock)
        emu.record_predictions(NAME, "stable", count=1000, errors=1, latency_ms=40)
        emu.record_predictions(NAME, "candidate", count=1000, errors=1, latency_ms=40)
        before = len(emu.requests)
        result = apply(
            spec(models, {"stable": 0, "candidate": 100}, steps, bake),
            provider,
            sleep=clock.sleep,
            clock=clock,
            poll_interval=poll,
        )
        provider.close()
        assert result.rollout is not None and result.rollout.state == "done", result.rollout
        counts: Counter[str] = emu.call_counts(before)
        return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="10,50,100", help="canary steps, comma-separated")
    parser.add_argument("--bake", default="10m", help="bake time per step (spec syntax)")
    parser.add_argument("--poll", type=float, default=15.0, help="controller poll interval, s")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    counts = count(steps, args.bake, args.poll)
    total = sum(counts.values())
    if args.json:
        print(
            json.dumps(
                {"steps": steps, "bake": args.bake, "poll": args.poll, "total": total, "calls": counts}
            )
        )
        return 0
    print(f"canary {' -> '.join(f'{s}%' for s in steps)}, bake {args.bake}, poll {args.poll:g}s")
    print(f"{'calls':>6}  method and path")
    for call, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{n:>6}  {call}")
    print(f"{total:>6}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
