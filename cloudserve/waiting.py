"""Retries with capped exponential backoff, and waiting on long-running operations.

Kept in one place so every target gets the same behaviour: throttling and transient
server errors are retried (honouring the cloud's Retry-After), and every wait is bounded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import TypeVar

from cloudserve.errors import CloudServeError, Timeout
from cloudserve.provider import Operation

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    attempts: int = 6  # for retries of a single call
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        raw = min(self.cap, self.base * (2 ** min(attempt, 32)))  # no float overflow on long waits
        return float(raw * (1 + random.uniform(-self.jitter, self.jitter)))


def call_with_retry(
    fn: Callable[[], T],
    *,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] | None = None,
    on_retry: Callable[[CloudServeError, float], None] | None = None,
) -> T:
    sleep = sleep or time.sleep  # resolved per call so tests can patch time.sleep
    for attempt in range(backoff.attempts):
        try:
            return fn()
        except CloudServeError as exc:
            if not exc.retryable or attempt == backoff.attempts - 1:
                raise
            delay = exc.retry_after if exc.retry_after is not None else backoff.delay(attempt)
            delay = min(delay, backoff.cap)
            if on_retry:
                on_retry(exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def wait_for(
    operation: Operation,
    *,
    timeout: float,
    backoff: Backoff = Backoff(base=1.0, cap=30.0),
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    on_wait: Callable[[float], None] | None = None,
) -> None:
    """Poll ``operation`` until done; its own failure propagates; Timeout past ``timeout``."""
    sleep = sleep or time.sleep
    clock = clock or monotonic
    start = clock()
    attempt = 0
    while True:
        if call_with_retry(operation.poll, sleep=sleep):
            return
        elapsed = clock() - start
        if elapsed >= timeout:
            raise Timeout(
                f"{operation.description or 'operation'} did not finish within {timeout:g}s",
                hint="it may still finish on the cloud: run `cloudserve status`, then apply again "
                "(apply converges from wherever it stopped), or raise --timeout",
            )
        delay = min(backoff.delay(attempt), max(0.0, timeout - elapsed))
        if on_wait:
            on_wait(elapsed)
        sleep(delay)
        attempt += 1
