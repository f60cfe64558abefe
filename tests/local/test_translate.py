"""Pure translation rules of the local target (no processes)."""

from __future__ import annotations

from pathlib import Path

from cloudserve import tags as T
from cloudserve.desired import build_desired
from cloudserve.local.provider import LocalProvider
from cloudserve.local.settings import LocalSettings
from cloudserve.local.translate import full_traffic, same_capture, tag_patch
from cloudserve.spec.models import Deployment


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


def test_plan_says_version_env_is_not_applied_locally(tmp_path: Path) -> None:
    model = tmp_path / "m.skops"
    model.write_bytes(b"x")
    spec = Deployment.model_validate(
        {
            "metadata": {"name": "envs"},
            "spec": {
                "target": "local",
                "versions": {
                    "plain": {"model": {"uri": str(model)}},
                    "tuned": {"model": {"uri": str(model)}, "env": {"THRESHOLD": "0.7", "MODE": "x"}},
                },
                "traffic": {"plain": 100},
            },
            "targets": {"local": {"state_dir": str(tmp_path / "state")}},
        }
    )
    provider = LocalProvider(LocalSettings(state_dir=str(tmp_path / "state")))
    desired = build_desired(spec, provider)
    plain, tuned = (provider.plan_note(desired, desired.versions[v]).notes for v in ("plain", "tuned"))
    assert not any("env" in note for note in plain)
    assert any("env (MODE, THRESHOLD) is not applied here" in note for note in tuned)
