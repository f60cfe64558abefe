"""Adaptive micro-batching: requests for one version that arrive together share one predict.

For a small tabular model the fixed cost of a predict call (input validation inside the
framework) dwarfs the per-row arithmetic: a LogisticRegression scores 8 rows in about the
time it scores 1. So requests that reach the predict step in the same event-loop turn are
concatenated, predicted once, and split back. Nothing waits on a timer: a lone request
is predicted in the very next loop turn, so latency at low load is unchanged and
batches grow only when requests are already queued.

A batch whose combined call fails (one request's rows do not fit, mixed row shapes) is
re-run request by request, so every caller gets exactly the answer or error it would
have got alone. Loaders promise one prediction per row, which is what makes the split
sound; a batch whose output length does not match falls back the same way.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from typing import Any

from cloudserve.serving.loaders.base import PredictFn

MAX_ROWS = 256  # beyond this, a batch is cut: big requests gain nothing from company
# Above this moving average of model time per batch, predictions leave the event loop for
# a worker thread, so one slow model cannot stall the other versions and the admin API.
OFFLOAD_MS = 5.0

_Item = tuple[list[Any], "asyncio.Future[list[Any]]"]


class Batcher:
    def __init__(self, predict: PredictFn, pool: Executor) -> None:
        self._predict = predict
        self._pool = pool
        self._pending: list[_Item] = []
        self._rows = 0
        self.model_ms = 0.0  # moving average of the model's own time per batch

    @property
    def offload(self) -> bool:
        return self.model_ms > OFFLOAD_MS

    async def submit(self, instances: list[Any]) -> list[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush, loop)
        self._pending.append((instances, future))
        self._rows += len(instances) if isinstance(instances, list) else 1
        if self._rows >= MAX_ROWS:
            self._flush(loop)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._pending, self._rows = self._pending, [], 0
        if not batch:
            return
        if self.offload:
            done = loop.run_in_executor(self._pool, self._timed, batch)
            done.add_done_callback(lambda f: _deliver_future(batch, f))
        else:
            _deliver(batch, self._timed(batch))

    def _timed(self, batch: list[_Item]) -> list[Any]:
        start = time.perf_counter()
        try:
            return self._execute(batch)
        finally:
            self.model_ms += ((time.perf_counter() - start) * 1000.0 - self.model_ms) * 0.1

    def _execute(self, batch: list[_Item]) -> list[Any]:
        """One outcome (predictions or the exception) per request in ``batch``."""
        if len(batch) > 1:
            sizes = [len(instances) for instances, _ in batch]
            try:
                combined = self._predict([row for instances, _ in batch for row in instances])
            except Exception:
                combined = None  # someone's rows are bad: answer each request alone
            if combined is not None and len(combined) == sum(sizes):
                out, start = [], 0
                for size in sizes:
                    out.append(combined[start : start + size])
                    start += size
                return out
        return [self._alone(instances) for instances, _ in batch]

    def _alone(self, instances: list[Any]) -> Any:
        try:
            return self._predict(instances)
        except Exception as exc:
            return exc


def _deliver_future(batch: list[_Item], done: asyncio.Future[list[Any]]) -> None:
    error = done.exception()
    _deliver(batch, [error] * len(batch) if error is not None else done.result())


def _deliver(batch: list[_Item], outcomes: list[Any]) -> None:
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():  # the caller went away
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
