"""`cloudserve rollout status|promote|abort|pause|resume`, from any machine.

A running controller polls the record on the endpoint, so promote, abort and pause are
written there as requests and carried out by it; when no controller holds the lease
(paused, or its process died), the command does the work itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cloudserve import tags as T
from cloudserve.desired import build_desired
from cloudserve.errors import Conflict, NotFound
from cloudserve.provider import Provider
from cloudserve.rollout.controller import RolloutController, RolloutResult, rollout_failed
from cloudserve.rollout.gates import CallableGate
from cloudserve.rollout.record import Lease, RolloutRecord, clear_record_tags
from cloudserve.spec.models import Deployment


def _current(provider: Provider, name: str) -> tuple[RolloutRecord | None, Lease | None, dict[str, int]]:
    observed = provider.observe(name)
    if observed is None:
        raise NotFound(f"deployment {name!r} does not exist on {provider.name}")
    lease = Lease.decode(observed.tags.get(T.LEASE))
    return (
        RolloutRecord.from_tags(observed.tags),
        lease if lease and lease.active() and not lease.holder_gone() else None,
        observed.traffic,
    )


def status(deployment: Deployment, provider: Provider) -> dict[str, Any]:
    record, lease, traffic = _current(provider, deployment.name)
    return {
        "deployment": deployment.name,
        "traffic": {k: v for k, v in traffic.items() if v},
        "rollout": record.to_dict() if record else None,
        "holder": {"holder": lease.holder, "expires": lease.expires} if lease else None,
    }


def _need(record: RolloutRecord | None, name: str) -> RolloutRecord:
    if record is None:
        raise NotFound(f"no rollout is recorded on {name!r}", hint="`cloudserve rollout status` shows it")
    return record


def request(deployment: Deployment, provider: Provider, action: str) -> dict[str, Any]:
    """promote | abort | pause: to the running controller, or carried out here."""
    name = deployment.name
    record = _need(*_current(provider, name)[:1], name)
    _, lease, _ = _current(provider, name)
    if action == "abort" and record.state in ("rolledback", "aborted"):
        provider.write_tags(name, clear_record_tags())
        return {"deployment": name, "done": "cleared the record of a finished rollout"}
    if lease is not None:  # a controller is running: it obeys at its next poll
        state = {"pause": "paused", "abort": "abort", "promote": "promote"}[action]
        provider.write_tags(name, {T.ROLLOUT: record.with_(state=state).to_tags()[T.ROLLOUT]})
        return {"deployment": name, "requested": action, "holder": lease.holder}
    controller = RolloutController(provider, build_desired(deployment, provider))
    if action == "pause":
        provider.write_tags(name, record.with_(state="paused", reason="paused by request").to_tags())
        return {"deployment": name, "done": "paused"}
    controller.acquire({})
    try:
        if action == "abort":
            from cloudserve.output import format_value

            controller.rollback(record, "aborted by request", state="aborted")
            return {"deployment": name, "done": f"aborted; traffic back to {format_value(record.previous)}"}
        controller.promote(record)
        return {"deployment": name, "done": f"promoted; traffic {record.target}"}
    finally:
        controller.release()


def resume(
    deployment: Deployment,
    provider: Provider,
    *,
    python_gates: Sequence[CallableGate] = (),
    poll_interval: float = 15.0,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    progress: Callable[[str], None] | None = None,
) -> RolloutResult:
    """Continue a paused or orphaned rollout from its recorded step."""
    name = deployment.name
    record, lease, _ = _current(provider, name)
    record = _need(record, name)
    if record.state not in ("running", "paused"):
        raise Conflict(f"the rollout on {name!r} is {record.state}; nothing to resume")
    desired = build_desired(deployment, provider)
    if not desired.spec_hash.startswith(record.spec_hash):
        raise Conflict(
            f"the recorded rollout on {name!r} was for another version of the spec",
            hint="apply the current spec instead; it starts a new rollout",
        )
    controller = RolloutController(
        provider,
        desired,
        python_gates=python_gates,
        poll_interval=poll_interval,
        sleep=sleep,
        clock=clock,
        progress=progress,
    )
    controller.acquire({T.LEASE: lease.encode()} if lease else {})
    try:
        result = controller.run(record.with_(state="running"))
    finally:
        controller.release()
    if result.state not in ("done", "promoted"):
        raise rollout_failed(result)
    return result
