"""cloudserve's pytest plugin: the installed targets' emulators as fixtures in users' own tests.

Installed with cloudserve (entry point ``pytest11``); ``-p no:cloudserve`` turns it off.
Each provider distribution names its emulator and the warnings its SDK raises on every
call in two entry-point groups, so this plugin knows no provider and imports no SDK until
a test asks for that emulator:

- ``cloudserve.emulators``: ``<target> = "<module>:<EmulatorClass>"``. The class is a
  context manager; if it has ``env()``, those variables point cloudserve at it while the
  test runs. A test gets it started as the fixture ``<target>_emulator``, or any target
  with options through the ``cloudserve_emulator`` factory.
- ``cloudserve.warning_filters``: ``<target> = "<module>:<FILTERS>"``, a tuple of pytest
  ``filterwarnings`` lines. A line whose warning class cannot be found (its library is not
  installed, or a newer one dropped the class) is left out, so pytest never errors on it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from importlib.metadata import entry_points
from typing import Any

import pytest

from cloudserve.install import install_hint

EMULATORS = "cloudserve.emulators"
WARNING_FILTERS = "cloudserve.warning_filters"

StartEmulator = Callable[..., Any]


def pytest_configure(config: pytest.Config) -> None:
    for point in entry_points(group=WARNING_FILTERS):
        try:
            lines = point.load()
        except ImportError:
            continue
        for line in lines:
            if _names_a_warning(line):
                config.addinivalue_line("filterwarnings", line)


def _names_a_warning(line: str) -> bool:
    """True when the category of ``action::module.Class`` can be imported."""
    parts = line.split(":")
    category = parts[2] if len(parts) > 2 else ""
    module, _, name = category.rpartition(".")
    if not module:
        return True  # a builtin category (DeprecationWarning) or none
    try:
        if importlib.util.find_spec(module.split(".")[0]) is None:
            return False
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


def _emulator_class(target: str) -> Any:
    points = {p.name: p for p in entry_points(group=EMULATORS)}
    if target not in points:
        have = ", ".join(sorted(points)) or "none"
        raise pytest.UsageError(
            f"no emulator for target {target!r} (installed: {have}); "
            f"install it with: {install_hint(f'cloudserve-{target}[testing]')}"
        )
    return points[target].load()


@pytest.fixture
def cloudserve_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[StartEmulator]:
    """``cloudserve_emulator("vertex", buckets=["b"])`` starts that target's emulator with
    those options, points cloudserve at it, and stops it when the test ends."""
    with ExitStack() as running:

        def start(target: str, **options: Any) -> Any:
            emulator = running.enter_context(_emulator_class(target)(**options))
            for key, value in getattr(emulator, "env", dict)().items():
                monkeypatch.setenv(key, value)
            return emulator

        yield start


def _target_fixture(target: str) -> Any:
    def fixture(cloudserve_emulator: StartEmulator) -> Any:
        return cloudserve_emulator(target)

    fixture.__name__ = f"{target}_emulator"
    fixture.__doc__ = f"The {target} emulator with its defaults, started for this test."
    return pytest.fixture(name=f"{target}_emulator")(fixture)


# One fixture per installed emulator, named from entry-point metadata only (nothing imported).
for _point in entry_points(group=EMULATORS):
    globals()[f"{_point.name}_emulator"] = _target_fixture(_point.name)


@pytest.fixture
def cloudserve_clock() -> Any:
    """A SimulatedClock: pass ``sleep=clock.sleep, clock=clock.now`` to apply, and a
    rollout's bakes take no real time."""
    from cloudserve.testing.rollout import SimulatedClock

    return SimulatedClock()


@pytest.fixture
def cloudserve_fake_cloud() -> Any:
    """The state behind ``cloudserve_fake_target``: endpoints, calls made, faults to inject
    (``inject("set_traffic", Throttled(...))``) and metrics to feed the gates."""
    from cloudserve.testing.fake import FakeCloud

    return FakeCloud()


@pytest.fixture
def cloudserve_fake_target(cloudserve_fake_cloud: Any) -> Any:
    """An in-memory target (FakeProvider) on ``cloudserve_fake_cloud``: pass it as
    ``cloudserve.apply(spec, provider=...)`` to test orchestration code with no cloud."""
    from cloudserve.testing.fake import FakeProvider

    return FakeProvider(cloud=cloudserve_fake_cloud)
