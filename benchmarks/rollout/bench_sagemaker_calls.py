"""How many SageMaker and CloudWatch API calls one full canary costs, on the emulator.

    .venv/bin/python benchmarks/rollout/bench_sagemaker_calls.py               # poll 15 s, bake 10 m
    .venv/bin/python benchmarks/rollout/bench_sagemaker_calls.py --poll 60 --bake 300

Two rollouts, each counted by operation at the adapter's single call site
(``AwsClients.call``, every AWS service) from the apply that starts the rollout to its end:

- client: cloudserve's controller moves traffic from ``stable`` to ``candidate`` (both
  already deployed, candidate at 0%) in 3 steps (10 -> 50 -> 100) with a bake at the first
  two and two gates (error_rate, latency_p99_ms) read from CloudWatch; healthy metrics
  are injected into the emulator's CloudWatch store;
- native: ``stable`` (2 instances) gets a new model and SageMaker's deployment guardrails
  roll it out (blue/green canary 50% -> 100%, same bake, one alarm per gate).

Time is simulated (sleeping advances a clock), so the bake costs nothing but its polls.
The emulator finishes each Updating after one DescribeEndpoint (``describes_per_transition=1``);
on AWS, waits poll DescribeEndpoint with backoff capped at 30 s for as long as SageMaker
takes, so a real native rollout adds about one DescribeEndpoint per 30 s of its duration
(bake + fleet start). The counts are deterministic: no randomness and no real waiting.
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(REPO / "providers" / "sagemaker"))

ROLE = "arn:aws:iam::123456789012:role/serving"
GATES = [{"metric": "error_rate", "max": 0.01}, {"metric": "latency_p99_ms", "max": 300}]


def spec(
    models: dict[str, Path], versions: dict[str, str], traffic: dict[str, int] | None, **extra: Any
) -> Any:
    from cloudserve.spec.models import Deployment

    return Deployment.model_validate(
        {
            "apiVersion": "cloudserve/v1",
            "kind": "Deployment",
            "metadata": {"name": "churn"},
            "spec": {
                "target": "sagemaker",
                "versions": {
                    v: {"model": {"uri": str(models[k]), "framework": "sklearn", "framework_version": "1.2"}}
                    for v, k in versions.items()
                },
                **({"traffic": traffic} if traffic else {}),
                **extra,
            },
            "targets": {"sagemaker": {"region": "us-east-1", "role_arn": ROLE, "bucket": "artifacts"}},
        }
    )


def measure(mode: str, models: dict[str, Path], poll: float, bake: int) -> dict[str, Any]:
    from cloudserve_sagemaker.provider import SageMakerProvider
    from cloudserve_sagemaker.testing import SageMakerEmulator

    from cloudserve.executor import apply
    from cloudserve.testing.rollout import SimulatedClock

    clock = SimulatedClock()
    with SageMakerEmulator() as aws:
        aws.create_bucket("artifacts")
        provider = SageMakerProvider({"region": "us-east-1", "role_arn": ROLE, "bucket": "artifacts"})
        if mode == "client":
            rollout = {"strategy": "canary", "steps": [10, 50, 100], "bake": bake, "gates": GATES}
            before = spec(
                models, {"stable": "a", "candidate": "b"}, {"stable": 100, "candidate": 0}, rollout=rollout
            )
            after = spec(
                models, {"stable": "a", "candidate": "b"}, {"stable": 0, "candidate": 100}, rollout=rollout
            )
        else:
            rollout = {"strategy": "canary", "steps": [50, 100], "bake": bake, "gates": GATES}
            compute = {"replicas": {"min": 2, "max": 2}}
            before = spec(models, {"stable": "a"}, None, rollout=rollout, compute=compute)
            after = spec(models, {"stable": "b"}, None, rollout=rollout, compute=compute)
        apply(before, provider, sleep=clock.sleep, clock=clock, poll_interval=poll)
        for variant in ("stable", "candidate"):
            aws.put_variant_metrics(
                "churn", variant, invocations=1000, errors_5xx=2, latencies_ms=[40.0] * 20
            )
        provider.aws.calls.clear()
        server = Counter(aws.calls)
        result = apply(after, provider, sleep=clock.sleep, clock=clock, poll_interval=poll)
        assert result.plan.rollout_mode == mode, result.plan.rollout_reason
        if mode == "client":
            assert result.rollout is not None and result.rollout.state == "done"
        calls = Counter(provider.aws.calls)
        sagemaker_server = sum((Counter(aws.calls) - server).values())
        provider.close()
    assert sagemaker_server == sum(v for k, v in calls.items() if k.startswith("sagemaker:")), (
        "the adapter's count and the emulator's disagree"
    )
    return {
        "mode": mode,
        "poll_s": poll,
        "bake_s": bake,
        "reason": result.plan.rollout_reason,
        "calls": dict(sorted(calls.items())),
        "total": sum(calls.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poll", type=float, default=15.0, help="controller poll interval (s)")
    parser.add_argument("--bake", type=int, default=600, help="bake time per step (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        models = train_two_models(Path(tmp))
        rows = [measure(mode, models, args.poll, args.bake) for mode in ("client", "native")]
    for row in rows:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(row["calls"].items(), key=lambda kv: -kv[1]))
        mode = f"{row['mode']}, poll {row['poll_s']:g} s, bake {row['bake_s']} s"
        print(f"| SageMaker (emulator) | {mode} | {ops} | {row['total']} |")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    out = results / f"sagemaker-calls-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"raw: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
