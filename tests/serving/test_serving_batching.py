"""The batcher's behaviour: a lone request goes at once, a batch forms while the model runs,
batches are cut at MAX_ROWS, and batched answers equal predict row by row. No timing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from cloudserve.serving.batching import MAX_ROWS, Batcher
from cloudserve.serving.loaders.tabular import estimator_predict_fn


class Ticker:
    """Counts event-loop turns while a scenario runs."""

    def __init__(self) -> None:
        self.turns = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.turns += 1

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()


class RecordingPool(ThreadPoolExecutor):
    """A pool that notes the loop turn at which each batch was handed to it."""

    def __init__(self, ticker: Ticker) -> None:
        super().__init__(max_workers=4)
        self.ticker = ticker
        self.handed_at: list[int] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.handed_at.append(self.ticker.turns)
        return super().submit(fn, *args, **kwargs)


def _slow(batcher: Batcher) -> Batcher:
    batcher.model_ms = 1000.0  # as if each batch took a second: it runs in a worker thread
    assert batcher.offload
    return batcher


def test_a_lone_request_is_handed_to_the_model_on_the_next_turn() -> None:
    calls: list[int] = []

    def predict(rows: list[Any]) -> list[Any]:
        calls.append(len(rows))
        return [sum(r) for r in rows]

    async def scenario() -> tuple[list[Any], list[int]]:
        ticker = Ticker()
        with RecordingPool(ticker) as pool:
            ticker.start()
            start = ticker.turns
            answer = await _slow(Batcher(predict, pool)).submit([[1, 2]])
            ticker.stop()
            return answer, [turn - start for turn in pool.handed_at]

    answer, handed = asyncio.run(scenario())
    # Nothing else was coming and nothing was running: no window, no waiting for company.
    assert answer == [3] and calls == [1] and handed[0] <= 1


def test_requests_arriving_while_a_batch_runs_form_the_next_batch() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[list[Any]] = []

    def predict(rows: list[Any]) -> list[Any]:
        calls.append(rows)
        started.set()
        release.wait(10)  # the first batch holds the model until the others are queued
        return [r[0] * 10 for r in rows]

    async def scenario() -> tuple[list[Any], int]:
        with ThreadPoolExecutor(4) as pool:
            batcher = _slow(Batcher(predict, pool))
            first = asyncio.ensure_future(batcher.submit([[1]]))
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
            later = [asyncio.ensure_future(batcher.submit([[n]])) for n in (2, 3, 4)]
            for _ in range(5):
                await asyncio.sleep(0)
            running_while_busy = len(calls)  # one batch at a time: the others only queue
            release.set()
            out = await asyncio.gather(first, *later)
            return out, running_while_busy

    out, running_while_busy = asyncio.run(scenario())
    assert out == [[10], [20], [30], [40]]
    assert running_while_busy == 1
    assert calls == [[[1]], [[2], [3], [4]]]  # the three queued requests went as one batch


def test_a_burst_in_one_turn_is_one_batch_for_a_cheap_model() -> None:
    calls: list[int] = []

    def predict(rows: list[Any]) -> list[Any]:
        calls.append(len(rows))
        return [r[0] for r in rows]

    async def scenario() -> list[Any]:
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(predict, pool)
            assert not batcher.offload  # a model this cheap stays on the event loop
            return await asyncio.gather(*(batcher.submit([[n]]) for n in range(8)))

    assert asyncio.run(scenario()) == [[n] for n in range(8)]
    assert calls == [8]


def test_batches_are_cut_at_max_rows_and_every_request_answered() -> None:
    calls: list[int] = []

    def predict(rows: list[Any]) -> list[Any]:
        calls.append(len(rows))
        return [r[0] for r in rows]

    sizes = [100, 100, 100, 30, 1, MAX_ROWS + 10]  # the last is alone over the cap

    async def scenario(slow: bool) -> list[Any]:
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(predict, pool)
            if slow:
                _slow(batcher)
            requests_ = [[[i, j] for j in range(size)] for i, size in enumerate(sizes)]
            return await asyncio.gather(*(batcher.submit(r) for r in requests_))

    for slow in (False, True):
        calls.clear()
        out = asyncio.run(scenario(slow))
        assert [len(o) for o in out] == sizes and all(o == [i] * len(o) for i, o in enumerate(out))
        assert calls == [200, 131, MAX_ROWS + 10]


def test_a_caller_that_went_away_does_not_disturb_the_batch() -> None:
    release = threading.Event()

    def predict(rows: list[Any]) -> list[Any]:
        release.wait(10)
        return [r[0] for r in rows]

    async def scenario() -> list[Any]:
        with ThreadPoolExecutor(2) as pool:
            batcher = _slow(Batcher(predict, pool))
            first = asyncio.ensure_future(batcher.submit([[0]]))
            queued = [asyncio.ensure_future(batcher.submit([[n]])) for n in (1, 2, 3)]
            await asyncio.sleep(0)
            queued[1].cancel()
            release.set()
            return await asyncio.gather(first, queued[0], queued[2])

    assert asyncio.run(scenario()) == [[0], [1], [3]]


def test_batched_forest_answers_equal_predict_row_by_row() -> None:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 8))
    model = RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0)
    model.fit(x, (x[:, 0] + x[:, 1] > 0).astype(int))
    rows = rng.normal(size=(60, 8)).tolist()
    expected = [model.predict(np.asarray([row])).tolist() for row in rows]

    async def scenario() -> tuple[list[Any], Batcher]:
        with ThreadPoolExecutor(2) as pool:
            batcher = _slow(Batcher(estimator_predict_fn(model), pool))
            out = await asyncio.gather(*(batcher.submit([row]) for row in rows))
            return out, batcher

    out, batcher = asyncio.run(scenario())
    assert out == expected
    assert batcher.requests == len(rows) and batcher.batches < len(rows)  # batches did form
