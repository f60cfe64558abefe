"""Issue 13: Azure ML rules plan and the emulator both enforce, each on its own side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from cloudserve_azureml.provider import AzureMLProvider
from cloudserve_azureml.testing import AzureMLEmulator

from cloudserve.desired import build_desired
from cloudserve.testing.conformance import MakeSpec, apply_spec

ArmCall = Callable[..., requests.Response]  # the conftest's `arm` and `put_endpoint`


def _plan(provider: AzureMLProvider, spec: Any) -> str:
    return "\n".join(provider.validate(build_desired(spec, provider)))


def test_mirror_goes_to_one_deployment(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec, put_endpoint: ArmCall
) -> None:
    spec = make_spec(
        "churn", versions={"v1": "a", "s1": "b", "s2": "b"}, traffic={"v1": 100}, mirror={"s1": 10, "s2": 10}
    )
    text = _plan(provider, spec)
    assert "spec.mirror" in text and "single deployment" in text and "Safe rollout" in text
    apply_spec(
        provider,
        make_spec("churn", versions={"stable": "a", "candidate": "b", "other": "b"}, traffic={"stable": 100}),
    )
    reply = put_endpoint("churn", traffic={"stable": 100}, mirrorTraffic={"candidate": 10, "other": 10})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "BadArgument"
    assert "single deployment" in reply.json()["error"]["message"]


def test_emulator_endpoint_traffic_sums_to_0_or_100(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec, put_endpoint: ArmCall
) -> None:
    # Plan side: the portable spec already requires traffic to sum to 100.
    with pytest.raises(ValueError, match="must sum to 100"):
        make_spec("churn", versions={"a1": "a", "b1": "b"}, traffic={"a1": 50, "b1": 40})
    apply_spec(
        provider, make_spec("churn", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 100})
    )
    reply = put_endpoint("churn", traffic={"stable": 50, "candidate": 40})
    assert reply.status_code == 400 and "sum to 0 or 100" in reply.json()["error"]["message"]
    reply = put_endpoint("churn", traffic={"stable": 0, "candidate": 0})
    assert reply.status_code < 300


def test_names_take_single_dashes_only(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec, arm: ArmCall
) -> None:
    text = _plan(provider, make_spec("churn--x", versions={"v1": "a"}, traffic={"v1": 100}))
    assert "metadata.name" in text and "single dashes" in text
    reply = arm("PUT", "/onlineEndpoints/churn--x", {"location": "eastus", "properties": {"authMode": "Key"}})
    assert reply.status_code == 400
    assert (
        reply.json()["error"]["code"] == "BadArgument"
        and "single hyphens" in reply.json()["error"]["message"]
    )


def test_autoscale_cooldowns_between_pt1m_and_p1w(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec
) -> None:
    auto = {"metric": "requests_per_replica", "target": 100, "scale_out_cooldown": "30s"}
    bad = make_spec(
        "churn",
        versions={"stable": "a"},
        traffic={"stable": 100},
        compute={"replicas": {"min": 1, "max": 3}, "autoscale": auto},
    )
    text = _plan(provider, bad)
    assert "scale_out_cooldown" in text and "PT1M and P1W" in text and "ScaleAction.cooldown" in text
    good = {**auto, "scale_out_cooldown": "60s"}
    apply_spec(
        provider,
        make_spec(
            "churn",
            versions={"stable": "a"},
            traffic={"stable": 100},
            compute={"replicas": {"min": 1, "max": 3}, "autoscale": good},
        ),
    )
    (setting,) = azure.autoscale_settings()
    body = {k: setting[k] for k in ("location", "tags", "properties") if k in setting}
    body["properties"]["profiles"][0]["rules"][0]["scaleAction"]["cooldown"] = "PT30S"
    reply = requests.put(
        f"https://management.azure.com{setting['id']}?api-version=2022-10-01",
        json=body,
        headers={"Authorization": "Bearer t"},
        timeout=5,
    )
    assert reply.status_code == 400
    assert "between 1 week and 1 minute" in reply.json()["error"]["message"]


def test_tag_budget_is_50(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec, arm: ArmCall
) -> None:
    spec = make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100})
    labels = {f"k{i}": "v" for i in range(45)}
    spec = spec.model_copy(update={"metadata": spec.metadata.model_copy(update={"labels": labels})})
    assert "Azure allows 50" in _plan(provider, spec)
    tags = {f"k{i}": "v" for i in range(51)}
    body = {"location": "eastus", "tags": tags, "properties": {"authMode": "Key"}}
    reply = arm("PUT", "/onlineEndpoints/churn", body)
    assert reply.status_code == 400


# What azure-identity 1.2x raises when no credential is set up (captured from a run here).
_NO_CREDENTIAL = """DefaultAzureCredential failed to retrieve a token from the included credentials.
Attempted credentials:
\tEnvironmentCredential: EnvironmentCredential authentication unavailable. Environment variables are not set.
Visit https://aka.ms/azsdk/python/identity/environmentcredential/troubleshoot to troubleshoot this issue.
\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable.
\tAzureCliCredential: Azure CLI not found on path
\tBrokerCredential: InteractiveBrowserBrokerCredential unavailable.
To mitigate this issue, please refer to the troubleshooting guidelines here at https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."""


def test_a_missing_credential_is_one_line_naming_the_chain() -> None:
    """Issue 18 item 7: 27 lines of SDK text (logged once, then raised again) became one
    line with the chain tried and how to fix it; the SDK's own warning is silenced."""
    import logging

    from azure.core.exceptions import ClientAuthenticationError
    from cloudserve_azureml.client import default_credential
    from cloudserve_azureml.errors import translate

    from cloudserve.errors import AuthError

    error = translate(ClientAuthenticationError(_NO_CREDENTIAL), "read endpoint churn")
    assert isinstance(error, AuthError) and "\n" not in error.message
    assert error.message == (
        "read endpoint churn: no Azure credential is set up here "
        "(DefaultAzureCredential tried: Environment, ManagedIdentity, AzureCli, Broker)"
    )
    assert error.hint is not None and "az login" in error.hint and "AZURE_CLIENT_ID" in error.hint
    other = translate(ClientAuthenticationError("token expired\nmore detail"), "x")
    assert other.message == "x: token expired"
    default_credential()  # builds the chain; no token is asked for
    assert logging.getLogger("azure.identity").level == logging.ERROR


def test_metric_reads_filter_only_by_each_metrics_own_dimensions(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec
) -> None:
    """Azure Monitor validates $filter dimensions against every metric in the call; the
    latency metrics have only `deployment`, so the gate's read is split in two."""
    apply_spec(provider, make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100}))
    azure.record_requests("churn", "stable", 20, status=503, latency_ms=700)
    azure.record_requests("churn", "stable", 80, status=200, latency_ms=30)
    got = provider.metrics("churn", ["stable"], 300)["stable"]
    assert (got.requests, got.errors, got.latency_p99_ms) == (100, 20, 700)

    endpoint = f"{azure.state.workspace_path}/onlineEndpoints/churn"

    def read(names: str, filter_: str, **extra: str) -> requests.Response:
        return requests.get(
            f"https://management.azure.com{endpoint}/providers/Microsoft.Insights/metrics",
            params={"api-version": "2024-02-01", "metricnames": names, "$filter": filter_, **extra},
            headers={"Authorization": "Bearer t"},
            timeout=5,
        )

    combined = read("RequestsPerMinute,RequestLatency_P99", "deployment eq '*' and statusCodeClass eq '*'")
    assert combined.status_code == 400, combined.text
    assert "RequestLatency_P99 does not support requested dimension combination" in combined.text
    assert read("RequestsPerMinute", "deployment eq '*' and statusCodeClass eq '*'").status_code == 200
    lenient = read(
        "RequestLatency_P99", "deployment eq '*' and statusCodeClass eq '*'", validatedimensions="false"
    )
    assert lenient.status_code == 200
