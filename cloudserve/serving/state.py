"""The endpoint held in memory: loaded versions, the traffic table, mirror, tags, capture.

Only the event loop thread mutates it, and every change replaces whole objects (a new
route table, a new Version) with one assignment, so a request that already picked a
version finishes on it and no request ever sees a half-applied change: that is what
makes traffic shifts and model swaps atomic without locks on the hot path.
"""

from __future__ import annotations

import bisect
import random
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudserve.serving.batching import Batcher
from cloudserve.serving.capture import CaptureWriter
from cloudserve.serving.loaders import LoadedModel
from cloudserve.serving.metrics import PrometheusMetrics, VersionStats


class StateError(Exception):
    """An admin request that cannot be applied; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(eq=False)
class Version:
    name: str
    config: dict[str, Any]
    stats: VersionStats
    model: LoadedModel | None = None
    error: str | None = None
    _batcher: Batcher | None = None

    def batcher(self, pool: Executor) -> Batcher:
        """The version's batcher, made on first use (a Version is replaced, never reloaded)."""
        if self._batcher is None:
            assert self.model is not None
            self._batcher = Batcher(self.model.predict, pool)
        return self._batcher

    @property
    def current_batcher(self) -> Batcher | None:
        """The batcher if a request has made it, without making one."""
        return self._batcher

    @property
    def ready(self) -> bool:
        return self.model is not None

    def observe(self, seconds: float, error: bool, client_error: bool = False) -> None:
        self.stats.record(seconds, error, client_error)


@dataclass(frozen=True)
class RouteTable:
    """Cumulative weights for a weighted random pick, built once per traffic change."""

    names: tuple[str, ...] = ()
    cumulative: tuple[float, ...] = ()

    @classmethod
    def build(cls, traffic: dict[str, int]) -> RouteTable:
        names, cumulative, total = [], [], 0.0
        for name, pct in sorted(traffic.items()):
            if pct > 0:
                total += pct
                names.append(name)
                cumulative.append(total)
        return cls(tuple(names), tuple(cumulative))

    def pick(self) -> str | None:
        if len(self.names) == 1:
            return self.names[0]
        if not self.names:
            return None
        return self.names[bisect.bisect_right(self.cumulative, random.random() * self.cumulative[-1])]


@dataclass(eq=False)
class Endpoint:
    name: str
    prom: PrometheusMetrics
    versions: dict[str, Version] = field(default_factory=dict)
    traffic: dict[str, int] = field(default_factory=dict)
    mirror: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    capture: CaptureWriter | None = None
    table: RouteTable = field(default_factory=RouteTable)
    mirror_items: tuple[tuple[str, float], ...] = ()
    _stats: dict[str, VersionStats] = field(default_factory=dict)

    def stats_for(self, name: str) -> VersionStats:
        """Metrics live per version name, so they survive a model swap."""
        stats = self._stats.get(name)
        if stats is None:
            stats = self._stats[name] = VersionStats(self.prom, name)
        return stats

    def pick(self, forced: str | None) -> Version:
        if forced:
            version = self.versions.get(forced)
            if version is None:
                raise StateError(404, f"no version {forced!r}; versions: {sorted(self.versions)}")
            if version.model is None:
                raise StateError(503, f"version {forced!r} failed to load: {version.error}")
            return version
        name = self.table.pick()
        if name is None:
            raise StateError(503, "no version is receiving traffic")
        return self.versions[name]

    def healthy(self) -> bool:
        return any(self.versions[n].ready for n in self.table.names if n in self.versions)

    def set_traffic(self, traffic: dict[str, int], mirror: dict[str, int]) -> None:
        self._check_split(traffic, mirror)
        self.traffic, self.mirror = dict(traffic), dict(mirror)
        self.table = RouteTable.build(self.traffic)
        self.mirror_items = tuple((n, float(p)) for n, p in sorted(mirror.items()) if p > 0)

    def _check_split(self, traffic: dict[str, int], mirror: dict[str, int]) -> None:
        for kind, split in (("traffic", traffic), ("mirror", mirror)):
            for name, pct in split.items():
                if name not in self.versions:
                    raise StateError(422, f"{kind} names unknown version {name!r}")
                if not isinstance(pct, int | float) or not 0 <= pct <= 100:
                    raise StateError(422, f"{kind}[{name!r}] must be a percentage 0-100")
                if pct > 0 and not self.versions[name].ready:
                    raise StateError(422, f"version {name!r} is not loaded: {self.versions[name].error}")
        total = sum(traffic.values())
        if traffic and total != 100:
            raise StateError(422, f"traffic must sum to 100, not {total}")

    def delete(self, name: str) -> None:
        if name not in self.versions:
            raise StateError(404, f"no version {name!r}")
        if self.traffic.get(name, 0) > 0 or self.mirror.get(name, 0) > 0:
            raise StateError(409, f"version {name!r} still has traffic or mirror; move it off first")
        del self.versions[name]
        self.traffic.pop(name, None)
        self.mirror.pop(name, None)

    def set_capture(self, config: dict[str, Any] | None, default_dir: Path) -> None:
        if self.capture is not None:
            self.capture.flush()
        if config is None:
            self.capture = None
            return
        pct = config.get("sample_percent", 100)
        if not isinstance(pct, int | float) or not 0 <= pct <= 100:
            raise StateError(422, "capture.sample_percent must be 0-100")
        dest = config.get("destination") or default_dir
        self.capture = CaptureWriter(Path(dest), pct)

    def document(self) -> dict[str, Any]:
        """The endpoint.json shape: what a restart needs to come back the same."""
        return {
            "name": self.name,
            "versions": {n: v.config for n, v in sorted(self.versions.items())},
            "traffic": dict(self.traffic),
            "mirror": dict(self.mirror),
            "tags": dict(self.tags),
            "capture": self.capture.config() if self.capture else None,
        }
