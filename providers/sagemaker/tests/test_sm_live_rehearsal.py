"""The SageMaker live acceptance module, rehearsed on the emulator in a child pytest
(``CLOUDSERVE_LIVE_REHEARSAL=1``): the names, tags, budget gate, real waits, background
traffic and clean-up the live run uses, everything but the cloud itself."""

from __future__ import annotations

from pathlib import Path

from cloudserve.testing.rehearsal import rehearse

LIVE_MODULE = Path(__file__).with_name("test_sm_live.py")


def test_without_a_budget_nothing_runs_and_the_ceiling_is_shown() -> None:
    result = rehearse("sagemaker", LIVE_MODULE, budget=None)
    assert result.counts == {"skipped": 13}, result.output
    assert "live sagemaker run: up to $2.07 (ml.c5.large at $0.1020/h" in result.output
    assert "set CLOUDSERVE_LIVE_BUDGET_USD=2.07 or more to confirm" in result.output


def test_the_live_suites_pass_on_the_emulator() -> None:
    result = rehearse("sagemaker", LIVE_MODULE, budget="2.07")
    assert result.counts == {"passed": 12, "skipped": 1}, result.output
    assert "the 20% failure this case needs is injected" in result.output  # the one skip, said
