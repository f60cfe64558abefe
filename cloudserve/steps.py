"""Several cloud calls as one pollable Operation, with one rule for retries.

A provider's write is often several calls, some long-running (upload a model, then deploy
it, then move traffic). The core waits on one :class:`~cloudserve.provider.Operation` per
plan action with its own backoff and timeout, so :class:`StepOperation` runs the calls in
order and returns from ``poll()`` whenever a cloud operation is still running, instead of
blocking in the SDK's own polling loop.

Retry semantics, which the core relies on: when ``poll()`` raises Throttled or Unavailable,
the core waits and polls the same operation again.

- A step leaves the queue only once it has returned. A step that raised runs again on the
  next poll; the steps before it do not.
- A step's long-running result is waited on before the next step starts. An error while
  waiting leaves it waited on: the next poll asks the same cloud operation again, it does
  not start the step anew or skip it.
- Each step's result (or its operation's) is kept in ``context`` under the step's name, for
  later steps, and steps may be appended while the operation runs (:meth:`then`).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from cloudserve.provider import Operation

Context = dict[str, Any]
Step = tuple[str, Callable[[Context], Any]]


class Pending(abc.ABC):
    """A cloud's long-running operation, as the steps wait on it."""

    @abc.abstractmethod
    def done(self) -> bool:
        """True once it finished; raise a neutral error (translated) when it failed."""

    @abc.abstractmethod
    def result(self) -> Any:
        """Its result, once done."""


def ignore_context(call: Callable[[], Any]) -> Callable[[Context], Any]:
    """A step from a call that needs no earlier step's result."""
    return lambda context: call()


def _no_wait(what: str, result: Any) -> Pending | None:
    return None


class StepOperation(Operation):
    """Run ``steps`` in order; see the module for what a retried poll does.

    ``pending(what, result)`` says whether a step's result is a cloud operation to wait on
    (a Pending wrapping it) or a plain value (None); ``guard(what)`` translates the cloud
    SDK's exceptions raised by a step into cloudserve's neutral errors."""

    def __init__(
        self,
        description: str,
        steps: list[Step],
        *,
        pending: Callable[[str, Any], Pending | None] = _no_wait,
        guard: Callable[[str], AbstractContextManager[Any]] | None = None,
        context: Context | None = None,
    ) -> None:
        self.description = description
        self.context: Context = context if context is not None else {}
        self._steps = list(steps)
        self._pending = pending
        self._guard = guard or (lambda what: contextlib.nullcontext())
        self._waiting: tuple[str, Pending] | None = None

    def then(self, what: str, step: Callable[[Context], Any]) -> None:
        """Append a step while the operation runs (e.g. one per model a listing step found)."""
        self._steps.append((what, step))

    @property
    def remaining(self) -> list[str]:
        """The names of the steps not yet returned, the one being waited on first."""
        return ([self._waiting[0]] if self._waiting else []) + [what for what, _ in self._steps]

    def poll(self) -> bool:
        while True:
            if self._waiting is not None:
                what, waiting = self._waiting
                if not waiting.done():  # raising keeps it waited on, for the retried poll
                    return False
                self.context[what] = waiting.result()
                self._waiting = None
            if not self._steps:
                return True
            what, step = self._steps[0]
            with self._guard(what):
                result = step(self.context)
            self._steps.pop(0)  # only now: a step that raised runs again on the next poll
            pending = self._pending(what, result)
            if pending is not None:
                self._waiting = (what, pending)
            else:
                self.context[what] = result
