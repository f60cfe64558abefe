"""Progressive delivery: canary and linear rollouts with metric gates and rollback."""

from __future__ import annotations

from cloudserve.rollout.controller import RolloutController, RolloutResult, StepResult
from cloudserve.rollout.gates import GateContext, GateResult, Verdict
from cloudserve.rollout.record import Lease, RolloutRecord

__all__ = [
    "GateContext",
    "GateResult",
    "Lease",
    "RolloutController",
    "RolloutRecord",
    "RolloutResult",
    "StepResult",
    "Verdict",
]
