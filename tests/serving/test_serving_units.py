"""Request codecs, windowed metrics, capture sampling and the route table, without HTTP."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cloudserve.serving import codec
from cloudserve.serving.capture import CaptureWriter
from cloudserve.serving.loaders import InputError
from cloudserve.serving.metrics import WindowedStats
from cloudserve.serving.state import RouteTable


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[1, 2]]}',
        b'{"inputs": [[1, 2]]}',
        b'{"data": [[1, 2]]}',
        b"[[1, 2]]",
    ],
)
def test_json_shapes(body: bytes) -> None:
    assert codec.parse(body, "application/json") == [[1, 2]]


def test_dataframe_shapes() -> None:
    split = b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}'
    assert codec.parse(split, "application/json") == [{"a": 1, "b": 2}]
    azure = b'{"input_data": {"columns": ["a"], "index": [0], "data": [[1]]}}'
    assert codec.parse(azure, "application/json") == [{"a": 1}]
    assert codec.parse(b'{"input_data": [[1]]}', "application/json") == [[1]]
    records = b'{"dataframe_records": [{"a": 1}]}'
    assert codec.parse(records, "application/json") == [{"a": 1}]


def test_csv_rows_and_output() -> None:
    assert codec.parse(b"1,2.5,x\n\n3,4,y\n", "text/csv; charset=utf-8") == [[1.0, 2.5, "x"], [3.0, 4.0, "y"]]
    body, ctype = codec.encode([1, [0.2, 0.8]], "text/csv")
    assert (body, ctype) == (b"1\n0.2,0.8\n", b"text/csv")
    assert json.loads(codec.encode([1], "*/*")[0]) == {"predictions": [1]}


@pytest.mark.parametrize("body", [b"", b"{", b'{"x": 1}', b'{"instances": 3}', b"3"])
def test_bad_bodies(body: bytes) -> None:
    with pytest.raises(InputError):
        codec.parse(body, "application/json")


def test_window_counts_only_recent_seconds() -> None:
    stats = WindowedStats(horizon_s=100)
    for second in range(1000, 1010):
        for _ in range(10):
            stats.record(2.0, error=second == 1009, now=second)
    last5 = stats.summary(5, now=1009)
    assert last5["requests"] == 50 and last5["errors"] == 10
    assert 1.9 < last5["latency_p50_ms"] < 2.1
    assert stats.summary(1000, now=1009)["requests"] == 100
    assert stats.summary(5, now=2000)["requests"] == 0
    assert stats.summary(5, now=2000)["latency_p99_ms"] is None


def test_window_percentiles() -> None:
    stats = WindowedStats()
    for i in range(1, 101):
        stats.record(float(i), error=False, now=5)
    summary = stats.summary(10, now=5)
    assert 47 < summary["latency_p50_ms"] < 53
    assert 94 < summary["latency_p99_ms"] < 104


def test_capture_sampling_and_files(tmp_path: Path) -> None:
    none = CaptureWriter(tmp_path / "none", 0)
    assert not any(none.sampled() for _ in range(1000))
    half = CaptureWriter(tmp_path / "half", 50)
    hits = sum(half.sampled() for _ in range(4000))
    assert 1600 < hits < 2400
    full = CaptureWriter(tmp_path / "full", 100)
    full.record("a", False, {"instances": [[1]]}, {"predictions": [0]}, 1.23456)
    assert full.flush() == 1 and full.flush() == 0
    (file,) = (tmp_path / "full").glob("*.jsonl")
    assert len(file.stem) == len("2024-01-01-00")
    record = json.loads(file.read_text())
    assert record["version"] == "a" and record["latency_ms"] == 1.235 and record["shadow"] is False


def test_route_table_weights() -> None:
    table = RouteTable.build({"a": 75, "b": 25, "c": 0})
    assert table.names == ("a", "b")
    picks = Counter(table.pick() for _ in range(4000))
    assert 2700 < picks["a"] < 3300 and set(picks) == {"a", "b"}
    assert RouteTable.build({}).pick() is None
    assert RouteTable.build({"a": 100}).pick() == "a"


def test_batcher_coalesces_and_isolates_bad_requests() -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from cloudserve.serving.batching import Batcher

    calls: list[int] = []

    def predict(rows: list[Any]) -> list[Any]:
        calls.append(len(rows))
        if any(not isinstance(r, list) or len(r) != 2 for r in rows):
            raise InputError("each row needs 2 values")
        return [sum(r) for r in rows]

    async def scenario(offload: bool) -> list[Any]:
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(predict, pool)
            batcher.model_ms = 1000.0 if offload else 0.0  # as if the model were slow
            assert batcher.offload is offload
            requests_ = [[[1, 2]], [[3, 4], [5, 6]], [[7]], [[8, 9]]]
            out: list[Any] = await asyncio.gather(
                *(batcher.submit(r) for r in requests_), return_exceptions=True
            )
            return out

    for offload in (False, True):
        calls.clear()
        out = asyncio.run(scenario(offload))
        assert out[0] == [3] and out[1] == [7, 11] and out[3] == [17]
        assert isinstance(out[2], InputError)
        # One combined attempt over all 5 rows, then each request alone.
        assert calls == [5, 1, 2, 1, 1]

    async def lone() -> list[Any]:
        with ThreadPoolExecutor(1) as pool:
            return await Batcher(predict, pool).submit([[1, 1]])

    calls.clear()
    assert asyncio.run(lone()) == [2] and calls == [1]
