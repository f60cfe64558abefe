"""The live acceptance harness (cloudserve.testing.live) without a cloud: skip reasons, the
run's names and tags, the cost ceiling and its confirmation, and the leftover sweep.
Each target's live module is also rehearsed on its emulator (test_*_live.py, run with
CLOUDSERVE_LIVE_REHEARSAL=1 by the providers' rehearsal tests)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from cloudserve_sagemaker.settings import SageMakerSettings

from cloudserve import tags as T
from cloudserve.provider import EndpointState, Status
from cloudserve.spec.models import Deployment
from cloudserve.testing import live
from cloudserve.testing.fake import FakeCloud, FakeProvider
from cloudserve.testing.specs import EXAMPLE_SPEC

AZURE_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32, as rules.py checks
VERTEX_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


@pytest.fixture(autouse=True)
def _no_live_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (live.LIVE_ENV, live.TARGETS_ENV, live.BUDGET_ENV, live.REHEARSAL_ENV):
        monkeypatch.delenv(var, raising=False)


def test_off_unless_asked_and_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "set CLOUDSERVE_LIVE=vertex" in (live.skip_reason("vertex") or "")
    monkeypatch.setenv(live.LIVE_ENV, "sagemaker")
    assert "CLOUDSERVE_LIVE=vertex" in (live.skip_reason("vertex") or "")  # another target's run
    assert "needs CLOUDSERVE_LIVE_TARGETS" in (live.skip_reason("sagemaker") or "")
    monkeypatch.setenv(live.TARGETS_ENV, "/some/targets.yaml")
    assert live.skip_reason("sagemaker") is None


def test_run_names_and_tags_fit_every_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = live.LiveRun("azureml")
    names = [run.name() for _ in range(12)]
    assert len(set(names)) == 12 and all(AZURE_NAME.match(n) for n in names), names
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", n) for n in names)  # SageMaker, Vertex ids
    for key, value in run.labels().items():
        assert VERTEX_LABEL.match(key) and re.fullmatch(r"[a-z0-9_-]{0,63}", value), (key, value)
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "targets:\n  sagemaker: {region: eu-west-1, role_arn: arn:aws:iam::1:role/r, bucket: b}\n"
    )
    monkeypatch.setenv(live.TARGETS_ENV, str(targets))
    tagged = run.tag(Deployment.model_validate(copy.deepcopy(EXAMPLE_SPEC)))
    assert tagged.metadata.labels == {"team": "growth", **run.labels()}
    assert SageMakerSettings.of(tagged).region == "eu-west-1"  # the account's settings, not the test's


def test_the_ceiling_is_printed_and_must_be_confirmed(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = FakeProvider()
    spec = Deployment.model_validate(copy.deepcopy(EXAMPLE_SPEC))
    plan = live.budget("fake", provider, spec)
    hours = sum(live.VERSION_HOURS.values())
    assert plan.ceiling_usd == round(0.1 * hours * live.MARGIN, 2) == 2.03
    printed: list[str] = []
    with pytest.raises(
        pytest.skip.Exception, match=r"set CLOUDSERVE_LIVE_BUDGET_USD=2.03 or more to confirm"
    ):
        live.confirm(plan, printed.append)
    monkeypatch.setenv(live.BUDGET_ENV, "2.00")
    with pytest.raises(pytest.skip.Exception, match=r"CLOUDSERVE_LIVE_BUDGET_USD=2.00: set"):
        live.confirm(plan, printed.append)
    monkeypatch.setenv(live.BUDGET_ENV, "2.03")
    live.confirm(plan, printed.append)
    assert printed == [plan.describe()] * 3
    assert printed[0].startswith("live fake run: up to $2.03 (fake.small at $0.1000/h x 13.5 version-hours")
    assert provider.cloud.calls == []  # pricing made no API call


def _endpoint(name: str, **tags: str) -> EndpointState:
    return EndpointState(name, Status.READY, tags=dict(tags))


def test_sweep_deletes_only_our_old_live_endpoints() -> None:
    now = 1_800_000_000.0
    old, recent = str(int((now - live.SWEEP_AFTER_S - 60) // 60)), str(int((now - 600) // 60))
    ours = {T.MANAGED_BY: T.MANAGED_BY_VALUE}
    cloud = FakeCloud()
    cloud.endpoints = {
        "csl-old": _endpoint("csl-old", **ours, **{live.RUN_TAG: "abc123", live.STARTED_TAG: old}),
        "csl-recent": _endpoint("csl-recent", **ours, **{live.RUN_TAG: "def456", live.STARTED_TAG: recent}),
        "prod-churn": _endpoint("prod-churn", **ours),  # cloudserve's, but not a live run's
        "theirs": _endpoint("theirs", **{live.RUN_TAG: "abc123", live.STARTED_TAG: old}),  # not ours
    }
    provider = FakeProvider(cloud=cloud)
    assert live.sweep(provider, now=now) == ["csl-old"]
    assert sorted(cloud.endpoints) == ["csl-recent", "prod-churn", "theirs"]


def test_the_rehearsal_clock_skips_most_of_each_nap() -> None:
    clock = live.RealClock(scale=0.001)
    start = clock.now
    clock.sleep(600)
    assert clock.slept == 600
    assert 600 <= clock.now - start < 605
