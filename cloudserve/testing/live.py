"""The live acceptance run: the conformance suites against a real cloud account.

``CLOUDSERVE_LIVE=sagemaker|vertex|azureml`` turns a target's live tests on; without it
they are skipped and the skip says why. A maintainer certifies a release this way with
their own credentials (the SDK's usual chain) and their own account settings:

- ``CLOUDSERVE_LIVE_TARGETS``: a YAML file holding a spec's ``targets:`` block (region,
  role, bucket, project, workspace...), the same block a user's spec carries;
- ``CLOUDSERVE_LIVE_BUDGET_USD``: the cost ceiling the maintainer accepts. Before anything
  is created the run prints its own ceiling (the price of the smallest size that serves,
  from the target's catalog, times the version-hours the suites can use, with a margin)
  and runs only if the budget covers it.

Every endpoint is named ``csl<run>-<n>`` and tagged ``cloudserve-live-run=<run>`` and
``cloudserve-live-started=<unix minutes>``. Each test destroys what it made in ``finally``
(the conformance ``name`` fixture's teardown); a session-start sweep deletes endpoints an
interrupted run left (ours, tagged, started more than ``SWEEP_AFTER_S`` ago).

``CLOUDSERVE_LIVE_REHEARSAL=1`` runs the same live classes against the target's emulator
instead of the cloud, so the harness itself (names, tags, budget gate, clean-up, sweep) is
tested offline; it is how this module is tested here.
"""

from __future__ import annotations

import os
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cloudserve import tags as T
from cloudserve.desired import build_desired
from cloudserve.executor import apply
from cloudserve.provider import Operation, Provider
from cloudserve.spec.models import Deployment
from cloudserve.testing.conformance import SAMPLE_INSTANCES, ProviderConformance
from cloudserve.testing.rollout import FeedMetrics, RolloutConformance

LIVE_ENV = "CLOUDSERVE_LIVE"
TARGETS_ENV = "CLOUDSERVE_LIVE_TARGETS"
BUDGET_ENV = "CLOUDSERVE_LIVE_BUDGET_USD"
REHEARSAL_ENV = "CLOUDSERVE_LIVE_REHEARSAL"
RUN_TAG = "cloudserve-live-run"
STARTED_TAG = "cloudserve-live-started"
SWEEP_AFTER_S = 6 * 3600  # a live run takes about two hours; older leftovers are orphans

# Version-hours each suite can hold at the smallest size: every create, replace and canary
# counted at half an hour of serving (SageMaker and Azure take 5-15 minutes to create a
# version; a canary bakes 2 x 10 minutes), then the margin on top.
VERSION_HOURS = {"conformance": 6.0, "rollout": 6.0, "drift": 1.5}
MARGIN = 1.5
# Requests per second while a canary bakes: at 10% the candidate sees 0.5/s, 300 in a
# 10-minute bake, above the gates' default floor of 100.
LIVE_RATE = 5.0
# A rehearsal bakes 3% of each nap (10 minutes in 18 s) and sends as fast as the emulator
# answers, so each bake still holds more than 100 candidate requests.
REHEARSAL_SCALE, REHEARSAL_RATE = 0.03, 200.0


def selected() -> str | None:
    return os.environ.get(LIVE_ENV) or None


def rehearsal() -> bool:
    return os.environ.get(REHEARSAL_ENV) == "1"


def skip_reason(target: str) -> str | None:
    """Why ``target``'s live tests do not run now, or None when they do."""
    chosen = selected()
    if chosen != target:
        return f"live acceptance run off: set {LIVE_ENV}={target} (and {TARGETS_ENV}, {BUDGET_ENV})"
    if not rehearsal() and not os.environ.get(TARGETS_ENV):
        return f"{LIVE_ENV}={target} needs {TARGETS_ENV}: a YAML file with your spec's `targets:` block"
    return None


def mark(target: str) -> pytest.MarkDecorator:
    reason = skip_reason(target)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def account_targets() -> dict[str, Any]:
    """The ``targets:`` block from ``CLOUDSERVE_LIVE_TARGETS``."""
    import yaml

    path = Path(os.environ[TARGETS_ENV])
    doc = yaml.safe_load(path.read_text()) or {}
    block = doc.get("targets", doc)
    if not isinstance(block, dict):
        raise pytest.UsageError(f"{path}: expected a mapping under `targets:`")
    return block


# --- the run: names, tags, budget ---------------------------------------------------------
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class LiveRun:
    target: str
    run_id: str = field(default_factory=lambda: "".join(secrets.choice(_ALPHABET) for _ in range(6)))
    started_min: int = field(default_factory=lambda: int(time.time() // 60))
    _count: int = 0

    def name(self) -> str:
        # Short enough for every target (Azure ML: 3-32 characters, starting with a letter).
        self._count += 1
        return f"csl{self.run_id}-{self._count}"

    def labels(self) -> dict[str, str]:
        return {RUN_TAG: self.run_id, STARTED_TAG: str(self.started_min)}

    def tag(self, deployment: Deployment) -> Deployment:
        """The spec with the run's tags, and (unless rehearsing) the account's settings."""
        doc = deployment.model_dump(mode="json", by_alias=True, exclude_unset=True)
        doc.setdefault("metadata", {}).setdefault("labels", {}).update(self.labels())
        if not rehearsal():
            doc["targets"] = account_targets()
        return Deployment.model_validate(doc)


@dataclass(frozen=True)
class Budget:
    target: str
    instance_type: str | None
    hourly_usd: float
    version_hours: float

    @property
    def ceiling_usd(self) -> float:
        return round(self.hourly_usd * self.version_hours * MARGIN + 0.005, 2)

    def describe(self) -> str:
        size = self.instance_type or "the default size"
        return (
            f"live {self.target} run: up to ${self.ceiling_usd:.2f} ({size} at ${self.hourly_usd:.4f}/h x "
            f"{self.version_hours:g} version-hours x {MARGIN:g} margin)"
        )


def budget(target: str, provider: Provider, spec: Deployment) -> Budget:
    """The ceiling for a whole live run (every suite: one figure to confirm, on the safe
    side when only some run), priced from the provider's own plan note for one version of
    ``spec`` at the default (smallest serving) size. Makes no API call."""
    desired = build_desired(spec, provider)
    version = next(iter(desired.versions.values()))
    note = provider.plan_note(desired, version)
    if note.hourly_price_usd is None:
        raise pytest.UsageError(
            f"the {target} catalog has no price for {note.instance_type}: cannot bound the cost"
        )
    hours = sum(VERSION_HOURS.values())
    return Budget(target, note.instance_type, float(note.hourly_price_usd), hours)


def confirm(plan: Budget, echo: Callable[[str], None]) -> None:
    """Print the ceiling; go on only when ``CLOUDSERVE_LIVE_BUDGET_USD`` covers it."""
    echo(plan.describe())
    raw = os.environ.get(BUDGET_ENV, "")
    try:
        accepted = float(raw)
    except ValueError:
        accepted = -1.0
    if accepted < plan.ceiling_usd:
        given = f"{BUDGET_ENV}={raw}" if raw else f"{BUDGET_ENV} is not set"
        pytest.skip(f"{plan.describe()}; {given}: set {BUDGET_ENV}={plan.ceiling_usd:.2f} or more to confirm")


# --- waiting for real, and clean-up ----------------------------------------------------------
def finish(op: Operation, timeout_s: float = 3600.0, interval_s: float = 15.0) -> None:
    """Poll an operation on a real cloud, sleeping between polls."""
    deadline = time.monotonic() + timeout_s
    while not op.poll():
        if time.monotonic() > deadline:
            raise AssertionError(f"operation {op.description!r} did not finish in {timeout_s:g}s")
        time.sleep(interval_s)


def sweep(provider: Provider, older_than_s: float = SWEEP_AFTER_S, now: float | None = None) -> list[str]:
    """Delete every endpoint an earlier live run left: cloudserve's own (managed-by tag),
    tagged with a run, started more than ``older_than_s`` ago. Returns the names deleted."""
    cutoff_min = ((now if now is not None else time.time()) - older_than_s) // 60
    swept = []
    for name in provider.list_endpoints():
        tags = provider.read_tags(name) or {}
        if tags.get(T.MANAGED_BY) != T.MANAGED_BY_VALUE or RUN_TAG not in tags:
            continue
        started = tags.get(STARTED_TAG, "")
        if started.isdigit() and int(started) <= cutoff_min:
            finish(provider.delete_endpoint(name))
            swept.append(name)
    return swept


class RealClock:
    """The wall clock, with the SimulatedClock's interface (RolloutConformance uses it).

    ``scale`` below 1 (rehearsals only) sleeps that fraction of each nap for real and skips
    the rest, so a 10-minute bake takes seconds while requests still flow in real time."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    @property
    def now(self) -> float:
        return time.time() + self.slept * (1.0 - self.scale)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)
        self.naps.append(seconds)

    @property
    def slept(self) -> float:
        return sum(self.naps)


class LiveTraffic:
    """Real requests to an endpoint from a background thread, so gates read real metrics."""

    def __init__(self, provider: Provider, name: str, per_second: float = LIVE_RATE) -> None:
        self.provider, self.name, self.interval = provider, name, 1.0 / per_second
        self.sent = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"live-traffic-{name}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.provider.invoke(self.name, {"instances": SAMPLE_INSTANCES})
                self.sent += 1
            except Exception:  # a failing request is what the gates are there to see
                self.failed += 1

    def __enter__(self) -> LiveTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# --- the suites, live ---------------------------------------------------------------------
class _Live:
    """What every live class shares. A target's class sets ``target`` and supplies
    ``provider``; ``make_spec`` wraps the target's own (its emulator tests' fixture: a spec
    for the models "a" and "b"), tagging each spec for the run and giving it the account's
    settings."""

    target = ""

    @pytest.fixture
    def make_spec(self, make_spec: Callable[..., Deployment]) -> Callable[..., Deployment]:
        run = _run_for(self.target)
        return lambda *args, **kwargs: run.tag(make_spec(*args, **kwargs))

    @pytest.fixture(autouse=True)
    def _budget_and_sweep(
        self, provider: Provider, make_spec: Callable[..., Deployment], request: pytest.FixtureRequest
    ) -> None:
        if self.target not in _confirmed:
            probe = make_spec("csl-budget", {"stable": "a"}, {"stable": 100})
            confirm(budget(self.target, provider, probe), _echo(request))
            _confirmed.add(self.target)
        if self.target not in _swept:
            _swept[self.target] = sweep(provider)


class LiveConformance(_Live, ProviderConformance):
    """ProviderConformance on a real account: real waits, every endpoint destroyed."""

    @pytest.fixture
    def name(self, provider: Provider) -> Iterator[str]:
        name = _run_for(self.target).name()
        try:
            yield name
        finally:
            if provider.observe(name) is not None:
                finish(provider.delete_endpoint(name))

    def apply(self, provider: Provider, deployment: Deployment) -> None:
        apply(deployment, provider, sleep=time.sleep, poll_interval=15)

    def finish(self, op: Operation) -> None:
        finish(op)


class LiveRolloutConformance(_Live, RolloutConformance):
    """RolloutConformance on a real account: the wall clock, and real requests from a
    background thread while the controller bakes, so the gates read the cloud's metrics."""

    @pytest.fixture(autouse=True)
    def _deployment(self, provider: Provider) -> Iterator[None]:
        self.deployment = _run_for(self.target).name()
        self._traffic: LiveTraffic | None = None
        try:
            yield
        finally:
            if self._traffic is not None:
                self._traffic.__exit__()
            if provider.observe(self.deployment) is not None:
                finish(provider.delete_endpoint(self.deployment))

    @pytest.fixture
    def clock(self) -> RealClock:
        return RealClock(REHEARSAL_SCALE if rehearsal() else 1.0)

    @pytest.fixture
    def feed_metrics(self, provider: Provider) -> FeedMetrics:
        def start_traffic(deployment: str, version: str, requests: int, errors: int, latency: float) -> None:
            if self._traffic is None:  # one stream for the endpoint; the split routes it
                rate = REHEARSAL_RATE if rehearsal() else LIVE_RATE
                self._traffic = LiveTraffic(provider, deployment, rate).__enter__()

        return start_traffic

    def test_unhealthy_canary_rolls_back_at_the_first_step(self) -> None:  # type: ignore[override]
        pytest.skip(
            "a live candidate serves a healthy model: the 20% failure this case needs is injected "
            "into the emulator's metrics (the same test runs there)"
        )


class LiveDriftCheck(_Live):
    """The drift schedule on a real account: created with the endpoint, read back unchanged
    (plan shows nothing to do), and gone with it."""

    @pytest.fixture
    def baseline(self, tmp_path: Path) -> Path:
        path = tmp_path / "baseline.csv"
        rows = [",".join(f"{v:g}" for v in row) for row in SAMPLE_INSTANCES * 20]
        path.write_text("a,b,c,d\n" + "\n".join(rows) + "\n")
        return path

    def test_drift_schedule_created_read_back_and_destroyed(
        self, provider: Provider, make_spec: Callable[..., Deployment], baseline: Path
    ) -> None:
        from cloudserve.planner import make_plan

        name = _run_for(self.target).name()
        spec = make_spec(
            name,
            {"stable": "a"},
            {"stable": 100},
            capture={"sample_percent": 100},  # drift judges captured requests
            monitoring={"drift": {"baseline": str(baseline), "schedule": "daily"}},
        )
        try:
            apply(spec, provider, sleep=time.sleep, poll_interval=15)
            observed = provider.observe(name)
            assert observed is not None
            assert observed.monitoring_hash == build_desired(spec, provider).monitoring_hash
            assert not make_plan(spec, provider).has_changes
        finally:
            if provider.observe(name) is not None:
                finish(provider.delete_endpoint(name))
        assert provider.observe(name) is None


_runs: dict[str, LiveRun] = {}
_confirmed: set[str] = set()
_swept: dict[str, list[str]] = {}


def _run_for(target: str) -> LiveRun:
    """One run per target per pytest session: one id on every endpoint it makes."""
    if target not in _runs:
        _runs[target] = LiveRun(target)
    return _runs[target]


def _echo(request: pytest.FixtureRequest) -> Callable[[str], None]:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def echo(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
        else:  # pragma: no cover - pytest always has one outside -p no:terminal
            print(line)

    return echo


# --- a target's live module ----------------------------------------------------------------
class _TargetFixtures:
    """The two fixtures every target's live classes need, built from the target's name."""

    target = ""

    @pytest.fixture
    def provider(self, request: pytest.FixtureRequest) -> Iterator[Provider]:
        if rehearsal():  # the target's own emulator-backed fixture, one level up
            yield request.getfixturevalue("provider")
            return
        from cloudserve.registry import create_provider

        provider = create_provider(self.target, account_targets()[self.target])
        try:
            yield provider
        finally:
            provider.close()

    @pytest.fixture
    def predictions(self, predictions: Any) -> Any:
        return predictions  # the target's tests' own: the models' answers


def suites(target: str, **attributes: Any) -> tuple[type, type, type]:
    """(conformance, rollout, drift) test classes for ``target``'s live module::

        pytestmark = live.mark("vertex")
        TestLiveConformance, TestLiveRollout, TestLiveDrift = live.suites("vertex")

    ``attributes`` set class attributes of the suites (e.g. ``per_version_invoke=False``).
    """
    made = []
    for kind, base in (
        ("Conformance", LiveConformance),
        ("Rollout", LiveRolloutConformance),
        ("Drift", LiveDriftCheck),
    ):
        made.append(type(f"TestLive{kind}", (_TargetFixtures, base), {"target": target, **attributes}))
    return made[0], made[1], made[2]
