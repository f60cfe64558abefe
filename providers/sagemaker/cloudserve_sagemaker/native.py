"""SageMaker's own deployment guardrails, for the one rollout they fit. Pure: no I/O here.

When a change swaps the model of ONE version that already serves traffic, SageMaker can
roll the new fleet out itself: UpdateEndpoint with a blue/green DeploymentConfig shifts that
variant's traffic to the new fleet by instances (CANARY: one step then the rest; LINEAR:
equal steps), waits ``WaitIntervalInSeconds`` between steps, and rolls back on its own when
a CloudWatch alarm named in AutoRollbackConfiguration goes into ALARM. Each metric gate
becomes one such alarm on the new fleet only (dimension EndpointConfigName, as the
guardrails documentation recommends). Anything that does not map exactly -- more than one
change, steps that are neither one canary nor equal, relative or HTTP gates, pausing on
failure, serverless -- is left to cloudserve's client-side controller.

Rules from the SageMaker API reference: WaitIntervalInSeconds 0-3600;
MaximumExecutionTimeoutInSeconds 600-28800 and larger than the total wait; CanarySize at
most 50% of the variant's instance count; LinearStepSize 10-50% of it; 1-10 alarms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudserve.errors import RolloutFailed
from cloudserve.provider import DesiredEndpoint, EndpointState, Status
from cloudserve.rollout.gates import gate_label
from cloudserve.rollout.record import RolloutRecord
from cloudserve.spec.models import Gate
from cloudserve_sagemaker.translate import INVOCATION_NAMESPACE

MAX_WAIT = 3600
TIMEOUT_MIN, TIMEOUT_MAX = 600, 28800
PROVISIONING_ALLOWANCE = 1800  # the new fleet must start before the first step
MAX_ALARMS = 10
# neutral metric -> (CloudWatch metric, statistic, scale to CloudWatch units); None: a count
# or rate over Invocations (errors are 5XX, client errors 4XX: cloudserve/spec/models.py)
_GATE_METRICS: dict[str, tuple[str, str, float] | None] = {
    "error_rate": None,
    "errors": None,
    "client_error_rate": None,
    "client_errors": None,
    "latency_p50_ms": ("ModelLatency", "p50", 1000.0),  # SageMaker reports microseconds
    "latency_p99_ms": ("ModelLatency", "p99", 1000.0),
}


@dataclass(frozen=True)
class NativeRollout:
    """A rollout SageMaker carries out: what ``replace_version`` sends, and why."""

    version: str
    routing: dict[str, Any]  # TrafficRoutingConfiguration
    timeout: int
    gates: tuple[Gate, ...]
    period: int  # alarm period in seconds: the gate window (or bake), in whole minutes
    instances: int

    def describe(self) -> str:
        routing = self.routing
        wait = f"{routing['WaitIntervalInSeconds']}s"
        if routing["Type"] == "CANARY":
            size = routing["CanarySize"]["Value"]
            how = f"canary of {size} of {self.instances} instances for {wait}, then the rest"
        else:
            size = routing["LinearStepSize"]["Value"]
            how = f"linear steps of {size} of {self.instances} instances, {wait} apart"
        text = f"SageMaker deployment guardrails: blue/green {how} for version {self.version}'s new model"
        if self.gates:
            labels = ", ".join(f"{g.metric} > {g.max:g}" for g in self.gates)
            floor = min(g.min_requests for g in self.gates)
            text += (
                f"; rolled back by SageMaker when a CloudWatch alarm on the new fleet fires ({labels}, "
                f"over {self.period}s; windows under {floor} requests do not fire)"
            )
        return text


def plan_native(desired: DesiredEndpoint, observed: EndpointState, actions: list[str]) -> NativeRollout | str:
    """The native rollout for this change, or the reason there is none."""
    rollout = desired.deployment.spec.rollout
    replaced = [
        v
        for v, want in desired.versions.items()
        if v in observed.versions and observed.versions[v].config_hash != want.config_hash
    ]
    if actions.count("replace_version") != 1 or len(replaced) != 1:
        return "guardrails roll out one version's new model; this change is not exactly that"
    extra = sorted(set(actions) - {"replace_version", "update_endpoint"})
    if extra:
        return f"guardrails cannot also {', '.join(extra)} in the same update"
    version = replaced[0]
    if observed.status is not Status.READY or observed.traffic.get(version, 0) <= 0:
        return f"version {version} serves no traffic to shift"
    if desired.deployment.spec.compute.serverless is not None or any(desired.mirror.values()):
        return "guardrails shift instances of a fleet; serverless and shadow variants are not covered"
    if rollout.on_failure != "rollback":
        return "SageMaker cannot pause a deployment for a person"
    gates = _gates(rollout.gates)
    if isinstance(gates, str):
        return gates
    instances = max(desired.versions[version].scaling.min, 1)
    routing = _routing(rollout.step_percents(), int(rollout.bake), instances)
    if isinstance(routing, str):
        return routing
    waits = routing["WaitIntervalInSeconds"] * _intermediate_steps(routing, instances)
    if waits + TIMEOUT_MIN > TIMEOUT_MAX:
        return f"the bake time adds up to {waits}s, beyond SageMaker's {TIMEOUT_MAX}s deployment limit"
    timeout = min(TIMEOUT_MAX, max(TIMEOUT_MIN, waits + PROVISIONING_ALLOWANCE))
    window = max((g.window or rollout.bake for g in gates), default=rollout.bake)
    period = max(60, math.ceil(window / 60.0) * 60)
    return NativeRollout(version, routing, timeout, gates, period, instances)


def _gates(gates: list[Gate]) -> tuple[Gate, ...] | str:
    if len(gates) > MAX_ALARMS:
        return f"{len(gates)} gates; AutoRollbackConfiguration takes at most {MAX_ALARMS} alarms"
    for gate in gates:
        if gate.http or gate.metric not in _GATE_METRICS:
            return f"gate {gate.http or gate.metric} has no CloudWatch alarm equivalent"
        if gate.min is not None or gate.max_over_stable is not None or gate.max is None:
            return f"gate on {gate.metric}: only absolute upper bounds map onto alarms"
    return tuple(gates)


def _routing(steps: list[int], bake: int, instances: int) -> dict[str, Any] | str:
    """Steps as shares of the version's traffic -> a TrafficRoutingConfiguration by instance
    count, exact or not at all (traffic follows instances within a blue/green fleet)."""
    if bake > MAX_WAIT:
        return f"bake {bake}s exceeds SageMaker's WaitIntervalInSeconds limit of {MAX_WAIT}s"
    first = steps[0]
    equal = len(steps) > 2 and all(s == first * (i + 1) for i, s in enumerate(steps[:-1]))
    equal = equal and 0 < 100 - steps[-2] <= first
    if len(steps) == 2:
        kind, limit = "CanarySize", (1, 50)
    elif equal:
        kind, limit = "LinearStepSize", (10, 50)
    else:
        shown = " -> ".join(f"{s}%" for s in steps)
        return f"steps {shown}: SageMaker shifts one canary then the rest, or equal linear steps"
    if not limit[0] <= first <= limit[1]:
        return f"a {first}% step: SageMaker allows {limit[0]}-{limit[1]}% of the variant's instances"
    count = instances * first / 100
    if count != int(count) or count < 1:
        return f"a {first}% step is not a whole number of the version's {instances} instance(s)"
    return {
        "Type": "CANARY" if kind == "CanarySize" else "LINEAR",
        "WaitIntervalInSeconds": bake,
        kind: {"Type": "INSTANCE_COUNT", "Value": int(count)},
    }


def _intermediate_steps(routing: Mapping[str, Any], instances: int) -> int:
    if routing["Type"] == "CANARY":
        return 1
    return max(1, math.ceil(instances / int(routing["LinearStepSize"]["Value"])) - 1)


def deployment_config(native: NativeRollout, alarms: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": native.routing,
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": native.timeout,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def alarm_prefix(endpoint: str) -> str:
    return f"cloudserve-{endpoint}-"


def alarm_name(endpoint: str, version: str, index: int, gate: Gate) -> str:
    return f"{alarm_prefix(endpoint)}{version}-gate{index + 1}-{gate.metric}"


def alarm_request(
    endpoint: str, native: NativeRollout, config_name: str, index: int, tags: Mapping[str, str]
) -> dict[str, Any]:
    """PutMetricAlarm for one gate, on the new fleet of the version (metric math)."""
    gate = native.gates[index]
    dims = [
        {"Name": "EndpointName", "Value": endpoint},
        {"Name": "VariantName", "Value": native.version},
        {"Name": "EndpointConfigName", "Value": config_name},
    ]

    def stat(query_id: str, metric: str, statistic: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": INVOCATION_NAMESPACE, "MetricName": metric, "Dimensions": dims},
                "Period": native.period,
                "Stat": statistic,
            },
            "ReturnData": False,
        }

    assert gate.metric is not None and gate.max is not None
    queries = [stat("inv", "Invocations", "Sum")]
    mapped = _GATE_METRICS[gate.metric]
    threshold = float(gate.max)
    if mapped is None:
        client = gate.metric.startswith("client_")
        if client:
            queries.append(stat("e", "Invocation4XXErrors", "Sum"))
        else:
            queries.append(stat("e", "Invocation5XXErrors", "Sum"))
        value = "e / inv" if gate.metric.endswith("_rate") else "e"
    else:
        metric, statistic, scale = mapped
        queries.append(stat("m", metric, statistic))
        value, threshold = "m", threshold * scale
    floor = max(gate.min_requests, 1)
    queries.append(
        {
            "Id": "gate",
            "Expression": f"IF(inv >= {floor}, {value}, 0)",
            "Label": f"{gate.metric} of {native.version}'s new fleet",
            "ReturnData": True,
        }
    )
    return {
        "AlarmName": alarm_name(endpoint, native.version, index, gate),
        "AlarmDescription": f"cloudserve rollout gate {gate.metric} <= {gate.max:g} for {endpoint}",
        "Metrics": queries,
        "EvaluationPeriods": 1,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }


# --- when SageMaker rolled the new fleet back -----------------------------------------------
def rollback_record(desired: DesiredEndpoint, previous: Mapping[str, int], reason: str) -> RolloutRecord:
    """The same record a client-side rollback leaves, so ``status`` explains it and the same
    spec is not rolled out again blindly."""
    rollout = desired.deployment.spec.rollout
    return RolloutRecord(
        state="rolledback",
        step=0,
        steps=tuple(rollout.step_percents()),
        spec_hash=desired.spec_hash,
        previous=dict(previous),
        target=dict(desired.traffic),
        reason=f"rolled back by SageMaker: {reason}",
    ).with_()


def rollback_error(
    desired: DesiredEndpoint,
    native: NativeRollout,
    previous: Mapping[str, int],
    alarms: list[str],
    reason: str,
) -> RolloutFailed:
    """RolloutFailed shaped like the controller's, naming the gate whose alarm fired."""
    fired = next((i for i, name in enumerate(alarms) if name in reason), None)
    gate: str | None = None
    failure: dict[str, Any] | None = None
    if fired is not None:
        gate = gate_label(native.gates[fired])
        failure = {
            "gate": gate,
            "verdict": "fail",
            "value": None,
            "threshold": native.gates[fired].max,
            "window_seconds": native.period,
            "requests": None,
            "detail": f"CloudWatch alarm {alarms[fired]} fired",
        }
    where = f"version {native.version}'s new model" + (f", gate {gate}" if gate else "")
    return RolloutFailed(
        f"rollout rolled back by SageMaker ({where}): {reason}",
        hint="fix the new version and change the spec, or run `cloudserve rollout abort` to clear the record",
        details={
            "rollout": {
                "state": "rolledback",
                "mode": "native",
                "previous": dict(previous),
                "target": dict(desired.traffic),
                "steps": [],
                "failure": failure,
                "failed_step": 1 if failure else None,
                "reason": reason,
            }
        },
    )
