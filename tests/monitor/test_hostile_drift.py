"""Issue 14: windows that judge nothing say so, and hostile baselines or captures are data.

Every hostile file here carries a pickle whose ``__reduce__`` would create a marker file;
each test asserts the marker is absent, so "refused" means "refused before unpickling".
"""

from __future__ import annotations

import gzip
import json
import pickle
import re
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cloudserve.monitor import readers
from cloudserve.monitor.columns import NumericColumn, numeric_value
from cloudserve.monitor.command import EXIT_DRIFT, EXIT_NOT_JUDGED, monitor
from cloudserve.monitor.profile import BaselineProfile, default_store, load_or_build
from cloudserve.monitor.readers import SourceError, _read_csv_stdlib, open_table, parse_timestamp

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

MONITOR = Path(__file__).resolve().parents[2] / "cloudserve" / "monitor"


class Payload:
    """Unpickling this creates ``marker``: proof that code ran from data."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def invoke(*args: str) -> Any:
    return CliRunner().invoke(monitor, list(args), catch_exceptions=False)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(Payload(path)))  # the payload does work when unpickled ...
    assert path.exists()
    path.unlink()  # ... so its absence after a test means nothing was unpickled
    return path


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    lines = ["age,income,plan"]
    for _ in range(2000):
        lines.append(f"{rng.normal(40, 12):.2f},{rng.lognormal(10, 0.5):.2f},{rng.choice(['a', 'b', 'c'])}")
    path = tmp_path / "train.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def capture(path: Path, instances: Sequence[object], *, raw: Sequence[bytes] = ()) -> Path:
    with path.open("wb") as handle:
        for line in raw:
            handle.write(line + b"\n")
        for instance in instances:
            handle.write(json.dumps({"request": {"instances": [instance]}}).encode() + b"\n")
    return path


def good_rows(n: int = 300) -> list[dict[str, object]]:
    rng = np.random.default_rng(1)
    return [
        {"age": float(rng.normal(40, 12)), "income": float(rng.lognormal(10, 0.5)), "plan": "abc"[i % 3]}
        for i in range(n)
    ]


# --- 1. a run that could judge nothing says so -------------------------------------------------


def test_values_that_are_not_numbers_judge_nothing_and_exit_4(baseline: Path, tmp_path: Path) -> None:
    window = capture(tmp_path / "w.jsonl", [{"age": "old", "income": "rich"}] * 50)
    text = invoke("run", "--baseline", str(baseline), "--current", str(window))
    assert text.exit_code == EXIT_NOT_JUDGED, text.output
    assert "no drift" not in text.output
    assert text.output.startswith("NOT JUDGED: could judge 0 of 3 features (why: ")
    assert "not numeric, e.g. 'old'" in text.output
    as_json = invoke("run", "--baseline", str(baseline), "--current", str(window), "-o", "json")
    assert as_json.exit_code == EXIT_NOT_JUDGED
    payload = json.loads(as_json.output)
    assert payload["status"] == "not_judged" and payload["judged"] == 0
    assert sorted(payload["not_judged"]) == ["age", "income", "plan"]
    assert "plan: column is absent" in payload["reason"]


def test_request_bodies_that_are_not_json_judge_nothing(baseline: Path, tmp_path: Path) -> None:
    window = capture(tmp_path / "w.jsonl", [], raw=[b"age=3&income=4"] * 20 + [b"[1, 2]"])
    result = invoke("run", "--baseline", str(baseline), "--current", str(window))
    assert result.exit_code == EXIT_NOT_JUDGED
    first = result.output.splitlines()[0]
    assert first.startswith("empty window: could judge 0 of 3 features (why: no rows in the current window;")
    assert "20 lines not JSON" in first and "1 lines not a JSON object" in first


def test_an_empty_window_is_not_no_drift(baseline: Path, tmp_path: Path) -> None:
    window = tmp_path / "empty.jsonl"
    window.write_text("")
    result = invoke("run", "--baseline", str(baseline), "--current", str(window), "-o", "json")
    assert result.exit_code == EXIT_NOT_JUDGED
    assert json.loads(result.output)["status"] == "empty_window"


def test_report_says_nothing_was_judged(baseline: Path, tmp_path: Path) -> None:
    window = capture(tmp_path / "w.jsonl", [{"age": "old", "income": "rich", "plan": None}] * 10)
    out = tmp_path / "report"
    assert (
        invoke("report", "--baseline", str(baseline), "--current", str(window), "--out", str(out)).exit_code
        == EXIT_NOT_JUDGED
    )
    stored = json.loads((out / "report.json").read_text())
    assert stored["status"] == "not_judged" and stored["judged"] == 0
    page = (out / "report.html").read_text()
    assert "could judge 0 of 3 features" in page and 'class="verdict not_judged"' in page
    assert "not judged: " in page


def test_features_that_could_not_be_judged_are_listed_as_such(baseline: Path, tmp_path: Path) -> None:
    rows = good_rows()
    for row in rows:
        row["income"] = "rich"
    window = capture(tmp_path / "w.jsonl", rows)
    result = invoke("run", "--baseline", str(baseline), "--current", str(window))
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("no drift: judged 2 features; 1 of 3 not judged")
    assert "  income: not judged, no_data: none of 300 current values is a number" in result.output
    payload = json.loads(
        invoke("run", "--baseline", str(baseline), "--current", str(window), "-o", "json").output
    )
    assert payload["judged"] == 2 and payload["not_judged"] == ["income"]
    for row in rows:
        row["plan"] = "zzz"
    drifted = invoke(
        "run", "--baseline", str(baseline), "--current", str(capture(tmp_path / "d.jsonl", rows))
    )
    assert drifted.exit_code == EXIT_DRIFT  # drift wins over partly unjudged
    assert drifted.output.startswith("DRIFT in 1 of 2 judged features; 1 of 3 not judged")


# --- 2. code never loads from data ---------------------------------------------------------------


def test_monitor_sources_have_no_code_loading_readers() -> None:
    for path in MONITOR.glob("*.py"):
        text = path.read_text()
        imports = re.findall(
            r"^\s*(?:import|from)\s+(pickle|joblib|marshal|dill|cloudpickle|shelve)\b", text, re.M
        )
        assert not imports, f"{path.name} imports {imports}"
        for banned in (
            "pickle.load",
            "read_pickle(",
            "eval(",
            "exec(",
            "yaml.load(",
            "unsafe_load",
            "import_module",
        ):
            if path.name != "__init__.py" or banned != "import_module":  # lazy names of this package
                assert banned not in text, f"{path.name} uses {banned}"
        for line in text.splitlines():
            if "np.load(" in line or "numpy.load(" in line:
                assert "allow_pickle=False" in line, f"{path.name}: {line.strip()}"


def test_an_object_npy_baseline_is_refused_unloaded(marker: Path, tmp_path: Path) -> None:
    hostile = np.array([Payload(marker)], dtype=object)
    for name in ("train.npy", "train.npz"):  # by suffix, and posing as a profile
        path = tmp_path / name
        with path.open("wb") as handle:
            np.save(handle, hostile, allow_pickle=True)
        result = invoke("run", "--baseline", str(path), "--current", str(tmp_path / "none.jsonl"))
        assert result.exit_code == 1
        assert str(path) in result.output and len(result.output.strip().splitlines()) == 1
    assert not marker.exists()


def test_a_profile_archive_with_a_pickled_member_is_refused(marker: Path, tmp_path: Path) -> None:
    path = tmp_path / "profile.npz"
    np.savez(path, header=np.array([Payload(marker)], dtype=object))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        BaselineProfile.load(path)
    result = invoke("run", "--baseline", str(path), "--current", str(tmp_path / "none.jsonl"))
    assert result.exit_code == 1 and str(path) in result.output
    assert not marker.exists()


def test_a_hostile_stored_profile_is_replaced_not_loaded(marker: Path, baseline: Path) -> None:
    store = default_store(baseline)
    store.parent.mkdir(parents=True)
    np.savez(store, header=np.array([Payload(marker)], dtype=object))
    profile = load_or_build(baseline)
    assert set(profile.columns) == {"age", "income", "plan"}
    assert BaselineProfile.load(store).columns.keys() == profile.columns.keys()
    assert not marker.exists()


def test_a_profile_member_that_unpacks_huge_is_refused_before_reading(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from cloudserve.monitor import profile

    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, header=np.zeros(4 * 1024 * 1024, dtype=np.uint8))  # 4 MiB of zeros, ~4 KB
    monkeypatch.setattr(profile, "MAX_MEMBER_BYTES", 1024 * 1024)
    with pytest.raises(ValueError, match="unpacks to"):
        BaselineProfile.load(path)


def test_a_pickle_baseline_is_refused(marker: Path, tmp_path: Path) -> None:
    path = tmp_path / "train.pkl"
    path.write_bytes(pickle.dumps(Payload(marker)))
    result = invoke("run", "--baseline", str(path), "--current", str(tmp_path / "none.jsonl"))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}: expected .csv, .parquet or capture logs (.jsonl)"
    with pytest.raises(SourceError):
        open_table(path)
    assert not marker.exists()


class PickledType(pa.ExtensionType):  # type: ignore[misc]
    """An extension type whose serialised form is a pickle (as arrow.py_extension_type was)."""

    def __init__(self, blob: bytes = b"") -> None:
        self.blob = blob
        super().__init__(pa.float64(), "arrow.py_extension_type")

    def __arrow_ext_serialize__(self) -> bytes:
        return self.blob

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: Any, serialized: bytes) -> PickledType:
        raise AssertionError("registered only while writing")


def test_parquet_extension_types_and_pandas_metadata_are_data(marker: Path, tmp_path: Path) -> None:
    blob = pickle.dumps(Payload(marker))
    kind = PickledType(blob)
    storage = pa.array(np.linspace(0, 1, 100))
    table = pa.table({"x": pa.ExtensionArray.from_storage(kind, storage), "y": storage})
    table = table.replace_schema_metadata(
        {b"pandas": json.dumps({"columns": [{"name": blob.hex()}]}).encode()}
    )
    path = tmp_path / "train.parquet"
    pa.register_extension_type(kind)
    try:
        pq.write_table(table, path)
    finally:
        pa.unregister_extension_type("arrow.py_extension_type")
    opened = open_table(path)
    assert opened.names == ["x", "y"]
    kinds = {name: opened.infer_kind(name) for name in opened.names}
    assert kinds["y"] == "numeric"
    x = opened.column("x", "numeric") if kinds["x"] else None
    assert x is None or isinstance(x, NumericColumn)
    profile = load_or_build(path)
    assert "y" in profile.columns
    assert not marker.exists()


def test_hostile_capture_lines_are_skipped_and_counted(
    marker: Path, baseline: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1024 * 1024)
    pickled = pickle.dumps(Payload(marker), protocol=0)
    raw = [
        b'{"request": {"instances": [{"age": ' + b"[" * 200_000 + b"]" * 200_000 + b"}]}}",  # deep nesting
        b'{"request": {"instances": [{"income": ' + b"9" * 5000 + b"}]}}",  # int past 4300 digits
        b'{"request": {"instances": [{"age": NaN, "income": Infinity, "plan": "a"}]}}',  # NaN is missing
        b'{"request": {"instances": [{"plan": "' + b"x" * (10 * 1024 * 1024) + b'"}]}}',  # 10 MB string
        b'{"request": {"instances": [{"plan": "' + b"y" * 500_000 + b'"}]}}',  # long, under the line cap
        b'{"request": {"instances": [{"plan": "\xff\xfe"}]}}',  # not UTF-8
        pickled.replace(b"\n", b" "),  # a pickle is just a line that is not JSON
        b'{"request": {"instances": [{"age": 1e999, "ts": 1e300}]}, "ts": 1e300}',
    ]
    window = capture(tmp_path / "w.jsonl", good_rows(), raw=raw)
    result = invoke("run", "--baseline", str(baseline), "--current", str(window), "-o", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["judged"] == 3
    note = payload["notes"][0]
    for reason in (
        "1 lines nested too deeply",
        "1 lines over 1 MiB",
        "1 lines not UTF-8",
        "2 lines not JSON",
    ):
        assert reason in note, note
    assert "1 values over 4096 characters ignored" in payload["notes"]
    assert payload["current_rows"] == 300 + 3  # the NaN, 500 KB and 1e999 lines are rows
    assert len(result.output) < 50_000
    windowed = invoke("run", "--baseline", str(baseline), "--current", str(window), "--window", "1h")
    assert "Traceback" not in windowed.output and windowed.exit_code in (0, EXIT_NOT_JUDGED)
    assert not marker.exists()


def test_an_endless_line_is_skipped_in_bounded_memory(
    baseline: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1024 * 1024)
    monkeypatch.setattr(readers, "SKIP_CHUNK", 256 * 1024)
    path = tmp_path / "w.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"request": "')
        for _ in range(32):
            handle.write(b"z" * (1024 * 1024))  # 32 MiB without a newline
    tracemalloc.start()
    try:
        table = readers.read_capture(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert table.rows == 0 and table.skipped == 1 and "1 lines over 1 MiB" in table.notes[0]
    assert peak < 8 * 1024 * 1024


def test_a_corrupt_gzip_capture_is_a_one_line_error_naming_it(baseline: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl.gz"
    whole = gzip.compress(b'{"request": [[1, 2, "a"]]}\n' * 1000)
    path.write_bytes(whole[: len(whole) // 2])
    result = invoke("run", "--baseline", str(baseline), "--current", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: {path}: cannot read capture file")
    assert len(result.output.strip().splitlines()) == 1


def test_stdlib_csv_with_a_huge_field_is_a_source_error(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("a,b\n1," + "q" * 200_000 + "\n")
    with pytest.raises(SourceError, match=re.escape(str(path))):
        _read_csv_stdlib(path)


def test_odd_numbers_and_timestamps_are_missing_not_crashes() -> None:
    assert numeric_value(10**400) is None
    assert numeric_value("1" * 100_000) is None
    for stamp in (1e300, float("nan"), float("inf"), -1e20):
        assert parse_timestamp(stamp) is None


# --- 3. bounded output --------------------------------------------------------------------------


def test_reports_cut_long_names_and_values(baseline: Path, tmp_path: Path) -> None:
    rows = good_rows()
    long_name, long_value = "n" * 3000, "v" * 3000
    rows[0][long_name] = 1.0
    for row in rows:
        row["plan"] = long_value
    window = capture(tmp_path / "w.jsonl", rows)
    text = invoke("run", "--baseline", str(baseline), "--current", str(window))
    out = tmp_path / "report"
    invoke("report", "--baseline", str(baseline), "--current", str(window), "--out", str(out))
    for shown in (text.output, (out / "report.json").read_text(), (out / "report.html").read_text()):
        assert "n" * 201 not in shown and "v" * 201 not in shown
        assert "(+2800 chars)" in shown
    assert len(text.output) < 5000


def test_errors_do_not_echo_huge_values(tmp_path: Path) -> None:
    deep = tmp_path / ("a" * 200) / ("b" * 200) / ("c" * 200) / "train.csv"
    result = invoke("run", "--baseline", str(deep), "--current", str(tmp_path))
    assert result.exit_code == 1
    assert len(result.output) < 400 and "chars)" in result.output
