"""Progressive delivery against the in-memory target, on a simulated clock."""

from __future__ import annotations

import base64
import copy
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from cloudserve import tags as T
from cloudserve.errors import Conflict, ProviderError, RolloutFailed
from cloudserve.executor import apply
from cloudserve.provider import VersionMetrics
from cloudserve.rollout import control
from cloudserve.rollout.gates import GateContext
from cloudserve.rollout.record import Lease, RolloutRecord
from cloudserve.rollout.steps import step_splits
from cloudserve.spec.loader import load_one
from cloudserve.testing.fake import FakeCloud, FakeProvider
from cloudserve.testing.rollout import FeedMetrics, Killed, RolloutConformance
from cloudserve.testing.rollout import SimulatedClock as Clock

HEALTHY = VersionMetrics(requests=1000, errors=2, latency_p50_ms=5, latency_p99_ms=40)
BROKEN = VersionMetrics(requests=1000, errors=200, latency_p50_ms=5, latency_p99_ms=40)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def canary(spec: dict[str, Any], **rollout: Any) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    out["spec"]["traffic"] = {"stable": 100}
    out["spec"]["rollout"] = {
        "strategy": "canary",
        "steps": [10, 50, 100],
        "bake": "10m",
        "gates": [{"metric": "error_rate", "max": 0.01}, {"metric": "latency_p99_ms", "max": 300}],
        **rollout,
    }
    return out


def promote_spec(spec: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    out["spec"]["traffic"] = {"stable": 0, "candidate": 100}
    return out


def run(spec: dict[str, Any], provider: FakeProvider, clock: Clock, **kw: Any) -> Any:
    return apply(load_one(spec), provider, sleep=clock.sleep, clock=clock, poll_interval=30, **kw)


@pytest.fixture
def deployed(spec: dict[str, Any], provider: FakeProvider, clock: Clock) -> dict[str, Any]:
    base = canary(spec)
    run(base, provider, clock)
    return base


def splits_seen(cloud: FakeCloud) -> int:
    return cloud.calls.count("set_traffic")


def test_steps_follow_the_spec() -> None:
    assert step_splits({"stable": 100}, {"stable": 0, "candidate": 100}, [10, 50, 100]) == [
        {"candidate": 10, "stable": 90},
        {"candidate": 50, "stable": 50},
        {"candidate": 100, "stable": 0},
    ]
    assert step_splits({"stable": 100}, {"stable": 90, "candidate": 10}, [10, 50, 100]) == [
        {"candidate": 10, "stable": 90}
    ]
    linear = step_splits({"a": 100}, {"a": 0, "b": 100}, [25, 50, 75, 100])
    assert [s["b"] for s in linear] == [25, 50, 75, 100] and all(sum(s.values()) == 100 for s in linear)


def test_healthy_canary_passes_every_step(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = HEALTHY
    cloud.metrics[("churn", "stable")] = HEALTHY
    result = run(promote_spec(deployed), provider, clock)
    assert result.rollout.state == "done"
    assert [s.traffic["candidate"] for s in result.rollout.steps] == [10, 50, 100]
    assert cloud.endpoints["churn"].traffic == {"stable": 0, "candidate": 100}
    assert clock.slept >= 2 * 600  # baked at 10% and 50%
    tags = cloud.endpoints["churn"].tags
    assert T.ROLLOUT not in tags and T.LEASE not in tags  # record cleared, lease released
    assert run(promote_spec(deployed), provider, clock).applied == []


def test_unhealthy_canary_rolls_back_at_first_step(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = BROKEN
    cloud.metrics[("churn", "stable")] = HEALTHY
    with pytest.raises(RolloutFailed) as info:
        run(promote_spec(deployed), provider, clock)
    err = info.value
    assert err.exit_code == 3
    text = str(err)
    assert "step 1 (candidate 10%, stable 90%)" in text
    assert "error_rate <= 0.01: fail, saw 0.2 (threshold 0.01) over 600s, 1000 requests" in text
    assert cloud.endpoints["churn"].traffic == {"stable": 100, "candidate": 0}
    rollout = err.to_dict()["rollout"]
    assert rollout["failure"]["value"] == 0.2 and rollout["failed_step"] == 1  # type: ignore[index]
    # the record explains it to anyone, and the same spec is not retried blindly
    record = RolloutRecord.from_tags(cloud.endpoints["churn"].tags)
    assert record is not None and record.state == "rolledback" and "error_rate" in record.reason
    with pytest.raises(RolloutFailed, match="was rolled back"):
        run(promote_spec(deployed), provider, clock)


def test_new_version_removed_on_rollback_unless_kept(
    spec: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    base = canary(spec)
    del base["spec"]["versions"]["candidate"]
    run(base, provider, clock)
    cloud.metrics[("churn", "candidate")] = BROKEN
    with pytest.raises(RolloutFailed):
        run(promote_spec(canary(spec)), provider, clock)
    assert set(cloud.endpoints["churn"].versions) == {"stable"}
    cloud.endpoints["churn"].tags.pop(T.ROLLOUT)
    with pytest.raises(RolloutFailed):
        run(promote_spec(canary(spec, keep_failed_version=True)), provider, clock)
    assert set(cloud.endpoints["churn"].versions) == {"stable", "candidate"}


def test_relative_gate(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    spec = promote_spec(deployed)
    spec["spec"]["rollout"]["gates"] = [{"metric": "error_rate", "max_over_stable": 0.005}]
    cloud.metrics[("churn", "stable")] = VersionMetrics(1000, 50)  # stable at 5%
    cloud.metrics[("churn", "candidate")] = VersionMetrics(1000, 52)  # 5.2% is within +0.5
    assert run(spec, provider, clock).rollout.state == "done"


def test_inconclusive_is_not_a_pass(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = VersionMetrics(requests=3, errors=0)
    with pytest.raises(RolloutFailed, match="still inconclusive"):
        run(promote_spec(deployed), provider, clock)
    assert cloud.endpoints["churn"].traffic["candidate"] == 0


def test_pause_on_failure_waits_for_a_person(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    spec = promote_spec(deployed)
    spec["spec"]["rollout"]["on_failure"] = "pause"
    cloud.metrics[("churn", "candidate")] = BROKEN
    with pytest.raises(RolloutFailed, match="rollout paused"):
        run(spec, provider, clock)
    assert cloud.endpoints["churn"].traffic == {"stable": 90, "candidate": 10}  # held where it was
    with pytest.raises(Conflict, match="is paused at step 1"):
        run(spec, provider, clock)
    # a person fixes the version and promotes from anywhere
    out = control.request(load_one(spec), provider, "promote")
    assert "promoted" in str(out["done"])
    assert cloud.endpoints["churn"].traffic == {"stable": 0, "candidate": 100}
    assert T.ROLLOUT not in cloud.endpoints["churn"].tags


def test_abort_returns_to_previous_split(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    spec = promote_spec(deployed)
    spec["spec"]["rollout"]["on_failure"] = "pause"
    cloud.metrics[("churn", "candidate")] = BROKEN
    with pytest.raises(RolloutFailed):
        run(spec, provider, clock)
    control.request(load_one(spec), provider, "abort")
    assert cloud.endpoints["churn"].traffic["stable"] == 100


def test_killed_rollout_resumes_from_recorded_step(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = HEALTHY
    spec = promote_spec(deployed)
    naps = [0]

    def dying_sleep(seconds: float) -> None:
        naps[0] += 1
        if naps[0] == 25:  # during the bake of the second step
            raise Killed
        clock.sleep(seconds)

    with pytest.raises(Killed):
        apply(load_one(spec), provider, sleep=dying_sleep, clock=clock, poll_interval=30)
    record = RolloutRecord.from_tags(cloud.endpoints["churn"].tags)
    assert record is not None and record.state == "running" and record.step == 1
    traffic = cloud.endpoints["churn"].traffic
    assert traffic in step_splits(record.previous, record.target, list(record.steps))  # explained
    set_before = splits_seen(cloud)
    result = run(spec, provider, clock)
    assert result.rollout.state == "done"
    assert [s.step for s in result.rollout.steps] == [2, 3]  # resumed, not restarted
    assert splits_seen(cloud) == set_before + 2


def test_resume_command_continues(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    spec = promote_spec(deployed)
    spec["spec"]["rollout"]["on_failure"] = "pause"
    cloud.metrics[("churn", "candidate")] = BROKEN
    with pytest.raises(RolloutFailed):
        run(spec, provider, clock)
    cloud.metrics[("churn", "candidate")] = HEALTHY  # fixed
    result = control.resume(load_one(spec), provider, sleep=clock.sleep, clock=clock, poll_interval=30)
    assert result.state == "done" and cloud.endpoints["churn"].traffic["candidate"] == 100


def test_concurrent_apply_is_refused(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    other = Lease("ci-runner-7-4242", int(clock.now + 600))
    cloud.endpoints["churn"].tags[T.LEASE] = other.encode()
    with pytest.raises(Conflict, match=r"another cloudserve process \(ci-runner-7-4242\) holds"):
        run(promote_spec(deployed), provider, clock)
    assert cloud.endpoints["churn"].traffic == {"stable": 100, "candidate": 0}


def test_expired_lease_is_taken_over(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.endpoints["churn"].tags[T.LEASE] = Lease("gone-1", int(clock.now) - 10).encode()
    cloud.metrics[("churn", "candidate")] = HEALTHY
    assert run(promote_spec(deployed), provider, clock).rollout.state == "done"


def test_python_gate(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = HEALTHY
    seen: list[GateContext] = []

    def business_kpi(ctx: GateContext) -> bool:
        seen.append(ctx)
        return ctx.step < 2

    with pytest.raises(RolloutFailed, match="python business_kpi: fail"):
        run(promote_spec(deployed), provider, clock, python_gates=[business_kpi])
    assert seen[0].traffic == {"stable": 90, "candidate": 10}
    assert cloud.endpoints["churn"].traffic["stable"] == 100


AUTH_SEEN: list[str | None] = []


@pytest.fixture
def check_server() -> Iterator[tuple[str, list[int]]]:
    codes = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            AUTH_SEEN.append(self.headers.get("Authorization"))
            self.send_response(codes[0])
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/check", codes
    server.shutdown()


def test_http_gate(
    deployed: dict[str, Any],
    provider: FakeProvider,
    cloud: FakeCloud,
    clock: Clock,
    check_server: tuple[str, list[int]],
) -> None:
    url, codes = check_server
    spec = promote_spec(deployed)
    spec["spec"]["rollout"]["gates"] = [{"http": url}]
    codes[0] = 503
    with pytest.raises(RolloutFailed, match="HTTP 503"):
        run(spec, provider, clock)
    cloud.endpoints["churn"].tags.pop(T.ROLLOUT)
    codes[0] = 204
    assert run(spec, provider, clock).rollout.state == "done"


def test_plan_says_how_traffic_moves(deployed: dict[str, Any], provider: FakeProvider) -> None:
    from cloudserve.planner import make_plan

    plan = make_plan(load_one(promote_spec(deployed)), provider)
    assert plan.rollout_mode == "client"
    assert "canary 10% -> 50% -> 100% by cloudserve's controller on fake" in plan.rollout_reason


def test_api_call_count_of_a_full_canary(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = HEALTHY
    cloud.calls.clear()
    run(promote_spec(deployed), provider, clock)
    assert cloud.calls.count("set_traffic") == 3
    assert cloud.calls.count("metrics") == 2  # one gate read per baked step


def test_a_gate_judges_its_own_window(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = HEALTHY
    windows: list[float] = []
    read = provider.metrics

    def spy(name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        windows.append(window_seconds)
        return read(name, versions, window_seconds)

    provider.metrics = spy  # type: ignore[method-assign]
    spec = promote_spec(deployed)
    spec["spec"]["rollout"]["gates"] = [
        {"metric": "error_rate", "max": 0.01, "window": "3s"},
        {"metric": "latency_p99_ms", "max": 300, "window": "3s"},
    ]
    result = run(spec, provider, clock)
    assert windows == [3, 3]  # one read per baked step, over the gates' window
    assert result.rollout.steps[0].gates[0].window_seconds == 3


def test_lease_of_a_dead_process_on_this_machine_is_stale(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    import subprocess
    import sys

    from cloudserve.rollout.record import holder_id

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    host = holder_id().rpartition("-")[0]
    dead = Lease(f"{host}-{int(gone.stdout)}", int(clock.now + 600))
    assert dead.holder_gone() and not Lease(holder_id(), int(clock.now + 600)).holder_gone()
    assert not Lease(f"elsewhere-{int(gone.stdout)}", int(clock.now + 600)).holder_gone()
    cloud.endpoints["churn"].tags[T.LEASE] = dead.encode()
    cloud.metrics[("churn", "candidate")] = HEALTHY
    assert run(promote_spec(deployed), provider, clock).rollout.state == "done"


@pytest.mark.parametrize("request_", ["promote", "abort"])
def test_a_request_left_for_a_dead_controller_is_carried_out_on_resume(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock, request_: str
) -> None:
    cloud.metrics[("churn", "candidate")] = HEALTHY
    spec = promote_spec(deployed)
    naps = [0]

    def dying_sleep(seconds: float) -> None:
        naps[0] += 1
        if naps[0] == 25:  # during the bake of the second step
            raise Killed
        clock.sleep(seconds)

    with pytest.raises(Killed):
        apply(load_one(spec), provider, sleep=dying_sleep, clock=clock, poll_interval=30)
    tags = cloud.endpoints["churn"].tags
    record = RolloutRecord.from_tags(tags)
    assert record is not None
    tags[T.ROLLOUT] = str(
        record.with_(state=request_).to_tags()[T.ROLLOUT]
    )  # as `rollout <request>` writes it
    if request_ == "promote":
        assert run(spec, provider, clock).rollout.state == "promoted"
        assert cloud.endpoints["churn"].traffic == {"stable": 0, "candidate": 100}
    else:
        with pytest.raises(RolloutFailed, match="aborted"):
            run(spec, provider, clock)
        assert cloud.endpoints["churn"].traffic["stable"] == 100


def test_status_explains_a_rolled_back_rollout(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    import click

    from cloudserve import api
    from cloudserve.output import render_status

    cloud.metrics[("churn", "candidate")] = BROKEN
    with pytest.raises(RolloutFailed):
        run(promote_spec(deployed), provider, clock)
    text = click.unstyle(render_status(api.status(promote_spec(deployed), provider=provider)))
    header = "rollout rolled back at step 1 of 3 (10% -> 50% -> 100%): {stable: 100} -> {candidate: 100}"
    assert header in text
    assert "reason: step 1 (candidate 10%, stable 90%): gate error_rate <= 0.01: fail" in text


def test_plan_says_a_live_replace_is_not_stepped(deployed: dict[str, Any], provider: FakeProvider) -> None:
    from cloudserve.planner import make_plan

    spec = copy.deepcopy(deployed)
    spec["spec"]["versions"]["stable"]["model"]["uri"] = "s3://bucket/churn-v9"
    plan = make_plan(load_one(spec), provider)
    assert [a.key for a in plan.actions] == ["replace_version"]
    assert plan.rollout_mode == "none" and "stable keeps its traffic share and is replaced at once" in (
        plan.rollout_reason
    )


def test_lease_renewed_sparingly(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = HEALTHY
    cloud.calls.clear()
    run(promote_spec(deployed), provider, clock)  # 2 bakes of 10 min, lease 15 min
    lease_writes = cloud.calls.count("write_tags")
    assert lease_writes < 20  # not one per 30 s poll (that would be 40+)


class TestFakeRolloutConformance(RolloutConformance):
    """The shared rollout suite passes on the in-memory reference target."""

    @pytest.fixture
    def provider(self, provider: FakeProvider) -> FakeProvider:
        return provider

    @pytest.fixture
    def make_spec(self) -> Any:
        def make(name: str, versions: dict[str, str], traffic: dict[str, int], **spec: Any) -> Any:
            return load_one(
                {
                    "metadata": {"name": name},
                    "spec": {
                        "versions": {v: {"model": {"uri": f"s3://bucket/{k}"}} for v, k in versions.items()},
                        "traffic": traffic,
                        **spec,
                    },
                }
            )

        return make

    @pytest.fixture
    def feed_metrics(self, cloud: FakeCloud) -> FeedMetrics:
        def feed(name: str, version: str, requests: int, errors: int, latency_ms: float) -> None:
            cloud.metrics[(name, version)] = VersionMetrics(requests, errors, latency_ms, latency_ms)

        return feed


@pytest.mark.parametrize(
    "failure",
    [ProviderError("metrics: 400 the metric filter is invalid"), KeyError("latency_p95_ms")],
    ids=["provider-error", "bug"],
)
def test_an_unrecoverable_error_mid_rollout_puts_traffic_back_and_says_why(
    deployed: dict[str, Any],
    provider: FakeProvider,
    cloud: FakeCloud,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    """Issue 14 item 3: traffic split 10/90 and the gates cannot be read: the canary is not
    stranded "running"; traffic returns to stable and the record names the error."""

    def broken_metrics(*args: Any, **kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(provider, "metrics", broken_metrics)
    with pytest.raises(RolloutFailed) as info:
        run(promote_spec(deployed), provider, clock)
    assert "could not judge the gates" in str(info.value) and type(failure).__name__ in str(info.value)
    assert cloud.endpoints["churn"].traffic == {"stable": 100, "candidate": 0}
    record = RolloutRecord.from_tags(cloud.endpoints["churn"].tags)
    assert record is not None and record.state == "rolledback"
    assert "could not judge the gates" in record.reason
    monkeypatch.undo()
    with pytest.raises(RolloutFailed, match="was rolled back"):  # not retried blindly either
        run(promote_spec(deployed), provider, clock)


def test_a_gate_url_with_secrets_is_never_shown_or_recorded(
    deployed: dict[str, Any],
    provider: FakeProvider,
    cloud: FakeCloud,
    clock: Clock,
    check_server: tuple[str, list[int]],
) -> None:
    """A URL from a ${ENV} reference may carry credentials (the spec itself may not, see
    test_hostile_specs): progress lines, the error and the rollout record show it redacted."""
    url, codes = check_server
    host = url.split("://", 1)[1]
    secret_url = f"http://gateuser:pa55word-xyz@{host}?token=tok-xyz&step=1"
    spec = promote_spec(deployed)
    spec["spec"]["rollout"]["gates"] = [{"http": url}]
    deployment = load_one(spec)
    assert deployment.spec.rollout is not None
    deployment.spec.rollout.gates[0].http = secret_url  # as if read from ${GATE_URL}
    codes[0] = 503
    lines: list[str] = []
    with pytest.raises(RolloutFailed) as info:
        apply(deployment, provider, sleep=clock.sleep, clock=clock, poll_interval=30, progress=lines.append)
    shown = "\n".join([str(info.value), *lines, *cloud.endpoints["churn"].tags.values()])
    assert "HTTP 503" in shown and "***@" in shown and "token=***" in shown and "step=1" in shown
    assert "pa55word-xyz" not in shown and "tok-xyz" not in shown and "gateuser" not in shown
    assert AUTH_SEEN[-1] == "Basic " + base64.b64encode(b"gateuser:pa55word-xyz").decode()


def test_a_pause_by_request_is_not_an_error_and_each_poll_prints_once(
    deployed: dict[str, Any],
    provider: FakeProvider,
    cloud: FakeCloud,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18 item 4: someone pauses mid-bake: apply returns the paused rollout instead
    of raising RolloutFailed, traffic waits at the step, and the next apply says how to go on."""
    cloud.metrics[("churn", "candidate")] = HEALTHY
    cloud.metrics[("churn", "stable")] = HEALTHY
    spec = promote_spec(deployed)
    naps = 0
    real_sleep = clock.sleep

    def sleep_then_pause(seconds: float) -> None:
        nonlocal naps
        naps += 1
        if naps == 3:  # mid-bake at step 1
            control.request(load_one(spec), provider, "pause")
        real_sleep(seconds)

    monkeypatch.setattr(clock, "sleep", sleep_then_pause)
    lines: list[str] = []
    result = apply(
        load_one(spec), provider, sleep=clock.sleep, clock=clock, poll_interval=30, progress=lines.append
    )
    assert result.rollout.state == "paused" and result.rollout.failure is None
    assert cloud.endpoints["churn"].traffic == {"stable": 90, "candidate": 10}
    with pytest.raises(Conflict, match="paused at step 1") as info:
        run(spec, provider, clock)
    assert "rollout resume" in (info.value.hint or "")


def test_gate_verdicts_print_once_per_decision(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    """While data is missing one "waiting for data" line per poll; once decided, each gate's
    verdict once (it printed both before, so every poll showed twice). A bake shorter than
    the metrics window says which window the gates read."""
    cloud.metrics[("churn", "candidate")] = HEALTHY
    cloud.metrics[("churn", "stable")] = HEALTHY
    spec = promote_spec(deployed)
    spec["spec"]["rollout"]["bake"] = "10s"
    lines: list[str] = []
    result = apply(
        load_one(spec), provider, sleep=clock.sleep, clock=clock, poll_interval=30, progress=lines.append
    )
    assert result.rollout.state == "done"
    verdicts = [line for line in lines if "gate error_rate <= 0.01: pass" in line]
    assert len(verdicts) == 2  # steps 1 and 2, once each
    assert sum("metric gates read the last 60s" in line for line in lines) == 2


def test_each_poll_waiting_for_data_prints_one_line(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    cloud.metrics[("churn", "candidate")] = VersionMetrics(0, 0)
    cloud.metrics[("churn", "stable")] = HEALTHY
    lines: list[str] = []
    with pytest.raises(RolloutFailed, match="still inconclusive"):
        apply(
            load_one(promote_spec(deployed)),
            provider,
            sleep=clock.sleep,
            clock=clock,
            poll_interval=30,
            progress=lines.append,
        )
    polls = [line for line in lines if "inconclusive" in line and not line.startswith("rolled back")]
    assert polls and all(line.lstrip().startswith("waiting for data:") for line in polls)


def test_plan_after_a_rollback_speaks_in_words_not_tag_values(
    deployed: dict[str, Any], provider: FakeProvider, cloud: FakeCloud, clock: Clock
) -> None:
    """Issue 18 item 4: the rollout record's chunked tags (-steps, -from, -why, ...) were
    shown as an 'update settings' tag diff in base32; plan now ignores them and says why
    apply will stop at the rolled-back spec."""
    from cloudserve.output import render_plan
    from cloudserve.planner import make_plan

    cloud.metrics[("churn", "candidate")] = BROKEN
    cloud.metrics[("churn", "stable")] = HEALTHY
    with pytest.raises(RolloutFailed):
        run(promote_spec(deployed), provider, clock)
    assert any(k.startswith(T.ROLLOUT + "-why") for k in cloud.endpoints["churn"].tags)
    again = make_plan(load_one(promote_spec(deployed)), provider)
    assert [a.key for a in again.actions] == ["set_traffic"]
    text = render_plan(again)
    assert "was rolled back at step 1" in text and "error_rate" in text and T.ROLLOUT not in text
    assert again.to_dict()["rollout"]["blocked"]  # type: ignore[index]
    old = make_plan(load_one(deployed), provider)
    assert old.actions == [] and old.rollout_blocked == ""


def test_a_long_reason_is_clipped_visibly_within_the_tag_budget() -> None:
    import click

    from cloudserve.output import render_rollout_record
    from cloudserve.rollout.record import largest_record_tag_count

    reason = "gate error_rate <= 0.01: fail — " + "é" * 200  # multi-byte: the budget counts bytes
    record = RolloutRecord("rolledback", 0, (50, 100), "h" * 16, {"a": 100}, {"b": 100}, ("b",), reason)
    tags = record.to_tags()
    assert len(tags) <= largest_record_tag_count(("a", "b"))
    back = RolloutRecord.from_tags({k: v for k, v in tags.items() if v is not None})
    assert back is not None and back.reason.endswith("...") and reason.startswith(back.reason[:-3])
    assert len(back.reason.encode()) <= 150
    header = click.unstyle(render_rollout_record(back.to_dict())[0])
    assert header.startswith("  rollout rolled back at step 1 of 2")
