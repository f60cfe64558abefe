"""Issue 13 item 3: every ARM body the emulator receives and returns is read against the
REST models of its api-version, and the check fails when a body departs from them."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cloudserve_azureml.emulator.wire import WireChecker, WireMismatch, check_exchange
from cloudserve_azureml.emulator.wire._routes import ROUTES, Route
from cloudserve_azureml.provider import AzureMLProvider
from cloudserve_azureml.testing import AzureMLEmulator

from cloudserve.testing.conformance import MakeSpec, apply_spec

ArmCall = Callable[..., requests.Response]  # the conftest's `arm`
ARM = "https://management.azure.com"


def _endpoint(**props: object) -> dict[str, object]:
    return {"location": "eastus", "properties": {"authMode": "Key", **props}}


def test_an_unknown_request_field_fails(arm: ArmCall, wire_check: WireChecker) -> None:
    with pytest.raises(
        WireMismatch, match=r"request\.properties\.trafic: not a field of OnlineEndpointProperties"
    ):
        arm("PUT", "/onlineEndpoints/churn", _endpoint(trafic={}))
    assert len(wire_check.take()) == 1


def test_a_wrong_type_fails(arm: ArmCall, wire_check: WireChecker) -> None:
    with pytest.raises(WireMismatch, match=r"request\.properties\.traffic\.stable: expected int, got string"):
        arm("PUT", "/onlineEndpoints/churn", _endpoint(traffic={"stable": "100"}))
    with pytest.raises(WireMismatch, match=r"request\.location: expected str, got number"):
        arm("PUT", "/onlineEndpoints/other", {"location": 1, "properties": {"authMode": "Key"}})
    assert len(wire_check.take()) == 2


def test_a_missing_required_field_and_a_read_only_one_fail(arm: ArmCall, wire_check: WireChecker) -> None:
    with pytest.raises(WireMismatch, match=r"request\.properties\.authMode: required"):
        arm("PUT", "/onlineEndpoints/churn", {"location": "eastus", "properties": {}})
    with pytest.raises(WireMismatch, match=r"request\.properties\.scoringUri: read-only"):
        arm("PUT", "/onlineEndpoints/churn", _endpoint(scoringUri="https://x"))
    wire_check.take()


def test_a_bad_enum_or_discriminator_in_a_response_fails(
    provider: AzureMLProvider,
    azure: AzureMLEmulator,
    make_spec: MakeSpec,
    arm: ArmCall,
    wire_check: WireChecker,
) -> None:
    apply_spec(provider, make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100}))
    deployment = azure.deployment("churn", "stable")
    assert deployment is not None
    deployment["properties"]["provisioningState"] = "Done"
    with pytest.raises(WireMismatch, match=r"'Done' is not a known DeploymentProvisioningState value"):
        arm("GET", "/onlineEndpoints/churn/deployments/stable")
    deployment["properties"]["provisioningState"] = "Succeeded"
    deployment["properties"]["endpointComputeType"] = "Serverless"
    with pytest.raises(WireMismatch, match=r"endpointComputeType: 'Serverless' is not a \w+ subtype"):
        arm("GET", "/onlineEndpoints/churn/deployments/stable")
    deployment["properties"]["endpointComputeType"] = "Managed"
    assert len(wire_check.take()) == 2


def test_an_error_reply_needs_arms_shape(
    azure: AzureMLEmulator, arm: ArmCall, wire_check: WireChecker
) -> None:
    azure.inject_fault(500, path="/onlineEndpoints/", message="")
    with pytest.raises(WireMismatch, match="the error's message must be a non-empty string"):
        arm("GET", "/onlineEndpoints/churn")
    url = f"{ARM}{azure.state.workspace_path}/onlineEndpoints/churn?api-version=2023-04-01-preview"
    flat = check_exchange("GET", url, None, 404, '{"code": "NotFound", "message": "no"}', models_dir=None)
    assert any("error.code: not a field of ErrorResponse" in p for p in flat)
    wire_check.take()


def test_an_api_version_no_sdk_sends_fails(arm: ArmCall, wire_check: WireChecker) -> None:
    with pytest.raises(WireMismatch, match="api-version '2024-04-01': no generated models"):
        arm("PUT", "/onlineEndpoints/churn", _endpoint(), api_version="2024-04-01")
    wire_check.take()


def test_monitor_bodies_are_read_against_azure_mgmt_monitor(azure: AzureMLEmulator) -> None:
    group = f"{ARM}/subscriptions/s/resourceGroups/g"
    url = f"{group}/providers/Microsoft.Insights/autoscalesettings/a?api-version=2022-10-01"
    body = '{"location": "eastus", "id": "x", "properties": {"profiles": [], "enabeld": true}}'
    problems = check_exchange(
        "PUT", url, body, 400, '{"error": {"code": "C", "message": "m"}}', models_dir=None
    )
    assert "request.id: read-only in AutoscaleSettingResource; a client must not send it" in problems
    assert any(
        p.startswith("request.properties.enabeld: not a field of AutoscaleSettingResource") for p in problems
    )
    metrics = f"{ARM}/subscriptions/s/providers/Microsoft.Insights/metrics?api-version=2024-02-01"
    metric = {"id": "i", "type": "t", "name": {"value": "n"}, "unit": "Parsecs", "timeseries": []}
    reply = json.dumps({"timespan": "t", "value": [metric]})
    (problem,) = check_exchange("GET", metrics, None, 200, reply, models_dir=None)
    assert problem.startswith("response.value[0].unit: 'Parsecs' is not a known MetricUnit value")


def test_an_exchange_without_a_route_fails() -> None:
    problems = check_exchange(
        "GET", f"{ARM}/subscriptions/s/providers/Microsoft.Foo/bars", None, 200, "", models_dir=None
    )
    assert problems and "no wire spec" in problems[0]


def test_older_api_versions_do_not_see_newer_fields(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec, arm: ArmCall
) -> None:
    """azure-ai-ml lists an endpoint's deployments at 2022-02-01-preview, which predates the
    deployment's dataCollector (REST 2023-04-01-preview)."""
    spec = make_spec(
        "churn", versions={"stable": "a"}, traffic={"stable": 100}, capture={"sample_percent": 10}
    )
    apply_spec(provider, spec)
    old = arm("GET", "/onlineEndpoints/churn/deployments", api_version="2022-02-01-preview").json()
    new = arm("GET", "/onlineEndpoints/churn/deployments").json()
    assert "dataCollector" not in old["value"][0]["properties"]
    assert (
        new["value"][0]["properties"]["dataCollector"]["collections"]["request"]["dataCollectionMode"]
        == "Enabled"
    )


def _operations(route: Route) -> type:
    if route.family == "monitor":
        from azure.mgmt.monitor import operations as monitor_ops

        return getattr(monitor_ops, route.operation.split(".")[0])  # type: ignore[no-any-return]
    from azure.ai.ml._restclient.arm_ml_service.operations import _operations as mls_ops

    return getattr(mls_ops, route.operation.split(".")[0])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.family != "lro"], ids=lambda r: f"{r.method} {r.operation}"
)
def test_the_route_table_matches_the_sdk(route: Route) -> None:
    """Each route answers exactly the statuses its SDK operation accepts and names models
    that operation (de)serialises, so the table cannot drift from the installed SDK."""
    ops = _operations(route)
    method = getattr(ops, route.operation.split(".")[1])
    statuses = re.findall(r"status_code not in \[([^\]]*)\]", inspect.getsource(method))
    assert statuses, route.operation
    assert sorted(int(s) for s in statuses[0].split(",")) == sorted(route.responses), route.operation
    group = inspect.getsource(ops)
    for model in {route.request, *route.responses.values()} - {None}:
        name = str(model).strip("[]")
        assert re.search(rf"\b_?models\.{name}\b|['\"]{name}['\"]", group), (route.operation, name)


def test_the_check_runs_on_every_emulator(
    azure: AzureMLEmulator, wire_check: WireChecker, arm: ArmCall
) -> None:
    before = wire_check.exchanges
    arm("GET", "")
    assert wire_check.exchanges == before + 1
    assert wire_check.models_dir is not None and Path(wire_check.models_dir).is_dir()
