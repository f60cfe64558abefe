"""Adaptive micro-batching: requests for one version that arrive together share one predict.

For a tabular model the fixed cost of a predict call dwarfs the per-row arithmetic: a
LogisticRegression scores 8 rows in about the time it scores 1, a 100-tree forest 8 rows
in ~1.1x the time of one. So requests waiting for the same version are concatenated,
predicted once and split back.

Nothing waits on a timer, and a lone request is never held: with no batch running, a
request is predicted in the very next event-loop turn (together with whatever else
arrived in that turn). The window is the model itself:

- A cheap model (moving-average time per batch under ``OFFLOAD_MS``) runs on the event
  loop thread; a thread hand-off would cost more than the model.
- A costlier model runs in a worker thread, one batch at a time per version. While a
  batch runs, the loop keeps reading requests, and those for this version queue; the
  moment it finishes, everything queued goes as the next batch. So the wait is bounded
  by one model call, it is zero when nothing is running, and batches grow exactly as
  fast as requests arrive during a call: the window adapts to arrival rate and model
  cost without a tuned constant. One batch at a time also keeps a GIL-bound model from
  splitting into many small concurrent calls that slow each other down.

A batch whose combined call fails (one request's rows do not fit, mixed row shapes) is
re-run request by request, so every caller gets exactly the answer or error it would
have got alone. Loaders promise one prediction per row, which is what makes the split
sound; a batch whose output length does not match falls back the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import Executor
from functools import partial
from typing import Any

from cloudserve.serving.loaders.base import PredictFn

MAX_ROWS = 256  # beyond this, a batch is cut: big requests gain nothing from company
# Above this moving average of model time per batch, predictions leave the event loop for
# a worker thread: the hand-off (~50 us) is small against the model, and the loop keeps
# taking requests (which form the next batch) while the model runs.
OFFLOAD_MS = 0.5

_Item = tuple[list[Any], "asyncio.Future[list[Any]]"]


class Batcher:
    def __init__(self, predict: PredictFn, pool: Executor) -> None:
        self._predict = predict
        self._pool = pool
        self._pending: deque[_Item] = deque()
        self._scheduled = False  # a flush is queued for the next loop turn
        self._running = False  # a batch is in a worker thread
        self.model_ms = 0.0  # moving average of the model's own time per batch
        self.batches = 0  # predict calls made for batches (a retried batch counts once)
        self.requests = 0  # requests those batches carried

    @property
    def offload(self) -> bool:
        return self.model_ms > OFFLOAD_MS

    async def submit(self, instances: list[Any]) -> list[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._pending.append((instances, future))
        if not self._running and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush, loop)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        while self._pending and not self._running:
            batch = self._take()
            if self.offload:
                self._running = True
                done = loop.run_in_executor(self._pool, self._timed, batch)
                done.add_done_callback(partial(self._finished, loop, batch))
            else:
                _deliver(batch, self._timed(batch))

    def _finished(self, loop: asyncio.AbstractEventLoop, batch: list[_Item], done: Any) -> None:
        self._running = False
        error = done.exception()
        _deliver(batch, [error] * len(batch) if error is not None else done.result())
        self._flush(loop)  # what queued during the call goes now, without another turn

    def _take(self) -> list[_Item]:
        """Queued requests up to MAX_ROWS rows (at least one request), oldest first."""
        batch: list[_Item] = []
        rows = 0
        while self._pending:
            size = _rows(self._pending[0][0])
            if batch and rows + size > MAX_ROWS:
                break
            batch.append(self._pending.popleft())
            rows += size
        return batch

    def _timed(self, batch: list[_Item]) -> list[Any]:
        start = time.perf_counter()
        try:
            return self._execute(batch)
        finally:
            self.model_ms += ((time.perf_counter() - start) * 1000.0 - self.model_ms) * 0.1

    def _execute(self, batch: list[_Item]) -> list[Any]:
        """One outcome (predictions or the exception) per request in ``batch``."""
        self.batches += 1
        self.requests += len(batch)
        if len(batch) > 1 and all(isinstance(instances, list) for instances, _ in batch):
            sizes = [_rows(instances) for instances, _ in batch]
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


def _rows(instances: Any) -> int:
    return len(instances) if isinstance(instances, list) else 1


def _deliver(batch: list[_Item], outcomes: list[Any]) -> None:
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():  # the caller went away
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
