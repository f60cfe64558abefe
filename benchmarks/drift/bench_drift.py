"""cloudserve's drift engine against Evidently's DataDriftPreset, on the same frames.

    .venv/bin/python benchmarks/drift/bench_drift.py                 # 100k and 1M rows
    .venv/bin/python benchmarks/drift/bench_drift.py --rows 100000   # quicker

Frames: 20 numeric and 5 categorical columns, a reference and a current frame per size,
some columns shifted on purpose (see ``SHIFTS``), written once to Parquet. Each tool
then runs in its own child process that reads those files, judges every column, and
reports its wall times and its peak RSS (``ru_maxrss``), so neither inherits the
other's memory. Evidently runs in a separate virtualenv (``--peer-python``, created at
``benchmarks/.venv-drift-peers`` with ``evidently==0.7.*`` when missing), never in the project's.

Both sides use the same tests: Wasserstein distance normalised by the reference std for
numeric columns and Jensen-Shannon distance for categorical ones, drift at >= 0.1 --
Evidently's own choice above 1000 rows, and cloudserve's ``method: auto`` rule there.
cloudserve's time includes profiling the reference from Parquet (the first-run cost);
its later, scheduled runs only pay the "compare" part against the stored profile.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_PEER = REPO / "benchmarks" / ".venv-drift-peers"
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
#: What changes between reference and current, per column; every other column is
#: drawn from the same distribution in both frames.
SHIFTS = {
    "num_00": "mean +0.5 std",
    "num_01": "std x1.6",
    "num_02": "mean +0.03 std (below the 0.1 threshold: must not drift)",
    "num_07": "lognormal, median x1.4",
    "num_13": "10% of values replaced by a far mode",
    "cat_0": "category frequencies reversed",
    "cat_3": "a new category takes 30%",
}


def make_frames(rows: int, seed: int) -> tuple[Any, Any]:
    """Reference and current frames as pyarrow tables (numpy draws, no pandas)."""
    import numpy as np
    import pyarrow as pa

    def frame(rng: Any, current: bool) -> Any:
        columns: dict[str, Any] = {}
        for i, name in enumerate(NUMERIC):
            family = i % 4
            if family == 0:
                values = rng.normal(10 * i, 1 + i, size=rows)
            elif family == 1:
                values = rng.gamma(2.0 + i / 5, 3.0, size=rows)
            elif family == 2:
                values = rng.uniform(-i, i + 5, size=rows)
            else:
                values = rng.lognormal(1.0 + i / 10, 0.6, size=rows)
            columns[name] = values
        if current:
            base = columns
            base["num_00"] = base["num_00"] + 0.5 * base["num_00"].std()
            centre = base["num_01"].mean()
            base["num_01"] = (base["num_01"] - centre) * 1.6 + centre
            base["num_02"] = base["num_02"] + 0.03 * base["num_02"].std()
            base["num_07"] = base["num_07"] * 1.4
            far = rng.random(rows) < 0.1
            base["num_13"] = np.where(far, base["num_13"].mean() * 6, base["num_13"])
        for j, name in enumerate(CATEGORICAL):
            labels = [f"{name}_v{k}" for k in range(4 + 3 * j)]
            weights = np.linspace(1.0, 3.0, len(labels))
            if current and name == "cat_0":
                weights = weights[::-1]
            chosen = rng.choice(len(labels), size=rows, p=weights / weights.sum())
            dictionary = list(labels)
            if current and name == "cat_3":
                dictionary.append(f"{name}_new")
                chosen = np.where(rng.random(rows) < 0.3, len(labels), chosen)
            columns[name] = pa.DictionaryArray.from_arrays(
                pa.array(chosen.astype(np.int32)), pa.array(dictionary)
            )
        return pa.table(columns)

    return frame(np.random.default_rng(seed), False), frame(np.random.default_rng(seed + 1), True)


def write_frames(rows: int, folder: Path, seed: int) -> tuple[Path, Path]:
    import pyarrow.parquet as pq

    reference, current = folder / f"reference-{rows}.parquet", folder / f"current-{rows}.parquet"
    if not (reference.exists() and current.exists()):
        ref_table, cur_table = make_frames(rows, seed)
        pq.write_table(ref_table, reference)
        pq.write_table(cur_table, current)
    return reference, current


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds used so far (user + system, all threads): steadier than wall time
    when other work shares the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_cloudserve(reference: str, current: str) -> dict[str, Any]:
    """Profile the reference and judge the current frame, both from Parquet."""
    sys.path.insert(0, str(REPO))
    start = time.perf_counter()
    from cloudserve.monitor.engine import evaluate
    from cloudserve.monitor.profile import profile_baseline

    imported, cpu_start = time.perf_counter(), cpu_s()
    profile = profile_baseline(reference)
    profiled = time.perf_counter()
    result = evaluate(profile, current)
    done = time.perf_counter()
    return {
        "import_s": imported - start,
        "profile_s": profiled - imported,
        "compare_s": done - profiled,
        "total_s": done - imported,
        "cpu_s": cpu_s() - cpu_start,
        "peak_rss_mb": peak_rss_mb(),
        "decisions": {f.name: f.drifted for f in result.features},
        "scores": {f.name: f.score for f in result.features},
        "methods": {f.name: f.method for f in result.features},
    }


def child_evidently(reference: str, current: str) -> dict[str, Any]:
    """Read both frames with pandas and run DataDriftPreset with the same tests."""
    start = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    imported, cpu_start = time.perf_counter(), cpu_s()
    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    loaded = time.perf_counter()
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    preset = DataDriftPreset(
        num_method="wasserstein", cat_method="jensenshannon", num_threshold=0.1, cat_threshold=0.1
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    done = time.perf_counter()
    scores: dict[str, float] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = float(metric["value"])
    return {
        "import_s": imported - start,
        "load_s": loaded - imported,
        "compare_s": done - loaded,
        "total_s": done - imported,
        "cpu_s": cpu_s() - cpu_start,
        "peak_rss_mb": peak_rss_mb(),
        "decisions": {name: score >= 0.1 for name, score in scores.items()},
        "scores": scores,
    }


def run_child(python: Path, tool: str, reference: Path, current: Path) -> dict[str, Any]:
    command = [str(python), str(Path(__file__).resolve()), "--child", tool, str(reference), str(current)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} child failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ensure_peer(python: Path | None) -> Path:
    """The peer interpreter: given, or the benchmark venv, created on first use."""
    if python is not None:
        return python
    candidate = DEFAULT_PEER / "bin" / "python"
    if not candidate.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DEFAULT_PEER)], check=True)
        packages = ["evidently==0.7.*", "pandas<3", "pyarrow"]
        subprocess.run([str(candidate), "-m", "pip", "install", "-q", *packages], check=True)
    return candidate


def compare_sizes(args: argparse.Namespace) -> list[dict[str, Any]]:
    folder = Path(args.data)
    folder.mkdir(parents=True, exist_ok=True)
    peer = None if args.skip_evidently else ensure_peer(args.peer_python)
    rows_out: list[dict[str, Any]] = []
    for rows in args.rows:
        reference, current = write_frames(rows, folder, args.seed)
        # Ours is cheap to repeat: take the median of three runs by wall time.
        runs = [run_child(Path(sys.executable), "cloudserve", reference, current) for _ in range(3)]
        ours = sorted(runs, key=lambda r: float(r["total_s"]))[1]
        theirs = run_child(peer, "evidently", reference, current) if peer else None
        rows_out.append({"rows": rows, "cloudserve": ours, "evidently": theirs, "loadavg": os.getloadavg()})
        print_size(rows, ours, theirs)
    return rows_out


def print_size(rows: int, ours: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n== {rows:,} rows x {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical ==")
    print(f"(load average now: {load}; this machine has {os.cpu_count()} cores)")
    print(
        f"cloudserve: {ours['total_s']:.2f} s (profile {ours['profile_s']:.2f} s, "
        f"compare {ours['compare_s']:.2f} s), CPU {ours['cpu_s']:.2f} s, "
        f"peak RSS {ours['peak_rss_mb']:.0f} MB"
    )
    if theirs is None:
        return
    print(
        f"evidently:  {theirs['total_s']:.2f} s (read {theirs['load_s']:.2f} s, "
        f"run {theirs['compare_s']:.2f} s), CPU {theirs['cpu_s']:.2f} s, "
        f"peak RSS {theirs['peak_rss_mb']:.0f} MB"
    )
    print(
        f"speed-up: {theirs['total_s'] / ours['total_s']:.0f}x end to end, "
        f"{theirs['compare_s'] / ours['compare_s']:.0f}x against a stored profile, "
        f"{theirs['cpu_s'] / ours['cpu_s']:.0f}x in CPU time; "
        f"memory: {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f} of Evidently's peak"
    )
    agree = 0
    for name in [*NUMERIC, *CATEGORICAL]:
        mine, other = ours["decisions"].get(name), theirs["decisions"].get(name)
        agree += mine == other
        mark = "" if mine == other else "   <-- differs"
        if mine or other or mine != other:
            print(
                f"  {name:7} cloudserve {ours['scores'][name]:.4f} {'DRIFT' if mine else 'ok':5}  "
                f"evidently {theirs['scores'][name]:.4f} {'DRIFT' if other else 'ok':5}{mark}"
            )
    print(f"same decision on {agree} of {len(NUMERIC) + len(CATEGORICAL)} columns")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--peer-python", type=Path, default=None, help="python with evidently installed")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--data", default=str(HERE / "results"), help="where frames and results go")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--child", nargs=3, metavar=("TOOL", "REFERENCE", "CURRENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tool, reference, current = args.child
        runner = child_cloudserve if tool == "cloudserve" else child_evidently
        print(json.dumps(runner(reference, current)))
        return
    results = compare_sizes(args)
    out = Path(args.data) / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nraw figures: {out}")


if __name__ == "__main__":
    main()
