"""The baseline profile: training data reduced once to what drift tests need.

A deployment's baseline is read and summarised a single time and the summary stored
beside it; every later window is compared with the stored profile, never with the raw
training data again. Per numeric column the profile keeps a *quantile sketch* -- all
sorted values up to ``max_points``, beyond that the means of equal-count slices, which
trace the baseline's CDF to within 1/max_points -- plus exact moments, whether every
value is a whole number, and decile bins with exact counts; per categorical column,
counts per category. A million-row, 25-column baseline becomes a few megabytes.

Stored as one ``.npz`` (arrays plus a JSON header, loaded without pickle) so that it is
fast to load, safe to read from an untrusted bucket, and readable from any numpy.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cloudserve.monitor.columns import CategoricalColumn, ColumnData, NumericColumn
from cloudserve.monitor.readers import Table, open_table
from cloudserve.monitor.sorting import sort_values
from cloudserve.monitor.stats import CountArray, FloatArray, bin_counts

FORMAT = "cloudserve-drift-profile"
FORMAT_VERSION = 1
DEFAULT_MAX_POINTS = 20_000
#: Decile bins, the usual basis of PSI.
BINS = 10

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NumericProfile:
    """A numeric baseline column: counts, moments, quantile sketch and decile bins."""

    count: int
    nulls: int
    mean: float
    std: float
    sketch: FloatArray
    edges: FloatArray
    bins: CountArray
    #: Every value is a whole number; kept because the sketch's slice means may not be,
    #: and the report bins whole numbers at half-integer edges.
    integer: bool = False

    @property
    def exact(self) -> bool:
        """Whether the sketch is the whole baseline column (so tests are exact)."""
        return int(self.sketch.size) == self.count


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical baseline column: counts per canonical category."""

    counts: dict[str, int]
    nulls: int

    @property
    def count(self) -> int:
        return sum(self.counts.values())


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class BaselineProfile:
    """Every profiled column of a baseline, in the baseline's column order."""

    columns: dict[str, ColumnProfile]
    rows: int
    source: str = ""
    fingerprint: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] | None = None
    max_points: int = DEFAULT_MAX_POINTS
    skipped: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    column_order: tuple[str, ...] = ()

    def save(self, path: str | Path) -> Path:
        """Write the profile atomically, so a reader never sees half a file."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        columns: list[dict[str, Any]] = []
        for index, (name, column) in enumerate(self.columns.items()):
            if isinstance(column, NumericProfile):
                columns.append(_numeric_header(name, column))
                arrays[f"c{index}_sketch"] = column.sketch
                arrays[f"c{index}_edges"] = column.edges
                arrays[f"c{index}_bins"] = column.bins
            else:
                columns.append(
                    {
                        "name": name,
                        "kind": "categorical",
                        "counts": column.counts,
                        "nulls": column.nulls,
                    }
                )
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "rows": self.rows,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "features": list(self.features) if self.features is not None else None,
            "max_points": self.max_points,
            "skipped": self.skipped,
            "created_at": self.created_at,
            "column_order": list(self.column_order),
            "columns": columns,
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        save_arrays: Callable[..., None] = np.savez
        with partial.open("wb") as handle:
            save_arrays(handle, **arrays)
        os.replace(partial, target)
        return target

    @classmethod
    def load(cls, path: str | Path) -> BaselineProfile:
        """Read a stored profile; raises ValueError, naming the file, when it is not one.

        Data only: the file must be a zip of ``.npy`` arrays (``np.load`` with
        ``allow_pickle=False``, so an object array is refused, not unpickled), each
        member no larger than ``MAX_MEMBER_BYTES`` unpacked, plus a JSON header.
        """
        where = Path(path)
        try:
            _check_archive(where)
            return cls._load(where)
        except ValueError as exc:
            message = str(exc)
            if str(where) in message:
                raise
            raise ValueError(f"{where}: not a cloudserve drift profile: {message}") from exc
        except (KeyError, TypeError, AttributeError, IndexError, RecursionError, EOFError) as exc:
            raise ValueError(f"{where}: not a cloudserve drift profile: {type(exc).__name__}: {exc}") from exc
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{where}: not a cloudserve drift profile: {exc}") from exc

    @classmethod
    def _load(cls, path: Path) -> BaselineProfile:
        with np.load(path, allow_pickle=False) as stored:
            header = json.loads(stored["header"].tobytes().decode())
            if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
                raise ValueError(f"{path}: not a cloudserve drift profile (version {FORMAT_VERSION})")
            columns: dict[str, ColumnProfile] = {}
            for index, entry in enumerate(header["columns"]):
                if entry["kind"] == "numeric":
                    columns[entry["name"]] = NumericProfile(
                        count=int(entry["count"]),
                        nulls=int(entry["nulls"]),
                        mean=float(entry["mean"]),
                        std=float(entry["std"]),
                        sketch=stored[f"c{index}_sketch"].astype(np.float64),
                        edges=stored[f"c{index}_edges"].astype(np.float64),
                        bins=stored[f"c{index}_bins"].astype(np.int64),
                        integer=bool(entry.get("integer", False)),
                    )
                else:
                    counts = {str(k): int(v) for k, v in entry["counts"].items()}
                    columns[entry["name"]] = CategoricalProfile(counts=counts, nulls=int(entry["nulls"]))
        features = header.get("features")
        return cls(
            columns=columns,
            rows=int(header["rows"]),
            source=str(header.get("source", "")),
            fingerprint=dict(header.get("fingerprint") or {}),
            features=tuple(features) if features is not None else None,
            max_points=int(header.get("max_points", DEFAULT_MAX_POINTS)),
            skipped=dict(header.get("skipped") or {}),
            created_at=str(header.get("created_at", "")),
            column_order=tuple(header.get("column_order") or columns),
        )

    def input_columns(self) -> list[str]:
        """The order positional request instances (``[[1.5, "a"]]``) are read in.

        It is the baseline file's own column order, whichever features are watched:
        the model's input order does not change because fewer columns are watched.
        """
        return list(self.column_order or self.columns)


#: Largest array a stored profile may unpack to (a 20,000-point sketch is 160 KB).
MAX_MEMBER_BYTES = 256 * 1024 * 1024


def _check_archive(path: Path) -> None:
    """Refuse anything but a plain zip of bounded ``.npy`` members before numpy opens it."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"PK\x03\x04" or not zipfile.is_zipfile(path):  # numpy decides by the magic
        raise ValueError(f"{path}: not a cloudserve drift profile (not an .npz archive)")
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if not member.filename.endswith(".npy"):
                raise ValueError(f"{path}: not a cloudserve drift profile (member {member.filename[:80]!r})")
            if member.file_size > MAX_MEMBER_BYTES:
                raise ValueError(
                    f"{path}: not a cloudserve drift profile ({member.filename[:80]!r} unpacks to "
                    f"{member.file_size} bytes, over {MAX_MEMBER_BYTES})"
                )


def _numeric_header(name: str, column: NumericProfile) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "numeric",
        "count": column.count,
        "nulls": column.nulls,
        "mean": column.mean,
        "std": column.std,
        "integer": column.integer,
    }


def profile_column(data: ColumnData, max_points: int = DEFAULT_MAX_POINTS) -> ColumnProfile:
    """Summarise one baseline column; this is the only time its values are sorted."""
    if isinstance(data, CategoricalColumn):
        return CategoricalProfile(counts=dict(data.counts), nulls=data.nulls)
    return profile_numeric(data, max_points)


def profile_numeric(data: NumericColumn, max_points: int = DEFAULT_MAX_POINTS) -> NumericProfile:
    """Sketch, moments and decile bins of a numeric column."""
    ordered = sort_values(data.values)
    n = int(ordered.size)
    if n == 0:
        empty = np.empty(0, dtype=np.float64)
        return NumericProfile(0, data.nulls, float("nan"), float("nan"), empty, empty, np.zeros(1, np.int64))
    edges = decile_edges(ordered)
    return NumericProfile(
        count=n,
        nulls=data.nulls,
        mean=float(ordered.mean()),
        std=float(ordered.std()),
        sketch=quantile_sketch(ordered, max_points),
        edges=edges,
        bins=bin_counts(ordered, edges),
        integer=bool(np.all(np.floor(ordered) == ordered)),
    )


def quantile_sketch(ordered: FloatArray, max_points: int) -> FloatArray:
    """All values when few; else the mean of each of ``max_points`` equal-count slices of
    the sorted column (sizes differ by at most one).

    A slice's mean, not one order statistic from it: each point stands for 1/max_points of
    the baseline, so a picked extreme (a 1e9 typo, a Pareto tail) would count thousands of
    times its weight, inflating Wasserstein; the mean keeps the slice's mass where it is.
    The sketch's own Wasserstein distance to the full column, W1(sketch, column), bounds
    the error of every distance computed from it (triangle inequality); it is exactly the
    mean absolute deviation within slices, and the CDF stays within 1/max_points.
    """
    if ordered.size <= max_points:
        return ordered
    starts = np.round(np.linspace(0, ordered.size, max_points + 1)).astype(np.int64)
    sums = np.add.reduceat(ordered, starts[:-1])
    means: FloatArray = sums / np.diff(starts)
    # Rounding can leave a mean a hair outside its slice; the sketch must stay sorted.
    return np.maximum.accumulate(means)


def decile_edges(ordered: FloatArray, bins: int = BINS) -> FloatArray:
    """Interior bin edges at the baseline's quantiles (actual values, ties merged)."""
    positions = (np.arange(1, bins) * (ordered.size - 1)) // bins
    return np.unique(ordered[positions])


UNSUPPORTED_REASON = "unsupported type (not numeric, boolean or text)"
EMPTY_REASON = "empty in the baseline (every value is missing)"


def _all_missing(table: Any, name: str) -> bool:
    """No value at all in the column (a CSV column of blanks reads as the null type)."""
    try:
        data = table.column(name, "categorical")
    except Exception:  # a type the reader cannot count as categories: not empty, unsupported
        return False
    return not getattr(data, "counts", None)


def profile_table(
    table: Table,
    *,
    features: Sequence[str] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    source: str = "",
    fingerprint: dict[str, Any] | None = None,
) -> BaselineProfile:
    """Profile the chosen columns of a table, one column per worker thread.

    numpy's sort releases the GIL, so columns profile in parallel on every core.
    """
    present = table.names
    wanted = set(features) if features is not None else set(present)
    names = [name for name in present if name in wanted]
    skipped = {name: "not in baseline" for name in features or () if name not in present}

    def one(name: str) -> tuple[str, ColumnProfile | str]:
        kind = table.infer_kind(name)
        if kind is None:
            return name, EMPTY_REASON if _all_missing(table, name) else UNSUPPORTED_REASON
        return name, profile_column(table.column(name, kind), max_points)

    columns: dict[str, ColumnProfile] = {}
    with ThreadPoolExecutor(max_workers=worker_count(len(names))) as pool:
        for name, profiled in pool.map(one, names):
            if isinstance(profiled, str):
                skipped[name] = profiled
            else:
                columns[name] = profiled
    return BaselineProfile(
        columns=columns,
        rows=table.rows,
        source=source,
        fingerprint=fingerprint or {},
        features=tuple(features) if features is not None else None,
        max_points=max_points,
        skipped=skipped,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        column_order=tuple(present),
    )


def worker_count(tasks: int) -> int:
    """Threads to use: one per core, never more than there are columns."""
    return max(1, min(tasks, os.cpu_count() or 1, 8))


# Bumped when profiling itself changes, so a profile stored by an older cloudserve is
# made again rather than trusted (2: empty and unsupported baseline columns keep their
# reason; 3: the sketch keeps slice means; 4: numeric columns record whether they are
# whole numbers).
PROFILER_VERSION = 4


def fingerprint_of(path: Path) -> dict[str, Any]:
    """What identifies a baseline file's content cheaply (path, size, modification time),
    and the profiler that read it."""
    stat = path.stat()
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "profiler": PROFILER_VERSION,
    }


def profile_baseline(
    baseline: str | Path,
    *,
    features: Sequence[str] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> BaselineProfile:
    """Read a CSV or Parquet baseline and profile it."""
    path = Path(baseline)
    table = open_table(path)
    return profile_table(
        table,
        features=features,
        max_points=max_points,
        source=str(path),
        fingerprint=fingerprint_of(path),
    )


def default_store(baseline: str | Path) -> Path:
    """Where a baseline's profile lives unless told otherwise: ``.cloudserve/`` beside it."""
    path = Path(baseline)
    return path.parent / ".cloudserve" / f"{path.name}.drift-profile.npz"


def load_or_build(
    baseline: str | Path,
    *,
    store: str | Path | None = None,
    features: Sequence[str] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> BaselineProfile:
    """The stored profile when it still describes this baseline, else a fresh one, saved.

    A stored ``.npz`` can also be passed as ``baseline`` itself, and is then used as is.
    """
    path = Path(baseline)
    if path.name.endswith(".npz"):
        return BaselineProfile.load(path)
    target = Path(store) if store is not None else default_store(path)
    wanted = tuple(features) if features is not None else None
    if target.exists():
        try:
            stored = BaselineProfile.load(target)
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile):
            stored = None  # unreadable or from another version: profile again
        if (
            stored is not None
            and stored.fingerprint == fingerprint_of(path)
            and stored.features == wanted
            and stored.max_points == max_points
        ):
            return stored
    profiled = profile_baseline(path, features=features, max_points=max_points)
    profiled.save(target)
    # Said once, where it happens: the file is written beside the user's data.
    log.info("profiled %s; stored the profile at %s (reused while the file is unchanged)", path, target)
    return profiled
