"""How fast a failed canary gate puts traffic back on the stable version, on the local target.

    .venv/bin/python benchmarks/rollout/bench_local_rollback.py            # 7 trials
    .venv/bin/python benchmarks/rollout/bench_local_rollback.py --trials 3 --bake 2 --poll 0.5

One real local deployment (``python -m cloudserve.serving.local_server``) serves a
LogisticRegression as ``stable``. Each trial applies a canary (steps 10 -> 50 -> 100) whose
new version is a custom handler that fails every request, while a bounded loopback load
(a few threads, one ``requests.Session`` each) keeps requests flowing, and the core's
controller rolls it back on an ``error_rate`` gate. Between trials ``cloudserve rollout
abort`` clears the record so the same spec can be tried again.

All times come from one clock (``time.monotonic``) in this process:

- ``gate read``: the start of the metrics read whose gate failed (the provider is wrapped
  to note every read and every traffic change); ``verdict`` is when that read returned;
- ``restored``: the rollback's traffic change returned (the server switches before it
  answers);
- ``seen``: a separate thread polling the server's admin state every few ms first reports
  the old split (an outside view of the same moment);
- ``first bad``: the first request the bad version answered was sent.

So ``gate read -> restored`` is the controller's reaction once it knows, and ``first bad
-> restored`` is what callers live through with these settings (bake + gate window +
poll). Raw results go to ``benchmarks/rollout/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from cloudserve import api  # noqa: E402
from cloudserve.errors import RolloutFailed  # noqa: E402
from cloudserve.local.client import ServerClient  # noqa: E402
from cloudserve.local.process import ServerInfo  # noqa: E402
from cloudserve.local.provider import LocalProvider  # noqa: E402
from cloudserve.local.state import state_dir  # noqa: E402
from cloudserve.provider import VersionMetrics  # noqa: E402
from cloudserve.rollout import control  # noqa: E402

NAME = "rollback-bench"
BAD_HANDLER = """
def load(model_dir):
    return None


def predict(model, instances):
    raise RuntimeError("the bad version fails every request")
"""
ROW = [5.1, 3.5, 1.4, 0.2]


class Recording(LocalProvider):
    """The local target, noting when each metrics read and traffic change happened."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[tuple[float, float]] = []
        self.shifts: list[tuple[float, float, dict[str, int]]] = []

    def metrics(self, name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        started = time.monotonic()
        out = super().metrics(name, versions, window_seconds)
        self.reads.append((started, time.monotonic()))
        return out

    def set_traffic(self, name: str, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> Any:
        started = time.monotonic()
        op = super().set_traffic(name, traffic, mirror)
        self.shifts.append((started, time.monotonic(), dict(traffic)))
        return op


@dataclass
class Load:
    """Loopback load with a hard cap on requests and time; records (sent, status, version)."""

    url: str
    threads: int
    cap: int
    seconds: float
    answers: list[tuple[float, int | str, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> list[threading.Thread]:
        deadline = time.monotonic() + self.seconds
        workers = [threading.Thread(target=self._loop, args=(deadline,)) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        return workers

    def _loop(self, deadline: float) -> None:
        import requests

        with requests.Session() as session:
            for _ in range(self.cap):
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                sent = time.monotonic()
                try:
                    resp = session.post(self.url, json={"instances": [ROW]}, timeout=10)
                    self.answers.append((sent, resp.status_code, resp.headers.get("X-Cloudserve-Version")))
                except Exception as exc:
                    self.answers.append((sent, type(exc).__name__, None))


class TrafficWatch:
    """Polls the server's admin state; notes the first time each split is reported."""

    def __init__(self, client: ServerClient, every: float) -> None:
        self.client, self.every = client, every
        self.seen: list[tuple[float, dict[str, int]]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop)

    def _loop(self) -> None:
        last: dict[str, int] | None = None
        while not self.stop.is_set():
            traffic = {k: int(v) for k, v in (self.client.state().get("traffic") or {}).items() if v}
            if traffic != last:
                self.seen.append((time.monotonic(), traffic))
                last = traffic
            time.sleep(self.every)


def spec(root: Path, model: Path, bad: Path | None, args: argparse.Namespace) -> dict[str, Any]:
    versions: dict[str, Any] = {"stable": {"model": {"uri": str(model)}}}
    traffic = {"stable": 100}
    if bad is not None:
        versions["candidate"] = {
            "model": {"uri": str(bad), "framework": "custom", "format": "handler", "handler": "handler.py"}
        }
        traffic = {"stable": 0, "candidate": 100}
    gate = {"metric": "error_rate", "max": 0.05, "min_requests": args.min_requests, "window": args.window}
    return {
        "metadata": {"name": NAME},
        "spec": {
            "target": "local",
            "versions": versions,
            "traffic": traffic,
            "rollout": {
                "strategy": "canary",
                "steps": [args.first_step, 50, 100],
                "bake": args.bake,
                "gates": [gate],
            },
        },
        "targets": {"local": {"state_dir": str(root)}},
    }


def trial(
    provider: Recording, doc: dict[str, Any], client: ServerClient, args: argparse.Namespace
) -> dict[str, Any]:
    provider.reads.clear()
    provider.shifts.clear()
    info = ServerInfo.read(state_dir(provider.root, NAME))
    assert info is not None
    load = Load(f"http://{info.host}:{info.port}/invocations", args.threads, args.cap, args.max_seconds)
    watch = TrafficWatch(client, args.watch_every)
    watch.thread.start()
    workers = load.run()
    while len(load.answers) < 50:
        time.sleep(0.02)
    started = time.monotonic()
    reason = ""
    try:
        api.apply(doc, provider=provider, poll_interval=args.poll)
    except RolloutFailed as err:
        reason = str(err)
    applied = time.monotonic()
    time.sleep(0.3)  # let the watch and load see the settled state
    load.stop.set()
    watch.stop.set()
    for worker in workers:
        worker.join(30)
    watch.thread.join(10)
    if not reason:
        raise SystemExit("the rollout did not fail: the bench measures nothing")
    on, back = provider.shifts[0], provider.shifts[-1]
    assert back[2] == {"stable": 100}, provider.shifts
    failing_read = max(r for r in provider.reads if r[0] < back[0])
    seen = min(t for t, split in watch.seen if t >= on[1] and split == {"stable": 100})
    bad = sorted(sent for sent, _, version in load.answers if version == "candidate")
    during = [a for a in load.answers if on[0] <= a[0] <= back[1]]
    stable_failures = sum(
        1 for _, status, version in load.answers if version != "candidate" and status != 200
    )
    return {
        "gate_read_to_restored_ms": (back[1] - failing_read[0]) * 1000,
        "gate_read_to_seen_ms": (seen - failing_read[0]) * 1000,
        "verdict_to_restored_ms": (back[1] - failing_read[1]) * 1000,
        "first_bad_to_restored_s": back[1] - bad[0],
        "first_bad_to_seen_s": seen - bad[0],
        "canary_live_s": back[1] - on[0],
        "apply_s": applied - started,
        "bad_share_while_live": len(bad) / len(during),
        "requests_while_live": len(during),
        "bad_requests": len(bad),
        "stable_failures": stable_failures,
        "requests": len(load.answers),
        "reason": reason,
    }


def summary(rows: list[dict[str, Any]]) -> list[tuple[str, float, float, float]]:
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float))]
    return [
        (k, min(r[k] for r in rows), statistics.median(r[k] for r in rows), max(r[k] for r in rows))
        for k in keys
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--bake", type=float, default=2.0, help="seconds at each step before the gates")
    parser.add_argument("--poll", type=float, default=0.5, help="controller poll interval, seconds")
    parser.add_argument("--window", type=float, default=3.0, help="gate window, seconds")
    parser.add_argument("--min-requests", type=int, default=20)
    parser.add_argument("--first-step", type=int, default=10)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--cap", type=int, default=5000, help="requests per load thread, at most")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="load stops by then anyway")
    parser.add_argument("--watch-every", type=float, default=0.005, help="traffic poll interval, seconds")
    args = parser.parse_args()

    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    with tempfile.TemporaryDirectory() as tmp:
        root, work = Path(tmp) / "state", Path(tmp)
        model = work / "stable.joblib"
        joblib.dump(LogisticRegression(max_iter=500).fit(*load_iris(return_X_y=True)), model)
        bad = work / "bad"
        bad.mkdir()
        (bad / "handler.py").write_text(BAD_HANDLER)
        provider = Recording({"state_dir": str(root)}, start_timeout=120)
        api.apply(spec(root, model, None, args), provider=provider)
        state = state_dir(root, NAME)
        info = ServerInfo.read(state)
        assert info is not None
        client = ServerClient(info.host, info.port, state.token())
        canary = spec(root, model, bad, args)
        rows: list[dict[str, Any]] = []
        try:
            for number in range(1, args.trials + 1):
                row = trial(provider, canary, client, args)
                rows.append(row)
                print(
                    f"trial {number}: gate read -> restored {row['gate_read_to_restored_ms']:.1f} ms, "
                    f"first bad -> restored {row['first_bad_to_restored_s']:.2f} s, "
                    f"bad share {row['bad_share_while_live']:.3f} of {row['requests_while_live']}",
                    flush=True,
                )
                control.request(api.load(canary)[0], provider, "abort")  # clear the finished record
        finally:
            provider.delete_endpoint(NAME)
    print(
        f"\n{args.trials} trials; bake {args.bake:g}s, poll {args.poll:g}s, window {args.window:g}s, "
        f"min_requests {args.min_requests}, first step {args.first_step}%"
    )
    print(f"{'measure':<28} {'min':>10} {'median':>10} {'max':>10}")
    for key, low, mid, high in summary(rows):
        print(f"{key:<28} {low:>10.3f} {mid:>10.3f} {high:>10.3f}")
    print(f"reason (last trial): {rows[-1]['reason']}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"args": vars(args), "trials": rows}, indent=2))
    print(f"raw results: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
