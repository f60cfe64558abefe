"""Reading baselines and current windows into columns the engine can compare.

Sources: CSV, Parquet, and request-capture logs (JSON Lines, optionally gzipped, a file
or a folder of them). Tables hand out one column at a time, so a Parquet file is read
column by column and never held whole; this, more than anything, keeps peak memory low
on million-row windows. pyarrow is used when installed (it parses CSV in parallel and
reads Parquet at all) and imported only here, on first use; without it CSV falls back
to the standard library and Parquet raises an error that says what to install.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol, cast

import numpy as np

from cloudserve.monitor.columns import (
    DISCRETE_MAX_DISTINCT,
    CategoricalColumn,
    ColumnData,
    Kind,
    categorical_from_values,
    finite_only,
    looks_numeric,
    merge_counts,
    numeric_from_values,
)

CAPTURE_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json")
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Values looked at first when deciding whether a numeric column is really discrete.
DISTINCT_PROBE = 10_000
#: Longest capture line read (SageMaker's 6 MB request limit, base64-encoded, fits);
#: longer lines are skipped unread, so memory stays bounded whatever a file holds.
MAX_LINE_BYTES = 16 * 1024 * 1024
#: Longest text value kept from a capture; longer ones count as missing ("too long").
MAX_VALUE_CHARS = 4096
#: Most distinct columns collected from capture instances; further names are counted.
MAX_CAPTURE_COLUMNS = 2048
#: How much of an over-long line is read at a time while skipping it.
SKIP_CHUNK = 1024 * 1024


class SourceError(ValueError):
    """A baseline or window that cannot be read at all (as opposed to odd data in it)."""


class Table(Protocol):
    """Columns by name, read on demand."""

    @property
    def names(self) -> list[str]: ...

    @property
    def rows(self) -> int: ...

    def infer_kind(self, name: str) -> Kind | None:
        """The column's kind judged from its own data; None when it cannot be compared."""
        ...

    def column(self, name: str, kind: Kind) -> ColumnData:
        """The column as ``kind``; values that do not fit that kind count as missing."""
        ...


@dataclass
class RecordsTable:
    """Columns held as Python lists or numpy arrays: capture logs, plain CSV, tests."""

    data: Mapping[str, Sequence[object] | np.ndarray[Any, Any]]
    row_count: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return list(self.data)

    @property
    def rows(self) -> int:
        return self.row_count or max((len(v) for v in self.data.values()), default=0)

    def infer_kind(self, name: str) -> Kind | None:
        values = self.data[name]
        if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
            for part in (values[:DISTINCT_PROBE], values):
                if np.unique(part[np.isfinite(part)]).size > DISCRETE_MAX_DISTINCT:
                    return "numeric"
            return "categorical"
        if looks_numeric(values):
            distinct = len(categorical_from_values(values).counts)
        else:
            return "categorical"
        return "numeric" if distinct > DISCRETE_MAX_DISTINCT else "categorical"

    def column(self, name: str, kind: Kind) -> ColumnData:
        values = self.data[name]
        if kind == "numeric":
            if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
                return finite_only(values.astype(np.float64, copy=False))
            return numeric_from_values(values)
        if isinstance(values, np.ndarray) and values.dtype.kind in "iufb":
            uniques, counts = np.unique(values, return_counts=True)
            found, nulls = merge_counts(zip(uniques.tolist(), counts.tolist(), strict=True))
            return CategoricalColumn(counts=found, nulls=nulls)
        return categorical_from_values(values)


class ArrowTable:
    """A pyarrow table in memory (parsed CSV) or a Parquet file read one column at a time."""

    def __init__(self, table: Any = None, parquet: Path | None = None) -> None:
        self._table = table
        self._parquet = parquet
        self._kept: dict[str, Any] = {}
        self._local = threading.local()
        if parquet is not None:
            import pyarrow.parquet as pq

            try:
                meta = pq.read_metadata(parquet)
            except Exception as exc:  # ArrowInvalid and friends for files that are not Parquet
                raise SourceError(f"{parquet}: not a readable Parquet file: {exc}") from exc
            self._names = list(meta.schema.to_arrow_schema().names)
            self._rows = int(meta.num_rows)
        else:
            self._names = list(table.column_names)
            self._rows = int(table.num_rows)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    @property
    def rows(self) -> int:
        return self._rows

    def _raw(self, name: str, keep: bool = False) -> Any:
        """One column; kept after ``infer_kind`` so the following ``column`` call reuses it."""
        if not keep and name in self._kept:
            return self._kept.pop(name)
        if self._parquet is not None:
            import pyarrow.parquet as pq

            # ParquetFile reads one column chunk directly; pq.read_table goes through the
            # dataset layer, whose set-up costs more than reading a column. One open file
            # per worker thread, since a ParquetFile is not meant to be shared.
            handle = getattr(self._local, "file", None)
            if handle is None:
                handle = self._local.file = pq.ParquetFile(self._parquet)
            # use_threads=False: we already read one column per worker thread; arrow's own
            # pool on top made each 1M-row column ~10x slower (50 ms instead of 5 ms).
            raw = handle.read(columns=[name], use_threads=False).column(0)
        else:
            raw = self._table.column(name)
        if keep:
            self._kept[name] = raw
        return raw

    def infer_kind(self, name: str) -> Kind | None:
        import pyarrow as pa
        import pyarrow.compute as pc

        raw = self._raw(name, keep=True)
        kind = raw.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            # Hashing a million floats to count them is slow; a prefix usually settles it.
            for part in (raw.slice(0, DISTINCT_PROBE), raw):
                if int(pc.count_distinct(part).as_py()) > DISCRETE_MAX_DISTINCT:
                    return "numeric"
            return "categorical"
        if pa.types.is_boolean(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return "categorical"
        self._kept.pop(name, None)
        return None

    def column(self, name: str, kind: Kind) -> ColumnData:
        import pyarrow as pa
        import pyarrow.compute as pc

        raw = self._raw(name)
        if kind == "categorical":
            counted = pc.value_counts(raw)
            values = counted.field("values").to_pylist()
            counts = counted.field("counts").to_pylist()
            found, nulls = merge_counts(zip(values, counts, strict=True))
            return CategoricalColumn(counts=found, nulls=nulls)
        try:
            as_float = pc.cast(raw, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return numeric_from_values(raw.to_pylist())
        return finite_only(np.asarray(as_float.to_numpy(), dtype=np.float64))


def open_table(
    source: str | Path,
    *,
    columns: Sequence[str] | None = None,
    version: str | None = None,
    since: datetime | None = None,
) -> Table:
    """Open a baseline or window by what it is: CSV, Parquet, or capture logs.

    ``columns`` names the positions of list-shaped request instances (``[[1.0, "a"]]``),
    which carry no names of their own; ``version`` and ``since`` select capture records.
    """
    path = Path(source)
    name = path.name.lower()
    if path.is_dir() or name.endswith(CAPTURE_SUFFIXES):
        return read_capture(path, columns=columns, version=version, since=since)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if name.endswith(PARQUET_SUFFIXES):
        _require_pyarrow(path)
        return ArrowTable(parquet=path)
    if name.endswith(CSV_SUFFIXES):
        return read_csv(path)
    raise SourceError(f"{path}: expected .csv, .parquet or capture logs (.jsonl)")


def _require_pyarrow(path: Path) -> None:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise SourceError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from exc
    data_only_arrow()


def data_only_arrow() -> None:
    """Make sure reading a Parquet schema cannot unpickle anything.

    pyarrow before 14.0.1 registered ``arrow.py_extension_type``, whose deserialisation
    unpickles bytes stored in the file's schema (CVE-2023-47248); 14.0.1 stopped
    auto-loading it and 21 removed it. The other extension types pyarrow knows (its
    canonical ones, pandas' period and interval) rebuild from JSON or plain parameters.
    Unregistering the pickling type, as ``pyarrow_hotfix`` does, covers old installs;
    an unknown extension type then reads as its storage type, which is data.
    """
    import pyarrow as pa

    major, minor, patch = (_int(part) for part in [*pa.__version__.split("."), "0", "0"][:3])
    if (major, minor, patch) >= (14, 0, 1):
        return
    # Not registered (already unregistered, or this build never had it) is fine too.
    with contextlib.suppress(KeyError, ValueError, pa.ArrowKeyError):
        pa.unregister_extension_type("arrow.py_extension_type")


def _int(text: str) -> int:
    digits = "".join(c for c in text if c.isdigit()) if text[:1].isdigit() else ""
    return int(digits[:6] or 0)


def read_csv(path: Path) -> Table:
    """Parse a CSV file, in parallel with pyarrow when it is there."""
    try:
        import pyarrow.csv as pacsv
    except ImportError:
        return _read_csv_stdlib(path)
    try:
        return ArrowTable(table=pacsv.read_csv(path))
    except Exception as exc:  # pyarrow raises ArrowInvalid and friends for malformed files
        raise SourceError(f"{path}: {exc}") from exc


def _read_csv_stdlib(path: Path) -> RecordsTable:
    try:
        return _parse_csv_stdlib(path)
    except (csv.Error, UnicodeDecodeError, EOFError, zlib.error) as exc:  # 128 KiB field limit
        raise SourceError(f"{path}: {exc}") from exc


def _parse_csv_stdlib(path: Path) -> RecordsTable:
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return RecordsTable(data={})
        columns: list[list[object]] = [[] for _ in header]
        for row in reader:
            for index, column in enumerate(columns):
                value = row[index] if index < len(row) else ""
                column.append(value if value != "" else None)
    return RecordsTable(data=dict(zip(header, columns, strict=True)))


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8", newline="")


def capture_files(path: Path) -> list[Path]:
    """The capture-log files under a folder (any depth, as clouds partition by hour)."""
    if not path.is_dir():
        return [path] if path.exists() else []
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def read_capture(
    path: Path,
    *,
    columns: Sequence[str] | None = None,
    version: str | None = None,
    since: datetime | None = None,
) -> RecordsTable:
    """Collect the request instances of capture records into columns.

    Capture logs are data from the outside world, read as data only: JSON (never
    pickle), one line of at most ``MAX_LINE_BYTES`` at a time. Lines that are not JSON
    objects, are too long or too deeply nested, or lack a readable request, are skipped
    and counted by reason; a window is only ever as good as what it could read, and the
    result's notes say so.
    """
    data: dict[str, list[object]] = {}
    rows = 0
    reasons: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for record in _records(capture_files(path), reasons):
        if not _selected(record, version, since):
            continue
        instances = _instances(record)
        if instances is None:
            reasons["no readable request"] += 1
            continue
        for instance in instances:
            named = _named(instance, columns)
            if named is None:
                reasons["instance neither an object nor a list"] += 1
                continue
            for key, value in named.items():
                column = data.get(key)
                if column is None:
                    if len(data) >= MAX_CAPTURE_COLUMNS:
                        dropped["names beyond the first 2048 columns"] += 1
                        continue
                    column = data[key] = [None] * rows
                if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
                    dropped[f"values over {MAX_VALUE_CHARS} characters"] += 1
                    value = None
                column.append(value)
            rows += 1
            for values in data.values():
                if len(values) < rows:
                    values.append(None)
    skipped = sum(reasons.values())
    notes = []
    if skipped:
        why = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common())
        notes.append(f"{skipped} unreadable capture records or instances skipped ({why})")
    notes.extend(f"{count} {reason} ignored" for reason, count in dropped.most_common())
    return RecordsTable(data=data, row_count=rows, skipped=skipped, notes=notes)


def _records(files: Iterable[Path], reasons: Counter[str]) -> Iterator[dict[str, Any]]:
    """The JSON-object lines of ``files``; every other line is counted in ``reasons``."""
    for file in files:
        try:
            with _open_binary(file) as handle:
                yield from _file_records(file, handle, reasons)
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt .gz, mostly
            raise SourceError(f"{file}: cannot read capture file: {exc}") from exc


def _file_records(file: Path, handle: IO[bytes], reasons: Counter[str]) -> Iterator[dict[str, Any]]:
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest without holding it
                raw = handle.readline(SKIP_CHUNK)
            reasons[f"lines over {MAX_LINE_BYTES // (1024 * 1024)} MiB"] += 1
            continue
        if not raw.strip():
            continue
        try:
            record = _loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            reasons["lines not UTF-8"] += 1
            continue
        except RecursionError:
            reasons["lines nested too deeply"] += 1
            continue
        except ValueError:  # JSONDecodeError, and integers of more than 4300 digits
            reasons["lines not JSON"] += 1
            continue
        if isinstance(record, dict) and "captureData" in record:
            record = from_sagemaker(record, file)
            if record is None:
                reasons["SageMaker lines without readable input"] += 1
                continue
        if isinstance(record, dict):
            yield record
        else:
            reasons["lines not a JSON object"] += 1


def _loads(text: str) -> Any:
    """JSON as data only; NaN and Infinity are accepted (and later count as missing)."""
    return json.loads(text)


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def from_sagemaker(record: Mapping[str, Any], file: Path) -> dict[str, Any] | None:
    """A SageMaker data-capture line as a cloudserve capture record.

    SageMaker writes ``{"captureData": {"endpointInput": {"observedContentType", "mode",
    "data", "encoding": "JSON"|"CSV"|"BASE64"}, "endpointOutput": {...}},
    "eventMetadata": {"eventId", "inferenceTime"}, "eventVersion"}`` to
    ``<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``: the time comes from ``inferenceTime``
    and the version from the variant folder.
    """
    capture = record.get("captureData")
    endpoint_input = capture.get("endpointInput") if isinstance(capture, dict) else None
    if not isinstance(endpoint_input, dict):
        return None
    request = _decode_capture(endpoint_input)
    if request is None:
        return None
    if isinstance(request, list) and request and not isinstance(request[0], list | dict):
        request = [request]  # one instance sent as a flat list
    meta = record.get("eventMetadata")
    out: dict[str, Any] = {
        "request": request,
        "ts": meta.get("inferenceTime") if isinstance(meta, dict) else None,
    }
    parts = file.parts
    if len(parts) >= 6 and all(p.isdigit() for p in parts[-5:-1]):
        out["version"] = parts[-6]
    return out


def _decode_capture(payload: Mapping[str, Any]) -> Any:
    import base64
    import binascii

    data = payload.get("data")
    if not isinstance(data, str):
        return None
    encoding = str(payload.get("encoding", "")).upper()
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        kind = str(payload.get("observedContentType", "")).lower()
        encoding = "CSV" if "csv" in kind else "JSON"
    try:
        if encoding == "CSV":
            rows = [row for row in csv.reader(data.splitlines()) if row]
            return [[_csv_value(v) for v in row] for row in rows]
        return _loads(data)
    except (ValueError, RecursionError, csv.Error):
        return None


def _csv_value(text: str) -> object:
    stripped = text.strip()
    if stripped == "":
        return None
    try:
        return float(stripped)
    except ValueError:
        return stripped


def _selected(record: Mapping[str, Any], version: str | None, since: datetime | None) -> bool:
    if record.get("shadow") is True:
        return False  # a mirrored copy of a request already counted from the live version
    if version is not None and record.get("version") != version:
        return False
    if since is None:
        return True
    stamp = parse_timestamp(record.get("ts"))
    return stamp is not None and stamp >= since


def parse_timestamp(value: object) -> datetime | None:
    """Epoch seconds (or milliseconds) or ISO 8601, as capture writers variously emit."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            seconds = float(value) / 1000.0 if value > 1e11 else float(value)
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):  # 1e300, NaN, years past 9999
            return None
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return None
        return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    return None


def _instances(record: Mapping[str, Any]) -> list[Any] | None:
    request = record.get("request")
    if isinstance(request, list):
        return request
    if not isinstance(request, dict):
        return None
    for key in ("instances", "inputs", "input_data"):
        value = request.get(key)
        if isinstance(value, list):
            return value
    return None


def _named(instance: object, columns: Sequence[str] | None) -> dict[str, object] | None:
    if isinstance(instance, dict):
        return {str(k): _scalar(v) for k, v in instance.items()}
    if isinstance(instance, list) and columns is not None:
        return {name: _scalar(v) for name, v in zip(columns, instance, strict=False)}
    return None


def _scalar(value: object) -> object:
    """Nested values (lists, objects) are not features this engine can compare."""
    if not isinstance(value, list | dict):
        return value
    try:
        return json.dumps(value, sort_keys=True)
    except (RecursionError, ValueError, TypeError):
        return None
