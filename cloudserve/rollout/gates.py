"""Metric gates: does the new version's behaviour over a window allow the next step?

A gate passes, fails, or is inconclusive (too few requests to judge): an inconclusive gate
is never treated as a pass.
"""

from __future__ import annotations

import base64
import enum
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cloudserve.provider import VersionMetrics
from cloudserve.spec.models import Gate
from cloudserve.spec.secrets import redact_url


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class GateResult:
    gate: str  # e.g. "error_rate <= 0.01"
    verdict: Verdict
    value: float | None = None
    threshold: float | None = None
    window_seconds: float | None = None
    requests: float | None = None
    detail: str = ""

    def describe(self) -> str:
        text = f"gate {self.gate}: {self.verdict.value}"
        if self.value is not None:
            text += f", saw {self.value:.4g}"
        if self.threshold is not None:
            text += f" (threshold {self.threshold:.4g})"
        if self.window_seconds is not None:
            text += f" over {self.window_seconds:g}s"
        if self.requests is not None:
            text += f", {self.requests:g} requests"
        if self.detail:
            text += f"; {self.detail}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "verdict": self.verdict.value,
            "value": self.value,
            "threshold": self.threshold,
            "window_seconds": self.window_seconds,
            "requests": self.requests,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class GateContext:
    """What a custom (Python) gate sees."""

    deployment: str
    step: int
    traffic: Mapping[str, int]
    new: Mapping[str, VersionMetrics]
    stable: VersionMetrics
    window_seconds: float


CallableGate = Callable[[GateContext], "bool | GateResult"]


def combine(metrics: list[VersionMetrics]) -> VersionMetrics:
    """Several versions as one: counts add up; latency takes the worst (a safe bound)."""
    p50 = [m.latency_p50_ms for m in metrics if m.latency_p50_ms is not None]
    p99 = [m.latency_p99_ms for m in metrics if m.latency_p99_ms is not None]
    return VersionMetrics(
        requests=sum(m.requests for m in metrics),
        errors=sum(m.errors for m in metrics),
        client_errors=sum(m.client_errors for m in metrics),
        latency_p50_ms=max(p50) if p50 else None,
        latency_p99_ms=max(p99) if p99 else None,
    )


def gate_label(gate: Gate) -> str:
    if gate.http:
        return f"http {gate.http}"
    parts = []
    if gate.max is not None:
        parts.append(f"{gate.metric} <= {gate.max:g}")
    if gate.min is not None:
        parts.append(f"{gate.metric} >= {gate.min:g}")
    if gate.max_over_stable is not None:
        parts.append(f"{gate.metric} <= stable + {gate.max_over_stable:g}")
    return " and ".join(parts)


def evaluate_metric_gate(
    gate: Gate, new: VersionMetrics, stable: VersionMetrics, window: float
) -> GateResult:
    label = gate_label(gate)
    if new.requests < gate.min_requests:
        return GateResult(
            label,
            Verdict.INCONCLUSIVE,
            window_seconds=window,
            requests=new.requests,
            detail=f"fewer than {gate.min_requests} requests reached the new version",
        )
    assert gate.metric is not None
    value = new.value(gate.metric)
    if value is None:
        return GateResult(
            label,
            Verdict.INCONCLUSIVE,
            window_seconds=window,
            requests=new.requests,
            detail=f"no {gate.metric} reported",
        )
    checks: list[tuple[bool, float]] = []
    if gate.max is not None:
        checks.append((value <= gate.max, gate.max))
    if gate.min is not None:
        checks.append((value >= gate.min, gate.min))
    if gate.max_over_stable is not None:
        base = stable.value(gate.metric)
        if base is None:
            return GateResult(
                label,
                Verdict.INCONCLUSIVE,
                value,
                window_seconds=window,
                requests=new.requests,
                detail="the stable version has no data to compare with",
            )
        checks.append((value <= base + gate.max_over_stable, base + gate.max_over_stable))
    for ok, threshold in checks:
        if not ok:
            return GateResult(label, Verdict.FAIL, value, threshold, window, new.requests)
    return GateResult(label, Verdict.PASS, value, checks[0][1] if checks else None, window, new.requests)


def evaluate_http_gate(url: str, timeout: float = 10.0) -> GateResult:
    label = f"http {redact_url(url)}"  # the label reaches progress lines, errors and tags
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return GateResult(label, Verdict.FAIL, detail=f"request failed: {exc}".replace(url, redact_url(url)))
    verdict = Verdict.PASS if 200 <= code < 300 else Verdict.FAIL
    return GateResult(label, verdict, float(code), detail=f"HTTP {code}")


def _request(url: str) -> urllib.request.Request:
    """urllib does not take user:password@ in a URL: send it as HTTP basic auth instead."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return urllib.request.Request(url)
    userinfo, host = parts.netloc.rsplit("@", 1)
    plain = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(
        f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
    ).decode()
    return urllib.request.Request(plain, headers={"Authorization": f"Basic {token}"})


def evaluate_callable(gate: CallableGate, context: GateContext) -> GateResult:
    name = getattr(gate, "__name__", type(gate).__name__)
    try:
        outcome = gate(context)
    except Exception as exc:
        return GateResult(f"python {name}", Verdict.FAIL, detail=f"raised {type(exc).__name__}: {exc}")
    if isinstance(outcome, GateResult):
        return outcome
    return GateResult(f"python {name}", Verdict.PASS if outcome else Verdict.FAIL)
