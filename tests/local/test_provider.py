"""LocalProvider behaviour beyond the conformance suite: failures, liveness, settings."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from cloudserve import tags as T
from cloudserve.desired import build_desired
from cloudserve.errors import Conflict, DeploymentFailed, NotFound, ProviderError
from cloudserve.local.provider import LocalProvider
from cloudserve.local.settings import LocalSettings
from cloudserve.provider import Feature, Status, Support
from cloudserve.spec.models import ModelSpec
from cloudserve.testing.conformance import SAMPLE_INSTANCES, MakeSpec, pending_changes, wait

pytestmark = pytest.mark.slow


def pid_of(provider: LocalProvider, name: str) -> int:
    observed = provider.observe(name)
    assert observed is not None
    return int(observed.details["pid"])


def _create(provider: LocalProvider, make_spec: MakeSpec, name: str, **kw: Any) -> Any:
    spec = make_spec(name, **kw)
    desired = build_desired(spec, provider)
    wait(provider.create_endpoint(desired))
    return desired


def test_state_dir_liveness_and_idempotent_create(local_provider: LocalProvider, make_spec: MakeSpec) -> None:
    desired = _create(local_provider, make_spec, "layout", versions={"stable": "a"}, traffic={"stable": 100})
    folder = local_provider.root / "layout"
    assert {"endpoint.json", "token", "server.json", "logs"} <= {p.name for p in folder.iterdir()}
    assert stat.S_IMODE((folder / "token").stat().st_mode) == 0o600
    live = json.loads((folder / "server.json").read_text())
    assert live["host"] == "127.0.0.1" and live["port"] > 0
    token = (folder / "token").read_text().strip()
    assert token not in (folder / "logs" / "server.log").read_text()
    # create_endpoint on a running server converges it in place: same process.
    pid = pid_of(local_provider, "layout")
    wait(local_provider.create_endpoint(desired))
    assert pid_of(local_provider, "layout") == pid
    # server.json naming a live process that is not our server (a reused pid).
    (folder / "server.json").write_text(json.dumps({**live, "pid": os.getpid()}))
    observed = local_provider.observe("layout")
    assert observed is not None and observed.status is Status.STOPPED
    (folder / "server.json").write_text(json.dumps(live))
    observed = local_provider.observe("layout")
    assert observed is not None and observed.status is Status.READY


def test_broken_model_at_create_fails_with_reason_and_leaves_no_endpoint(
    local_provider: LocalProvider, make_spec: MakeSpec, models: dict[str, Any]
) -> None:
    # Broken with traffic (the server never answers /ping), and broken at 0% (it does).
    for traffic in ({"stable": 100, "bad": 0}, {"stable": 0, "bad": 100}):
        spec = make_spec("broken", versions={"stable": "a", "bad": "b"}, traffic=traffic)
        spec.spec.versions["bad"].model.uri = str(models["broken_path"])  # type: ignore[union-attr]
        with pytest.raises(DeploymentFailed) as info:
            local_provider.create_endpoint(build_desired(spec, local_provider))
        assert "bad" in str(info.value) and "broken.skops" in str(info.value)  # loader reason
        assert local_provider.observe("broken") is None
        assert not (local_provider.root / "broken" / "server.json").exists()


def test_broken_version_fails_and_the_others_keep_serving(
    local_provider: LocalProvider, make_spec: MakeSpec, models: dict[str, Any], predictions: Any
) -> None:
    _create(local_provider, make_spec, "keep", versions={"stable": "a"}, traffic={"stable": 100})
    spec = make_spec("keep", versions={"stable": "a", "bad": "b"}, traffic={"stable": 100})
    spec.spec.versions["bad"].model.uri = str(models["broken_path"])  # type: ignore[union-attr]
    desired = build_desired(spec, local_provider)
    with pytest.raises(DeploymentFailed, match="bad"):
        local_provider.create_version(desired, desired.versions["bad"])
    result = local_provider.invoke("keep", {"instances": SAMPLE_INSTANCES})
    assert result.status_code == 200
    assert result.body["predictions"] == predictions("a", SAMPLE_INSTANCES)
    # Replacing the serving version with a broken artifact keeps the old model.
    spec = make_spec("keep", versions={"stable": "b"}, traffic={"stable": 100})
    spec.spec.versions["stable"].model.uri = str(models["broken_path"])  # type: ignore[union-attr]
    desired = build_desired(spec, local_provider)
    with pytest.raises(DeploymentFailed):
        local_provider.replace_version(desired, desired.versions["stable"])
    result = local_provider.invoke("keep", {"instances": SAMPLE_INSTANCES}, version="stable")
    assert result.body["predictions"] == predictions("a", SAMPLE_INSTANCES)


def test_version_lifecycle_and_traffic_refusals(local_provider: LocalProvider, make_spec: MakeSpec) -> None:
    _create(local_provider, make_spec, "life", versions={"stable": "a"}, traffic={"stable": 100})
    spec = make_spec("life", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 100})
    desired = build_desired(spec, local_provider)
    wait(local_provider.create_version(desired, desired.versions["candidate"]))
    with pytest.raises(ProviderError):
        local_provider.set_traffic("life", {"stable": 50, "ghost": 50}, {})
    with pytest.raises(ProviderError):
        local_provider.set_traffic("life", {"stable": 50, "candidate": 40}, {})
    wait(local_provider.set_traffic("life", {"stable": 0, "candidate": 100}, {}))
    with pytest.raises(Conflict):  # still has traffic: refused
        local_provider.delete_version(desired, "candidate")
    wait(local_provider.set_traffic("life", {"stable": 100, "candidate": 0}, {"candidate": 20}))
    observed = local_provider.observe("life")
    assert observed is not None and observed.mirror == {"candidate": 20}
    wait(local_provider.set_traffic("life", {"stable": 100}, {}))
    wait(local_provider.delete_version(desired, "candidate"))
    observed = local_provider.observe("life")
    assert observed is not None and set(observed.versions) == {"stable"}


def test_metrics_and_tags(local_provider: LocalProvider, make_spec: MakeSpec) -> None:
    desired = _create(
        local_provider,
        make_spec,
        "tags",
        versions={"stable": "a", "candidate": "b"},
        traffic={"stable": 50, "candidate": 50},
    )
    for _ in range(5):
        result = local_provider.invoke("tags", {"instances": SAMPLE_INSTANCES}, version="candidate")
        assert result.status_code == 200
    got = local_provider.metrics("tags", ["stable", "candidate"], 300)
    assert got["candidate"].requests >= 5
    assert got["candidate"].errors == 0
    assert got["stable"].requests == 0
    local_provider.write_tags("tags", {T.ROLLOUT: "step-1", "extra": "x"})
    observed = local_provider.observe("tags")
    assert observed is not None and observed.tags[T.ROLLOUT] == "step-1"
    wait(local_provider.update_endpoint(desired))
    observed = local_provider.observe("tags")
    assert observed is not None
    assert observed.tags[T.ROLLOUT] == "step-1"  # the core's rollout record stays
    assert "extra" not in observed.tags  # not in the spec: removed
    local_provider.write_tags("tags", {T.ROLLOUT: None})
    observed = local_provider.observe("tags")
    assert observed is not None and T.ROLLOUT not in observed.tags


def test_missing_deployment_errors(local_provider: LocalProvider) -> None:
    assert local_provider.observe("nothing") is None
    with pytest.raises(NotFound):
        local_provider.delete_endpoint("nothing")
    with pytest.raises(NotFound):
        local_provider.set_traffic("nothing", {"a": 100}, {})


def test_capabilities_declare_every_feature() -> None:
    caps = LocalProvider(LocalSettings()).capabilities()
    assert set(caps) == set(Feature)
    assert caps[Feature.AUTOSCALE].support is Support.IGNORED
    assert caps[Feature.REPLICAS].support is Support.IGNORED
    assert "one server process" in caps[Feature.AUTOSCALE].reason
    assert caps[Feature.TRAFFIC_SPLIT].support is Support.NATIVE
    assert caps[Feature.ROLLOUT].support is Support.EMULATED


def test_replicas_and_autoscale_plan_with_a_note_so_one_spec_serves_local_and_cloud(
    make_spec: MakeSpec,
) -> None:
    """Issue 18 item 5: accepted and said in plan, never silently ignored nor refused."""
    from cloudserve import api
    from cloudserve.output import render_plan

    compute = {
        "replicas": {"min": 2, "max": 4},
        "autoscale": {"metric": "requests_per_replica", "target": 50},
    }
    plan = api.plan(make_spec("scaled", versions={"stable": "a"}, traffic={"stable": 100}, compute=compute))
    assert plan.ignored == [
        "spec.compute.replicas is not applied on local: one server process on this machine serves "
        "every version (its traffic table, admin API and gate metrics live in that process); "
        "replicas apply on the cloud targets",
        "spec.compute.autoscale is not applied on local: one server process on this machine; "
        "autoscaling applies on the cloud targets",
    ]
    assert plan.to_dict()["ignored"] == plan.ignored
    assert "! spec.compute.replicas is not applied on local" in render_plan(plan)
    single = api.plan(make_spec("single", versions={"stable": "a"}, traffic={"stable": 100}))
    assert single.ignored == [] and "is not applied" not in render_plan(single)


def test_validate_bind_address_and_models(make_spec: MakeSpec, state_root: Path, tmp_path: Path) -> None:
    spec = make_spec("val", versions={"stable": "a"}, traffic={"stable": 100})
    provider = LocalProvider(LocalSettings(state_dir=str(state_root)))
    assert provider.validate(build_desired(spec, provider)) == []
    exposed = LocalProvider(LocalSettings(host="0.0.0.0", state_dir=str(state_root)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert exposed.validate(build_desired(spec, exposed)) == []
    assert any("reachable from other machines" in str(w.message) for w in caught)
    low = LocalProvider(LocalSettings(port=80, state_dir=str(state_root)))
    if os.geteuid() != 0:
        assert any("below 1024" in p for p in low.validate(build_desired(spec, low)))
    spec.spec.versions["stable"].model.uri = "s3://bucket/model.joblib"  # type: ignore[union-attr]
    assert any("download" in p for p in provider.validate(build_desired(spec, provider)))
    # A missing local file is the core's check (planner.missing_artifacts), made once for all targets.
    spec.spec.versions["stable"].model.uri = str(tmp_path / "missing.joblib")  # type: ignore[union-attr]
    assert provider.validate(build_desired(spec, provider)) == []


def test_state_dir_comes_from_settings_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDSERVE_LOCAL_STATE_DIR", str(tmp_path / "env"))
    assert LocalProvider(None).root == tmp_path / "env"
    assert LocalProvider({"state_dir": str(tmp_path / "set")}).root == tmp_path / "set"
    monkeypatch.delenv("CLOUDSERVE_LOCAL_STATE_DIR")
    assert LocalProvider(None).root == (Path.home() / ".cloudserve" / "local").resolve()


def test_import_stays_light() -> None:
    code = (
        "import sys, cloudserve.local.provider;"
        "heavy = {'sklearn', 'uvicorn', 'numpy', 'requests'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


_FAILING_HANDLER = """
def load(model_dir):
    return None


def predict(model, instances):
    raise RuntimeError("this version always fails")
"""


def test_mirror_of_a_failing_version_never_reaches_callers_and_is_measured(
    local_provider: LocalProvider, make_spec: MakeSpec, tmp_path: Path
) -> None:
    handler_dir = tmp_path / "faulty"
    handler_dir.mkdir()
    (handler_dir / "handler.py").write_text(_FAILING_HANDLER)
    capture_dir = tmp_path / "captured"
    spec = make_spec(
        "mirror",
        versions={"stable": "a", "faulty": "b"},
        traffic={"stable": 100, "faulty": 0},
        mirror={"faulty": 100},
        capture={"sample_percent": 100, "destination": str(capture_dir)},
    )
    spec.spec.versions["faulty"].model = ModelSpec(
        uri=str(handler_dir), framework="custom", format="handler", handler="handler.py"
    )
    wait(local_provider.create_endpoint(build_desired(spec, local_provider)))
    observed = local_provider.observe("mirror")
    assert observed is not None
    assert observed.mirror == {"faulty": 100} and observed.capture_percent == 100
    assert pending_changes(local_provider, spec) == []
    for _ in range(20):
        result = local_provider.invoke("mirror", {"instances": SAMPLE_INSTANCES})
        assert (result.status_code, result.version) == (200, "stable")
    got = local_provider.metrics("mirror", ["stable", "faulty"], 300)
    for _ in range(200):  # shadow copies are sent in the background: let them land
        if got["faulty"].errors >= 20:
            break
        time.sleep(0.05)
        got = local_provider.metrics("mirror", ["stable", "faulty"], 300)
    assert got["stable"].requests >= 20 and got["stable"].errors == 0
    assert got["faulty"].errors >= 1 and got["faulty"].error_rate == 1.0
    wait(local_provider.delete_endpoint("mirror"))  # a graceful stop flushes the capture buffer
    records = [
        json.loads(line) for file in capture_dir.glob("*.jsonl") for line in file.read_text().splitlines()
    ]
    assert any(r["version"] == "stable" and not r["shadow"] for r in records)
    assert all(r["shadow"] for r in records if r["version"] == "faulty")


def test_a_running_server_that_cannot_serve_is_not_ready(
    local_provider: LocalProvider, tmp_path: Path
) -> None:
    """Up and answering admin calls, but no loaded version has traffic: every request
    would be a 503, so status must not say ready (issue 14 item 6)."""
    import types

    from cloudserve.local.state import StateDir

    live: Any = types.SimpleNamespace(info=types.SimpleNamespace(pid=1, host="127.0.0.1", port=1))
    doc = {
        "versions": {
            "a": {
                "config_hash": "1",
                "status": "failed",
                "error": "model.skops is not a readable skops file",
            },
            "b": {"config_hash": "2", "status": "ready"},
        },
        "traffic": {"a": 100, "b": 0},
    }
    state = local_provider._endpoint_state("x", StateDir(tmp_path), doc, live)
    assert state.status is Status.FAILED
    assert state.failure_reason is not None and "no loaded version receives traffic" in state.failure_reason
    assert "not a readable skops" in state.failure_reason
    doc["traffic"] = {"a": 0, "b": 100}
    assert local_provider._endpoint_state("x", StateDir(tmp_path), doc, live).status is Status.READY
