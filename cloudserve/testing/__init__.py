"""The kit for testing a target, and for testing code that deploys with cloudserve.

Everything a plugin author needs is importable from here (loaded on first use, so importing
``cloudserve.testing`` costs nothing until a name is used):

- :class:`ProviderConformance` and :class:`RolloutConformance`: the suites every bundled
  target passes; subclass them and supply ``provider`` and ``make_spec`` fixtures;
- :class:`SimulatedClock`: rollout bakes without waiting;
- :class:`FakeProvider` / :class:`FakeCloud`: an in-memory target with faults and metrics;
- :class:`RehearsalSuite`: run a live-acceptance module on an emulator.

The pytest plugin (installed with cloudserve) adds fixtures: ``cloudserve_clock``,
``cloudserve_fake_cloud``, ``cloudserve_fake_target``, and each installed emulator as
``<target>_emulator``. See docs/writing-a-target.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ProviderConformance": "cloudserve.testing.conformance",
    "MakeSpec": "cloudserve.testing.conformance",
    "Predictions": "cloudserve.testing.conformance",
    "RolloutConformance": "cloudserve.testing.rollout",
    "SimulatedClock": "cloudserve.testing.rollout",
    "FeedMetrics": "cloudserve.testing.rollout",
    "FakeProvider": "cloudserve.testing.fake",
    "FakeCloud": "cloudserve.testing.fake",
    "RehearsalSuite": "cloudserve.testing.rehearsal",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cloudserve.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
