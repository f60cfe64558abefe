"""plan and apply against the in-memory target: ordering, idempotence, failure and convergence."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cloudserve import api
from cloudserve import tags as T
from cloudserve.errors import (
    Conflict,
    DeploymentFailed,
    InvalidSpec,
    NotSupported,
    Throttled,
    Timeout,
)
from cloudserve.provider import EndpointState, Status
from cloudserve.testing.fake import FakeCloud, FakeProvider


def keys(plan: Any) -> list[str]:
    return [a.key for a in plan.actions]


def test_fresh_plan_creates_endpoint(spec: dict[str, Any], provider: FakeProvider) -> None:
    plan = api.plan(spec, provider=provider)
    assert keys(plan) == ["create_endpoint"]
    action = plan.actions[0]
    assert action.operations == ["fake:create_endpoint(churn)"]
    assert set(action.version_notes) == {"stable", "candidate"}
    assert action.version_notes["stable"].hourly_price_usd == 0.1


def test_prices_mean_one_replica_and_the_planner_multiplies(
    spec: dict[str, Any], provider: FakeProvider
) -> None:
    """hourly_price_usd is one replica's price on every target; the total at the minimum
    replicas is computed once, here, for the JSON plan and the text."""
    spec = copy.deepcopy(spec)
    spec["spec"]["compute"] = {"replicas": {"min": 3, "max": 4}}
    plan = api.plan(spec, provider=provider)
    stable = plan.to_dict()["actions"][0]["versions"]["stable"]
    assert stable["hourly_price_usd"] == 0.1  # the fake's unit price
    assert stable["replicas_min"] == 3 and stable["hourly_price_at_min_usd"] == pytest.approx(0.3)
    from cloudserve.output import render_plan

    assert "$0.1/h per replica, $0.3/h at 3 replicas" in render_plan(plan)


def test_apply_then_no_changes(spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud) -> None:
    result = api.apply(spec, provider=provider)
    assert [a.key for a in result.applied] == ["create_endpoint"]
    state = cloud.endpoints["churn"]
    assert state.tags[T.MANAGED_BY] == "cloudserve" and state.tags["team"] == "growth"
    assert state.tags[T.SPEC_HASH] == result.plan.desired.spec_hash
    again = api.apply(spec, provider=provider)
    assert again.applied == [] and not api.plan(spec, provider=provider).has_changes


def test_change_ordering(spec: dict[str, Any], provider: FakeProvider) -> None:
    api.apply(spec, provider=provider)
    changed = copy.deepcopy(spec)
    versions = changed["spec"]["versions"]
    versions["candidate"]["model"]["uri"] = "s3://bucket/churn-v3"  # immutable: replace
    versions["challenger"] = {"model": {"uri": "s3://bucket/x"}}  # new
    del versions["stable"]  # removed
    changed["spec"]["traffic"] = {"candidate": 50, "challenger": 50}
    changed["spec"]["compute"] = {"replicas": {"min": 2, "max": 3}}
    changed["spec"]["capture"] = {"sample_percent": 20}
    plan = api.plan(changed, provider=provider)
    assert keys(plan) == [
        "create_version",
        "replace_version",
        "set_traffic",
        "delete_version",
        "update_endpoint",
    ]
    # scaling changed too, but candidate is replaced (which carries the new scaling)
    api.apply(changed, provider=provider)
    assert not api.plan(changed, provider=provider).has_changes


def test_scaling_only_updates_in_place(spec: dict[str, Any], provider: FakeProvider) -> None:
    api.apply(spec, provider=provider)
    spec["spec"]["compute"] = {"replicas": {"min": 1, "max": 5}, "autoscale": {"target": 70}}
    plan = api.plan(spec, provider=provider)
    assert keys(plan) == ["update_version", "update_version"]
    assert {c.field for c in plan.actions[0].changes} == {
        "scaling.max",
        "scaling.autoscale_metric",
        "scaling.autoscale_target",
    }


def test_traffic_only(spec: dict[str, Any], provider: FakeProvider) -> None:
    api.apply(spec, provider=provider)
    spec["spec"]["traffic"] = {"stable": 50, "candidate": 50}
    plan = api.plan(spec, provider=provider)
    assert keys(plan) == ["set_traffic"]
    assert plan.actions[0].changes[0].after == {"stable": 50, "candidate": 50}


def test_failure_part_way_then_converges(
    spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud
) -> None:
    api.apply(spec, provider=provider)
    spec["spec"]["versions"]["challenger"] = {"model": {"uri": "s3://bucket/x"}}
    spec["spec"]["traffic"] = {"stable": 80, "candidate": 10, "challenger": 10}
    cloud.inject("set_traffic", DeploymentFailed("quota hit while shifting"))
    with pytest.raises(DeploymentFailed) as info:
        api.apply(spec, provider=provider)
    assert "step 2/2 (update traffic churn) failed: quota hit while shifting" in str(info.value)
    # the version was created; the next apply only moves traffic
    plan = api.plan(spec, provider=provider)
    assert keys(plan) == ["set_traffic"]
    api.apply(spec, provider=provider)
    assert cloud.endpoints["churn"].traffic["challenger"] == 10


def test_throttling_is_retried(
    spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    cloud.inject("create_endpoint", Throttled("slow down", retry_after=0.01), Throttled("again"))
    api.apply(spec, provider=provider)
    assert cloud.calls.count("create_endpoint") == 3
    assert slept[0] == 0.01  # Retry-After honoured


def test_long_operation_waits_with_backoff(
    spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    cloud.polls_needed = 4
    api.apply(spec, provider=provider)
    assert len(slept) == 4 and slept[3] > slept[0]
    assert all(s <= 30 * 1.2 for s in slept)


def test_timeout(
    spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    cloud.polls_needed = 10**9
    clock = iter(range(0, 10**6, 10))
    monkeypatch.setattr("cloudserve.waiting.monotonic", lambda: float(next(clock)))
    with pytest.raises(Timeout, match="did not finish within"):
        api.apply(spec, provider=provider, timeout=30)


def test_failed_endpoint_is_recreated(spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud) -> None:
    api.apply(spec, provider=provider)
    cloud.endpoints["churn"].status = Status.FAILED
    cloud.endpoints["churn"].failure_reason = "image pull failed"
    plan = api.plan(spec, provider=provider)
    assert keys(plan) == ["delete_endpoint", "create_endpoint"]
    assert "image pull failed" in plan.actions[0].reason


def test_foreign_endpoint_refused(spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud) -> None:
    cloud.endpoints["churn"] = EndpointState("churn", Status.READY, tags={"owner": "someone"})
    with pytest.raises(Conflict, match="not created by cloudserve"):
        api.plan(spec, provider=provider)
    with pytest.raises(Conflict, match="refusing to delete"):
        api.destroy(spec, provider=provider)
    assert "churn" in cloud.endpoints


def test_unsupported_feature_fails_before_any_call(
    spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud
) -> None:
    spec["spec"]["compute"] = {"serverless": {"memory": "2Gi"}}
    with pytest.raises(NotSupported, match=r"spec\.compute\.serverless: serverless is not supported on fake"):
        api.plan(spec, provider=provider)
    assert cloud.calls == []


def test_target_rules_fail_at_plan(spec: dict[str, Any], cloud: FakeCloud) -> None:
    class Strict(FakeProvider):
        def validate(self, desired: Any) -> list[str]:
            return [f"endpoint name {desired.name!r} is too short for this target"]

    with pytest.raises(InvalidSpec, match="too short for this target"):
        api.plan(spec, provider=Strict(cloud=cloud))
    assert cloud.calls == []


def test_offline_plan_never_observes(spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud) -> None:
    api.apply(spec, provider=provider)
    cloud.calls.clear()
    plan = api.plan(spec, provider=provider, offline=True)
    assert keys(plan) == ["create_endpoint"] and cloud.calls == []


def test_status_and_destroy(spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud) -> None:
    assert not api.status(spec, provider=provider).exists
    api.apply(spec, provider=provider)
    st = api.status(spec, provider=provider)
    assert st.exists and st.in_sync and st.traffic == {"stable": 90, "candidate": 10}
    spec["spec"]["traffic"] = {"stable": 100}
    assert api.status(spec, provider=provider).pending == ["update traffic churn"]
    result = api.destroy(spec, provider=provider)
    assert result.deleted and cloud.endpoints == {}
    assert not api.destroy(spec, provider=provider).deleted


def test_invoke_unknown_version(spec: dict[str, Any], provider: FakeProvider) -> None:
    from cloudserve.errors import NotFound

    with pytest.raises(NotFound, match="versions: stable, candidate"):
        api.invoke(spec, {"instances": [[1]]}, version="nope", provider=provider)


def test_new_baseline_bytes_plan_a_monitoring_update(
    spec: dict[str, Any], provider: FakeProvider, tmp_path: Any
) -> None:
    baseline = tmp_path / "train.csv"
    baseline.write_text("a,b\n1,2\n")
    spec["spec"]["monitoring"] = {"drift": {"baseline": str(baseline)}}
    api.apply(spec, provider=provider)
    assert not api.plan(spec, provider=provider).has_changes
    baseline.write_text("a,b\n1,2\n3,4\n")  # retrained: same path, new data
    assert keys(api.plan(spec, provider=provider)) == ["update_endpoint"]


def test_missing_local_model_fails_before_any_call(
    spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, tmp_path: Any
) -> None:
    spec["spec"]["versions"]["stable"]["model"]["uri"] = str(tmp_path / "nowhere" / "model.skops")
    with pytest.raises(InvalidSpec) as info:
        api.plan(spec, provider=provider, offline=True)
    problem = info.value.problems[0]
    assert problem.field == "spec.versions.stable.model.uri" and "does not exist" in problem.message
    assert cloud.calls == []


def test_a_new_target_serving_image_replaces_versions(spec: dict[str, Any], provider: FakeProvider) -> None:
    spec["spec"]["target"] = "vertex"
    spec["targets"] = {"vertex": {"serving_image": "registry/cloudserve:0.1"}}
    api.apply(spec, provider=provider)
    assert not api.plan(spec, provider=provider).has_changes
    spec["targets"]["vertex"]["serving_image"] = "registry/cloudserve:0.2"
    assert keys(api.plan(spec, provider=provider)) == ["replace_version", "replace_version"]


def test_paths_are_resolved_once_into_the_desired_state(tmp_path: Path, provider: FakeProvider) -> None:
    """Model and baseline paths start at the spec file's folder, wherever the command runs;
    cloud URIs (bq:// included) are left to the cloud."""
    from cloudserve.desired import build_desired

    folder = tmp_path / "project"
    (folder / "models").mkdir(parents=True)
    (folder / "models" / "m.skops").write_bytes(b"x")
    (folder / "train.csv").write_text("a\n1\n")
    spec_file = folder / "deploy.yaml"
    spec_file.write_text(
        "apiVersion: cloudserve/v1\nkind: Deployment\nmetadata: {name: paths}\n"
        "spec:\n  versions:\n"
        "    local: {model: {uri: models/m.skops, framework: sklearn}}\n"
        "    remote: {model: {uri: 's3://bucket/m.tar.gz', framework: sklearn}}\n"
        "  traffic: {local: 100}\n"
        "  monitoring: {drift: {baseline: train.csv}}\n"
    )
    deployment = api.load(str(spec_file))[0]
    desired = build_desired(deployment, provider)
    assert desired.versions["local"].artifact == (folder / "models" / "m.skops").resolve()
    assert desired.versions["remote"].artifact is None
    assert desired.baseline == (folder / "train.csv").resolve()
    assert deployment.local_path("bq://p.d.t") is None and deployment.local_path("gs://b/x") is None


def test_a_shown_plan_is_applied_as_shown(spec: dict[str, Any], cloud: FakeCloud) -> None:
    """The plan a person saw is the one carried out, even by another provider object."""
    shown = api.plan(spec, provider=FakeProvider(cloud=cloud))
    result = api.apply(shown.desired.deployment, provider=FakeProvider(cloud=cloud), plan=shown)
    assert result.plan is shown and [a.key for a in result.applied] == ["create_endpoint"]
    assert cloud.endpoints["churn"].traffic == shown.desired.traffic


def test_a_shown_plan_is_refused_when_the_target_moved(spec: dict[str, Any], cloud: FakeCloud) -> None:
    provider = FakeProvider(cloud=cloud)
    api.apply(spec, provider=provider)
    changed = copy.deepcopy(spec)
    changed["spec"]["traffic"] = {"stable": 50, "candidate": 50}
    shown = api.plan(changed, provider=provider)
    assert [a.key for a in shown.actions] == ["set_traffic"]
    # Meanwhile someone else moves the endpoint to exactly that split and beyond.
    cloud.endpoints["churn"].traffic = {"stable": 0, "candidate": 100}
    before = copy.deepcopy(cloud.endpoints["churn"])
    calls = len(cloud.calls)
    with pytest.raises(Conflict, match="changed since the plan was shown") as refused:
        api.apply(shown.desired.deployment, provider=provider, plan=shown)
    assert "run plan (or apply) again" in (refused.value.hint or "")
    writes = [c for c in cloud.calls[calls:] if c not in ("observe", "read_tags", "write_tags")]
    assert writes == [] and cloud.endpoints["churn"].traffic == before.traffic
