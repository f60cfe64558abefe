"""Pure translation rules of the local target (no processes)."""

from __future__ import annotations

from cloudserve import tags as T
from cloudserve.local.translate import full_traffic, same_capture, tag_patch


def test_tag_patch_sets_removes_and_keeps_rollout_bookkeeping() -> None:
    current = {"team": "a", "old": "x", T.ROLLOUT: "r", T.LEASE: "l", T.MANAGED_BY: "cloudserve"}
    desired = {"team": "b", T.MANAGED_BY: "cloudserve"}
    assert tag_patch(current, desired) == {"team": "b", "old": None}


def test_full_traffic_names_every_version() -> None:
    assert full_traffic({"a": {}, "b": {}}, {"a": 100}) == {"a": 100, "b": 0}
    assert full_traffic({"a": {}}, None) == {"a": 0}


def test_capture_without_destination_matches_the_servers_default() -> None:
    def cap(pct: float, dest: str | None) -> dict[str, object]:
        return {"sample_percent": pct, "destination": dest}

    assert same_capture(None, None)
    assert not same_capture(None, cap(10, "/x"))
    assert not same_capture(cap(10, None), None)
    assert same_capture(cap(20, None), cap(20.0, "/x"))
    assert not same_capture(cap(20, "/y"), cap(20, "/x"))
    assert not same_capture(cap(30, None), cap(20, "/x"))
