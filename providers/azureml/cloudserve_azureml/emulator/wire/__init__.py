"""Checks every ARM exchange of the Azure ML emulator against the SDKs' generated REST models.

For tests only (production code never imports it): pass a :class:`WireChecker` as
``AzureMLEmulator(wire_check=...)`` and each request body the emulator receives and each
body it answers is walked against the model of its operation. Unknown keys, wrong JSON
types, missing required fields, read-only fields in a request, unknown enum or
discriminator values, a status the operation does not answer, a body where there is none
(or none where there is one), an error body that is not the operation's error shape, and an
api-version with no generated models are all problems.

Models per api-version (``_sources.py``): Microsoft.MachineLearningServices from the
per-api-version packages azure-ai-ml generated (msrest ones walked by ``_msrest.py``,
TypeSpec ones by ``_tsp.py``), else azure-ai-ml's own ``arm_ml_service``;
Microsoft.Insights from azure-mgmt-monitor; ARM's operation status from ``_lro.py``.
The route table (``_routes.py``) says which operation, statuses and models each exchange is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cloudserve_azureml.emulator.wire import _msrest, _tsp
from cloudserve_azureml.emulator.wire._routes import ERROR_MODELS, Route, route_for, sdk_departure
from cloudserve_azureml.emulator.wire._sources import (
    Source,
    lro_source,
    mls_source,
    monitor_source,
    msrest_models,
)
from cloudserve_azureml.emulator.wire._tsp import Direction

__all__ = ["WireChecker", "WireMismatch", "check_exchange"]

_NO_BODY = object()


class WireMismatch(AssertionError):
    """An exchange that departs from the REST models."""


class WireChecker:
    """The emulator's ``wire_check`` hook: records each mismatching exchange and raises it.

    Raising fails the call that caused it; the record also catches a mismatch that the SDK
    swallowed (assert ``checker.problems == []`` after the test). ``models_dir`` is the
    ``azure/ai/ml/_restclient`` folder holding the per-api-version packages."""

    def __init__(self, models_dir: Path | None, *, raise_on_problem: bool = True) -> None:
        self.models_dir = models_dir
        self.raise_on_problem = raise_on_problem
        self.problems: list[str] = []
        self.accepted: list[str] = []  # SDK departures let through (wire/_routes.SDK_DEPARTURES)
        self.exchanges = 0
        self.sources: dict[str, str] = {}  # "<family> <api-version>" -> where its models came from

    def take(self) -> list[str]:
        """The problems recorded so far, forgetting them (for a test that sends bad bodies)."""
        taken, self.problems = self.problems, []
        return taken

    def __call__(self, method: str, url: str, request_body: Any, status: int, response_body: str) -> None:
        self.exchanges += 1
        problems = check_exchange(
            method,
            url,
            request_body,
            status,
            response_body,
            models_dir=self.models_dir,
            seen=self.sources,
            accepted=self.accepted,
        )
        if not problems:
            return
        parts = urlsplit(url)
        text = f"{method} {unquote(parts.path)}?{parts.query} -> {status}:\n  " + "\n  ".join(problems)
        self.problems.append(text)
        if self.raise_on_problem:
            raise WireMismatch(text)


def check_exchange(
    method: str,
    url: str,
    request_body: Any,
    status: int,
    response_body: str,
    *,
    models_dir: Path | None,
    seen: dict[str, str] | None = None,
    accepted: list[str] | None = None,
) -> list[str]:
    """Every way one ARM exchange departs from its operation's models (empty: none)."""
    parts = urlsplit(url)
    path = unquote(parts.path).rstrip("/")
    route = route_for(method.upper(), path)
    if route is None:
        return [f"no wire spec for {method} {path}: add its SDK operation to wire/_routes.py"]
    api_version = (parse_qs(parts.query).get("api-version") or [""])[0]
    if route.family == "monitor":
        source = monitor_source(api_version, route.operation.split(".")[0])
    else:
        source = mls_source(api_version, models_dir)
        if route.family == "lro" and not isinstance(source, str):
            source = lro_source()
    if isinstance(source, str):
        return [source]
    if seen is not None:
        seen.setdefault(f"{route.family} {api_version}", source.label)
    problems = []
    for problem in _request(route, source, request_body):
        evidence = sdk_departure(route.operation, problem)
        if evidence is None:
            problems.append(problem)
        elif accepted is not None:
            accepted.append(f"{problem} [{evidence}]")
    return problems + _response(route, source, status, response_body)


def _decode(raw: Any, what: str) -> tuple[Any, list[str]]:
    if raw is None or raw in (b"", ""):
        return _NO_BODY, []
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    try:
        return json.loads(text), []
    except ValueError as err:
        return _NO_BODY, [f"{what} is not JSON ({err})"]


def _models(route: Route, source: Source) -> tuple[str | None, dict[int, str | None]]:
    """The request model and the model per status, named as ``source`` names them."""
    if source.kind != "msrest" or route.family == "monitor":
        return route.request, route.responses
    request, response = msrest_models(source, route.operation)
    return (request if route.request else None), {
        status: (response if model else None) for status, model in route.responses.items()
    }


def _request(route: Route, source: Source, raw: Any) -> list[str]:
    body, problems = _decode(raw, "request body")
    model, _ = _models(route, source)
    if problems:
        return problems
    if route.request is None:
        return [] if body is _NO_BODY else [f"{route.operation} takes no request body, got {raw!r:.80}"]
    if body is _NO_BODY:
        return [] if route.body_optional else [f"{route.operation} needs a {route.request} body"]
    if model is None:
        return [f"{source.label} has no request model for {route.operation}"]
    return _walk(source, model, body, "request", "request")


def _response(route: Route, source: Source, status: int, raw: str) -> list[str]:
    body, problems = _decode(raw, "response body")
    if problems:
        return problems
    if status >= 400:
        return _error(route, source, body)
    _, responses = _models(route, source)
    if status not in responses:
        return [f"{route.operation} never answers {status} (it answers {sorted(responses)})"]
    model = responses[status]
    if route.responses[status] is None:
        return [] if body is _NO_BODY else [f"{route.operation} answers {status} without a body"]
    if body is _NO_BODY:
        return [f"{route.operation} answers {status} with a body; got none"]
    if model is None:
        return [f"{source.label} has no response model for {route.operation}"]
    if model.startswith("["):
        return _page(source, model[1:-1], body)
    return _walk(source, model, body, "response", "response")


def _page(source: Source, model: str, body: Any) -> list[str]:
    """An ARM list page: ``value`` (the items) and an optional ``nextLink``, nothing else."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        return [f"response: a page of {model} is an object with a 'value' array"]
    problems = [f"response.{k}: not a field of a page" for k in body if k not in ("value", "nextLink")]
    if body.get("nextLink") is not None and not isinstance(body["nextLink"], str):
        problems.append("response.nextLink: expected a string")
    for i, item in enumerate(body["value"]):
        problems += _walk(source, model, item, "response", f"response.value[{i}]")
    return problems


def _error(route: Route, source: Source, body: Any) -> list[str]:
    """The operation's error model, and ARM's rule that an error names a code and a message
    (ARM RPC, "Error response content": code and message are required)."""
    model = ERROR_MODELS.get(route.operation.split(".")[0]) or ERROR_MODELS[route.family]
    if body is _NO_BODY:
        return [f"an error reply needs a {model} body"]
    problems = _walk(source, model, body, "response", "error")
    flat = model == "ErrorResponseAutoGenerated4"
    detail = body if flat else (body.get("error") if isinstance(body, dict) else None)
    for key in ("code", "message"):
        if not isinstance(detail, dict) or not isinstance(detail.get(key), str) or not detail[key]:
            problems.append(f"error: the error's {key} must be a non-empty string")
    return problems


def _walk(source: Source, model: str, body: Any, direction: Direction, where: str) -> list[str]:
    if source.kind == "msrest":
        msrest_walker = _msrest.Walker(direction, source.models)
        msrest_walker.model(body, model, where)
        return msrest_walker.problems
    walker = _tsp.Walker(direction)
    walker.model(body, _tsp.model_class(source.models, model), where)
    return walker.problems
