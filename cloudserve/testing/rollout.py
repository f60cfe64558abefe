"""Helpers for testing rollouts against an emulator without waiting for real.

Pass ``sleep=clock.sleep, clock=clock`` to :func:`cloudserve.executor.apply` (and to
``cloudserve.rollout.control.resume``): bake times and polls then advance simulated time
instead of the wall clock. Raise :class:`Killed` from a sleep hook to stand for the process
being killed mid-rollout.
"""

from __future__ import annotations

import time


class SimulatedClock:
    """Simulated time: sleeping advances it; nothing waits for real."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds

    @property
    def slept(self) -> float:
        """Total simulated seconds slept."""
        return sum(self.naps)


class Killed(BaseException):
    """Stands for the process being killed: only ``finally`` blocks run after it."""
