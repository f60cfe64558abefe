"""Worst-case `cloudserve validate`: hostile YAML shapes at each loader limit, beside PyYAML.

Issue 14 asks that no input make validate take more than a second or 200 MB. This builds
the most expensive file of each shape that the limits allow (just under the file-size,
node, depth and document limits), plus the bombs the limits refuse, and runs
`cloudserve validate` on each in a fresh process, reporting wall time and peak RSS. The
peer is what most YAML tools do with the same file: `yaml.safe_load` (PyYAML, C loader
when available), with no limits.

    python benchmarks/startup/bench_hostile_validate.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cloudserve.spec.yamlpos import (  # noqa: E402
    MAX_COLLECTION_ITEMS,
    MAX_DEPTH,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
)

HEAD = """apiVersion: cloudserve/v1
kind: Deployment
metadata:
  name: {name}
spec:
  target: local
  versions:
    stable:
      model: {{uri: ./m.skops}}
      env:
"""
TAIL = "  traffic: {stable: 100}\n"
BUDGET = MAX_FILE_BYTES - 2048


def _fill(line: Callable[[int], str]) -> str:
    out, size, i = [], 0, 0
    while size < BUDGET:
        text = line(i)
        out.append(text)
        size += len(text)
        i += 1
    return "".join(out)


def shapes() -> dict[str, str]:
    head = HEAD.format(name="big")
    per_map = MAX_COLLECTION_ITEMS - 1
    return {
        "one huge string": head + "        BIG: '" + "x" * BUDGET + "'\n" + TAIL,
        "tiny block keys (node limit)": head
        + "".join(
            f"        M{j}:\n" + "".join(f"          k{k}: {k}\n" for k in range(per_map)) for j in range(3)
        )
        + TAIL,
        "tiny nodes to the size limit": head
        + _fill(lambda i: f"        K{i}: {{a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}}\n")
        + TAIL,
        "flow lists at the item limit": head
        + "".join(f"        L{j}: [" + ",".join(["1"] * per_map) + "]\n" for j in range(5))
        + TAIL,
        "comments to the size limit": head
        + _fill(lambda i: "# " + "c" * 78 + "\n")
        + "        A: b\n"
        + TAIL,
        f"{MAX_DOCUMENTS} documents": "---\n".join(
            HEAD.format(name=f"d{k}") + "        A: b\n" + TAIL for k in range(MAX_DOCUMENTS)
        ),
        f"nesting {MAX_DEPTH - 8} deep": head
        + "        A: "
        + "[" * (MAX_DEPTH - 8)
        + "]" * (MAX_DEPTH - 8)
        + "\n"
        + TAIL,
        "billion laughs (refused)": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
        + HEAD.format(name="bomb")
        + "        A: b\n"
        + TAIL,
        "nesting 10,000 deep (refused)": head + "        A: " + "[" * 10_000 + "]" * 10_000 + "\n" + TAIL,
        "over the size limit (refused)": head + "        BIG: '" + "x" * (MAX_FILE_BYTES * 4) + "'\n" + TAIL,
    }


def measure(cmd: list[str], runs: int) -> tuple[float, float, int]:
    """Median seconds, peak RSS in MB (GNU time), exit code."""
    times, peaks, code = [], [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        peaks.append(int(done.stderr.strip().splitlines()[-1]) / 1024)
        code = done.returncode
    return statistics.median(times), max(peaks), code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cloudserve = Path(sys.executable).parent / "cloudserve"
    peer = (
        "import sys, yaml; L = getattr(yaml, 'CSafeLoader', yaml.SafeLoader); "
        "list(yaml.load_all(open(sys.argv[1]), Loader=L))"
    )
    print(
        f"{'input':34} {'bytes':>9} | {'cloudserve s':>12} {'MB':>6} {'exit':>4} | "
        f"{'PyYAML s':>8} {'MB':>6} {'ok':>3} | ratio"
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.skops").write_bytes(b"x")
        for name, text in shapes().items():
            path = Path(tmp) / "spec.yaml"
            path.write_text(text)
            ours = measure([str(cloudserve), "validate", str(path)], args.runs)
            theirs = measure([sys.executable, "-c", peer, str(path)], args.runs)
            ok = "yes" if theirs[2] == 0 else "no"
            print(
                f"{name:34} {len(text.encode()):>9} | {ours[0]:>12.2f} {ours[1]:>6.0f} {ours[2]:>4} | "
                f"{theirs[0]:>8.2f} {theirs[1]:>6.0f} {ok:>3} | {ours[0] / theirs[0]:.2f}x"
            )


if __name__ == "__main__":
    main()
