"""The local server's drift-monitoring schedule: cloudserve's drift engine over its own
capture log, in a background thread of the server process.

The local target has no cloud to run a monitoring job, so the process that serves the
endpoint is the one that watches it: every ``schedule`` interval (hourly, daily, 6h...)
it judges the requests captured since the previous run against the baseline profile,
writes ``report.json`` and ``report.html`` under ``<state dir>/drift/<run time>/``, and
posts to the webhook when a feature drifted. The schedule lives and dies with the
process (destroy removes it with the process and its state directory), and it is
configured through the admin API (``PUT /_cloudserve/monitoring``), so the provider
changes it in place like any other endpoint setting.

Runs never happen on the request path: the thread sleeps on an Event between runs, a
run holds only this module's own lock, and numpy and scipy (the engine) are imported on
the first run, not when the server starts. When the previous run is recorded
(``drift/schedule.json``), a restarted server keeps the cadence and judges everything
captured since that run, so no window is skipped or judged twice.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson

from cloudserve.monitor.config import Method, parse_duration
from cloudserve.serving.capture import CaptureWriter

log = logging.getLogger("cloudserve.serving.drift")

DRIFT_DIR = "drift"
STATE_FILE = "schedule.json"
LATEST_FILE = "latest.json"
PROFILE_FILE = "baseline-profile.npz"
KEEP_RUNS = 200  # a week of hourly runs and then some; older report folders are pruned
METHODS = ("auto", "psi", "ks", "chi2", "js", "wasserstein")


class ScheduleError(ValueError):
    """A drift configuration the server cannot run (the admin API answers 4xx)."""


class NoSchedule(Exception):
    """A run was asked for on an endpoint without a drift schedule."""


@dataclass(frozen=True)
class ScheduleConfig:
    """What the provider sends: ``monitoring.drift`` with the baseline made absolute and
    the spec's monitoring hash, which observe reads back to tell "in sync"."""

    baseline: str
    schedule: str = "hourly"
    method: str = "auto"
    threshold: float | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    features: tuple[str, ...] | None = None
    webhook: str | None = None
    hash: str | None = None

    @classmethod
    def parse(cls, data: Any) -> ScheduleConfig:
        if not isinstance(data, Mapping):
            raise ScheduleError("monitoring must be a JSON object or null")
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ScheduleError(f"unknown monitoring fields: {sorted(unknown)}")
        baseline = data.get("baseline")
        if not isinstance(baseline, str) or not Path(baseline).is_absolute():
            raise ScheduleError("monitoring.baseline must be an absolute path on this machine")
        schedule = str(data.get("schedule") or "hourly")
        interval = parse_duration(schedule)
        if interval is None or interval.total_seconds() <= 0:
            raise ScheduleError(f"monitoring.schedule {schedule!r}: use hourly, daily, weekly or e.g. 6h")
        method = str(data.get("method") or "auto")
        if method not in METHODS:
            raise ScheduleError(f"monitoring.method {method!r}: one of {', '.join(METHODS)}")
        features = data.get("features")
        try:
            threshold = data.get("threshold")
            return cls(
                baseline=baseline,
                schedule=schedule,
                method=method,
                threshold=float(threshold) if threshold is not None else None,
                thresholds={str(k): float(v) for k, v in (data.get("thresholds") or {}).items()},
                features=tuple(str(f) for f in features) if features is not None else None,
                webhook=str(data["webhook"]) if data.get("webhook") else None,
                hash=str(data["hash"]) if data.get("hash") else None,
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise ScheduleError(f"monitoring: {exc}") from None

    @property
    def interval(self) -> float:
        duration = parse_duration(self.schedule)
        assert duration is not None  # checked in parse
        return duration.total_seconds()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["thresholds"] = dict(self.thresholds)
        data["features"] = list(self.features) if self.features is not None else None
        return data


class DriftSchedule:
    """One endpoint's schedule. ``configure`` (re)starts it, ``run_now`` judges a window at
    once, ``close`` stops it; all three may be called from any thread."""

    def __init__(
        self,
        state_dir: Path,
        capture: Callable[[], CaptureWriter | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = state_dir / DRIFT_DIR
        self.default_capture = state_dir / "capture"
        self._capture = capture
        self._clock = clock
        self.config: ScheduleConfig | None = None
        self.next_run: float | None = None
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()  # one evaluation at a time, scheduled or not
        self._lock = threading.Lock()  # guards config/thread swaps

    # --- lifecycle ---------------------------------------------------------------------------
    def configure(self, data: Any) -> ScheduleConfig | None:
        """Replace the schedule (``None`` removes it). Raises ScheduleError on bad input,
        leaving the running schedule as it was."""
        config = None if data is None else ScheduleConfig.parse(data)
        with self._lock:
            self._halt()
            self.config = config
            if config is None:
                self.next_run = None
                return None
            last = self._last_run()
            now = self._clock()
            self.next_run = max(now, last + config.interval) if last is not None else now + config.interval
            stop = threading.Event()
            thread = threading.Thread(
                target=self._loop, args=(config, stop), name="drift-schedule", daemon=True
            )
            self._stop, self._thread = stop, thread
            thread.start()
        log.info("drift schedule %s (next run %s)", config.schedule, _iso(self.next_run))
        return config

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread = self._thread
            self._halt()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _halt(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self._stop, self._thread = None, None

    def _loop(self, config: ScheduleConfig, stop: threading.Event) -> None:
        while True:
            due = self.next_run if self.next_run is not None else self._clock()
            if stop.wait(max(0.0, due - self._clock())):
                return
            try:
                self._run(config)
            except Exception as exc:  # a bad window must not end the schedule
                log.error("scheduled drift run failed: %s", exc)
                self._record({"run_at": _iso(self._clock()), "error": str(exc)})
            with self._lock:
                if stop.is_set():
                    return
                self.next_run = self._clock() + config.interval

    # --- runs --------------------------------------------------------------------------------
    def run_now(self, window: str | None = None) -> dict[str, Any]:
        """Judge the window since the last run (or the last ``window``, e.g. ``30m``) now."""
        config = self.config
        if config is None:
            raise NoSchedule("no drift schedule is configured on this endpoint")
        since = None
        if window is not None:
            duration = parse_duration(window)
            if duration is None:
                raise ScheduleError(f"window {window!r} is not a duration such as 30m or 1h")
            since = self._clock() - duration.total_seconds()
        return self._run(config, since)

    def _run(self, config: ScheduleConfig, since: float | None = None) -> dict[str, Any]:
        from cloudserve.monitor.engine import DriftOptions, evaluate
        from cloudserve.monitor.report import write_report

        with self._run_lock:
            now = self._clock()
            if since is None:
                last = self._last_run()
                since = last if last is not None else now - config.interval
            writer = self._capture()
            if writer is not None:
                writer.flush()  # what was answered before this run belongs to its window
            source = writer.destination if writer is not None else self.default_capture
            source.mkdir(parents=True, exist_ok=True)  # nothing captured yet: an empty window
            options = DriftOptions(
                method=cast(Method, config.method),
                threshold=config.threshold,
                thresholds=config.thresholds,
                features=config.features,
            )
            self.folder.mkdir(parents=True, exist_ok=True)
            result = evaluate(
                config.baseline,
                source,
                options,
                store=self.folder / PROFILE_FILE,
                since=datetime.fromtimestamp(since, tz=UTC),
            )
            out = self._run_folder(now)
            write_report(result, out)
            summary: dict[str, Any] = {
                "run_at": _iso(now),
                "since": _iso(since),
                "until": _iso(now),
                "status": result.status,
                "drifted": result.drifted,
                "drifted_features": list(result.drifted_features),
                "rows": result.current_rows,
                "capture": str(source),
                "capture_enabled": writer is not None,
                "report": str(out),
                "features": {
                    f.name: {
                        "status": f.status,
                        "method": f.method,
                        "score": f.score,
                        "threshold": f.threshold,
                    }
                    for f in result.features
                },
                "alert": self._alert(config, result),
            }
            summary = orjson.loads(orjson.dumps(summary, option=orjson.OPT_SERIALIZE_NUMPY))
            self._record(summary, last_run=now)
            self._prune()
        log.info("drift run: %s (%d rows) -> %s", result.status, result.current_rows, out)
        return summary

    def _alert(self, config: ScheduleConfig, result: Any) -> str | None:
        """Post to the webhook on drift. The URL is never logged or returned: chat webhook
        URLs carry their own secret."""
        if not result.drifted or not config.webhook:
            return None
        from cloudserve.monitor.alert import AlertError, send_webhook

        try:
            send_webhook(config.webhook, result)
        except AlertError as exc:
            reason = str(exc).replace(config.webhook, "<webhook>")
            log.warning("drift alert not delivered: %s", reason)
            return f"failed: {reason}"
        return "sent"

    # --- records on disk ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What GET /_cloudserve/monitoring answers (the webhook URL left out)."""
        config = self.config
        described = None
        if config is not None:
            described = {**config.to_dict(), "webhook": bool(config.webhook)}
        return {
            "config": described,
            "hash": config.hash if config is not None else None,
            "active": self._thread is not None,
            "next_run": _iso(self.next_run) if config is not None and self.next_run else None,
            "last_run": _read(self.folder / LATEST_FILE),
        }

    def _last_run(self) -> float | None:
        value = (_read(self.folder / STATE_FILE) or {}).get("last_run")
        return float(value) if isinstance(value, int | float) else None

    def _record(self, summary: dict[str, Any], last_run: float | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _write(self.folder / LATEST_FILE, summary)
        if last_run is not None:
            _write(self.folder / STATE_FILE, {"last_run": last_run})

    def _run_folder(self, now: float) -> Path:
        stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
        out, n = self.folder / stamp, 1
        while out.exists():
            n += 1
            out = self.folder / f"{stamp}-{n}"
        return out

    def _prune(self) -> None:
        runs = sorted(p for p in self.folder.iterdir() if p.is_dir() and p.name[:1].isdigit())
        for old in runs[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts is not None else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    tmp.replace(path)
