"""Serving throughput and latency: cloudserve's local endpoint vs `mlflow models serve` vs
`bentoml serve` (plain, and with its adaptive batching on), for the models people ship.

    .venv/bin/python benchmarks/serving/bench_serving.py [--duration 6] [--rounds 2]
        [--models logreg hgb rf xgb] [--no-contention] [--skip-peers]

For each model (LogisticRegression, HistGradientBoosting, RandomForest, XGBoost; 20
features) all servers are started on 127.0.0.1 with their default settings and driven one
at a time, interleaved, by wrk (one thread, keep-alive, a Lua POST) at concurrency 1, 8
and 32 with the same single-row body, {"instances": [[20 floats]]}, which all of them
accept; each server's best round is kept, so a busy neighbour penalises every tool alike.
Each round also measures the model's in-process ceilings in a fresh process (one row,
and a batch the size of each concurrency). Then, for the tree models, the contention
case: every server again at c=8 while a CPU-bound neighbour process spins on one core.
The peers live in benchmarks/.venv-peers (git-ignored; created here when missing).
Results: printed, and saved under benchmarks/serving/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import MODELS, TITLES, ceilings_in_child, train
from servers import (
    HERE,
    batch_counts,
    ensure_peers,
    neighbour,
    peer_versions,
    start_bentoml,
    start_cloudserve,
    start_mlflow,
    wrk,
)

CONCURRENCY = (1, 8, 32)
Target = tuple[str, str]  # (server label, URL to POST to)


def start_all(work: Path, model: Path, stack: ExitStack, peers: bool) -> list[Target]:
    targets = [("cloudserve", start_cloudserve(work, model, stack))]
    if peers:
        targets += [
            ("mlflow", start_mlflow(work, model, stack)),
            ("bentoml", start_bentoml(work, model, stack, batched=False)),
            ("bentoml batched", start_bentoml(work, model, stack, batched=True)),
        ]
    return targets


def keep_best(best: dict[str, dict[int, Any]], label: str, conc: int, result: dict[str, Any]) -> None:
    kept = best[label].get(conc)
    if kept is None or result["rps"] > kept["rps"]:
        best[label][conc] = result


def drive(url: str, body: Path, conc: int, duration: int) -> dict[str, Any]:
    """One wrk run; for cloudserve also the mean requests per batch during it."""
    before = batch_counts(url)
    result = wrk(url, body, conc, duration)
    after = batch_counts(url)
    if before is not None and after is not None and after[0] > before[0]:
        result["requests_per_batch"] = (after[1] - before[1]) / (after[0] - before[0])
    return result


def show(tag: str, label: str, conc: int, result: dict[str, Any]) -> None:
    batch = result.get("requests_per_batch")
    print(
        f"  {tag:<12} {label:<16} c={conc:<3} {result['rps']:>9.1f} req/s  p50 {result['p50_ms']:>8.2f} ms"
        f"  p99 {result['p99_ms']:>8.2f} ms  errors {result['errors']}"
        + (f"  {batch:.1f} requests/batch" if batch else ""),
        flush=True,
    )


def measure_model(name: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    model, row = train(name, work)
    body = work / "instances.json"
    body.write_text(json.dumps({"instances": [row]}))
    out: dict[str, Any] = {"load_before": os.getloadavg()}
    with ExitStack() as stack:
        targets = start_all(work, model, stack, not args.skip_peers)
        for _, url in targets:
            wrk(url, body, 8, 2)  # warm-up: first-call paths, connection pools
        best: dict[str, dict[int, Any]] = {label: {} for label, _ in targets}
        ceiling: dict[str, dict[int, float]] = {}
        for round_no in range(1, args.rounds + 1):
            found = ceilings_in_child(model, row, CONCURRENCY)
            for kind, by_size in found.items():
                for size, rate in by_size.items():
                    ceiling.setdefault(kind, {})[size] = max(rate, ceiling.get(kind, {}).get(size, 0.0))
            for conc in CONCURRENCY:
                for label, url in targets:
                    result = drive(url, body, conc, args.duration)
                    show(f"{name} r{round_no}", label, conc, result)
                    keep_best(best, label, conc, result)
        out["servers"], out["in_process_rows_per_s"] = best, ceiling
        if not args.no_contention and name != "logreg":
            out["contended_c8"] = contended(name, targets, body, args)
    out["load_after"] = os.getloadavg()
    return out


def contended(name: str, targets: list[Target], body: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every server at c=8 while one core is kept busy by a bounded neighbour process."""
    best: dict[str, dict[int, Any]] = {label: {} for label, _ in targets}
    bound = args.duration * len(targets) + 30  # the neighbour dies on its own after this
    for round_no in range(1, args.rounds + 1):
        with neighbour(core=0, seconds=bound):
            for label, url in targets:
                result = drive(url, body, 8, args.duration)
                show(f"{name} busy r{round_no}", label, 8, result)
                keep_best(best, label, 8, result)
    return {label: by_conc[8] for label, by_conc in best.items()}


def report(results: dict[str, Any]) -> None:
    for name, res in results["models"].items():
        servers, ceiling = res["servers"], res["in_process_rows_per_s"]
        print(f"\n## {TITLES[name]}: each server's best round (req/s, p50 ms, p99 ms, errors)")
        print("| server | " + " | ".join(f"c={c} req/s | p50 | p99 | err" for c in CONCURRENCY) + " |")
        for label, by_conc in servers.items():
            cells = " | ".join(
                f"{r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']}"
                for r in (by_conc[c] for c in CONCURRENCY)
            )
            print(f"| {label} | {cells} |")
        print(
            "in process, rows/s: "
            + "; ".join(
                f"{kind} " + ", ".join(f"{size} rows {rate:,.0f}" for size, rate in by_size.items())
                for kind, by_size in ceiling.items()
            )
        )
        ours = servers["cloudserve"]
        for conc in CONCURRENCY:
            ratios = [
                f"{ours[conc]['rps'] / servers[p][conc]['rps']:.1f}x {p} "
                f"(p99 {ours[conc]['p99_ms'] / servers[p][conc]['p99_ms']:.2f} of theirs)"
                for p in servers
                if p != "cloudserve"
            ]
            share = ours[conc]["rps"] / ceiling["model.predict"][conc]
            print(f"c={conc}: " + ", ".join(ratios) + f"; {share:.0%} of model.predict on {conc} rows")
        if "contended_c8" in res:
            falls = ", ".join(
                f"{label} {servers[label][8]['rps']:.0f} -> {busy['rps']:.0f} req/s "
                f"(/{servers[label][8]['rps'] / busy['rps']:.1f}, p99 {busy['p99_ms']:.1f} ms, "
                f"errors {busy['errors']})"
                for label, busy in res["contended_c8"].items()
            )
            print(f"c=8 with a neighbour on one core: {falls}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=6, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; best kept")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--no-contention", action="store_true", help="skip the busy-neighbour runs")
    parser.add_argument("--skip-peers", action="store_true", help="only measure cloudserve")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not args.skip_peers:
        ensure_peers()
    results: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "duration_s": args.duration,
        "rounds": args.rounds,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "peers": {} if args.skip_peers else peer_versions(),
        "models": {},
    }
    for name in args.models:
        with tempfile.TemporaryDirectory(prefix=f"cloudserve-bench-{name}-") as tmp:
            results["models"][name] = measure_model(name, Path(tmp), args)
    report(results)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"serving-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
