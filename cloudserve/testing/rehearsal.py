"""Rehearse a target's live acceptance module on its emulator, in a child pytest.

The live module's skip marks are decided at import, from the environment, so the
rehearsal runs it in a fresh process with ``CLOUDSERVE_LIVE=<target>`` and
``CLOUDSERVE_LIVE_REHEARSAL=1`` (and the budget, when given).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cloudserve.testing import live


@dataclass(frozen=True)
class Rehearsal:
    returncode: int
    output: str

    @property
    def counts(self) -> dict[str, int]:
        """pytest's summary line as {outcome: count}, e.g. {"passed": 12, "skipped": 1}."""
        lines = [line for line in self.output.splitlines() if re.search(r"\d+ (passed|skipped|failed)", line)]
        found = re.findall(r"(\d+) (passed|skipped|failed|errors?)", lines[-1] if lines else "")
        return {outcome: int(n) for n, outcome in found}


def rehearse(target: str, module: Path, budget: str | None, timeout_s: float = 900.0) -> Rehearsal:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDSERVE_LIVE", "PYTEST_"))}
    env.update({live.LIVE_ENV: target, live.REHEARSAL_ENV: "1"})
    if budget is not None:
        env[live.BUDGET_ENV] = budget
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        str(module),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    return Rehearsal(done.returncode, done.stdout + done.stderr)


class RehearsalSuite:
    """Inherit in a target's tests to rehearse its live module; set ``target``, ``module``
    (the live module's path), ``ceiling`` (the dollars the run prints, e.g. "2.07") and
    ``size`` (the priced size as printed, e.g. "ml.c5.large at $0.1020/h")."""

    target = ""
    module: Path
    ceiling = ""
    size = ""

    def live_tests(self) -> int:
        """How many tests the live module runs: every test of the three live suites."""
        return sum(
            len([name for name in dir(suite) if name.startswith("test_")])
            for suite in live.suites(self.target)
        )

    def test_without_a_budget_nothing_runs_and_the_ceiling_is_shown(self) -> None:
        result = rehearse(self.target, self.module, budget=None)
        assert result.counts == {"skipped": self.live_tests()}, result.output
        assert f"live {self.target} run: up to ${self.ceiling} ({self.size}" in result.output
        assert f"set {live.BUDGET_ENV}={self.ceiling} or more to confirm" in result.output

    def test_the_live_suites_pass_on_the_emulator(self) -> None:
        result = rehearse(self.target, self.module, budget=self.ceiling)
        assert result.counts == {"passed": self.live_tests() - 1, "skipped": 1}, result.output
        assert "the 20% failure this case needs is injected" in result.output  # the one skip, said
