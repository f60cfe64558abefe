"""The emulator enforces Vertex AI's rules and injects faults; the adapter maps each
fault to its neutral error. Bodies are built from (and parsed by) the SDK's v1 types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from cloudserve_vertex.client import VertexClient, v1
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.testing import VertexEmulator

from cloudserve import errors
from cloudserve.desired import build_desired
from cloudserve.spec.models import Deployment
from cloudserve.testing.conformance import wait

from .conftest import NUMBER, PROJECT
from .wire_check import WireChecker

MakeSpec = Callable[..., Deployment]


@pytest.fixture
def client(provider: VertexProvider) -> VertexClient:
    return provider.client


@pytest.fixture
def deployed(provider: VertexProvider, make_spec: MakeSpec) -> Deployment:
    spec = make_spec("churn", {"stable": "a", "candidate": "b"}, {"stable": 90, "candidate": 10})
    wait(provider.create_endpoint(build_desired(spec, provider)))
    return spec


def _endpoint(client: VertexClient) -> Any:
    return client.get_endpoint(client.endpoint_name("churn"))


def test_resource_names_carry_the_project_number(deployed: Deployment, client: VertexClient) -> None:
    assert _endpoint(client).name == f"projects/{NUMBER}/locations/us-central1/endpoints/churn"
    by_number = client.get_endpoint(f"projects/{NUMBER}/locations/us-central1/endpoints/churn")
    assert by_number.display_name == "churn"


def test_unknown_project_is_refused(emulator: VertexEmulator, client: VertexClient) -> None:
    with pytest.raises(errors.AuthError):
        client.get_endpoint("projects/other-project/locations/us-central1/endpoints/x")
    with pytest.raises(errors.ProviderError, match="neither a project id"):
        client.get_endpoint("projects/Bad_Project/locations/us-central1/endpoints/x")


def test_unknown_fields_in_a_body_are_rejected(emulator: VertexEmulator, wire_check: WireChecker) -> None:
    url = f"{emulator.url}/v1/projects/{PROJECT}/locations/us-central1/endpoints"
    reply = requests.post(url, json={"displayName": "x", "trafficSplitt": {}}, timeout=10)
    assert reply.status_code == 400
    assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    # the discovery-document reader saw the same field, independently of the emulator
    assert ["trafficSplitt" in found for found in wire_check.take()] == [True]
    with pytest.raises(ValueError):
        v1().Endpoint(display_nam="x")  # the SDK's own types refuse a misspelt field


def test_traffic_split_must_sum_to_100_and_name_deployed_models(
    deployed: Deployment, client: VertexClient
) -> None:
    endpoint = _endpoint(client)
    ids = [d.id for d in endpoint.deployed_models]
    for split, message in (({ids[0]: 50}, "add up to 100"), ({"99": 100}, "not deployed")):
        body = v1().Endpoint(name=endpoint.name, traffic_split=split)
        with pytest.raises(errors.ProviderError, match=message):
            client.update_endpoint(body, ["traffic_split"])
    assert dict(_endpoint(client).traffic_split) == dict(endpoint.traffic_split)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"Team": "x"}, "label key"),
        ({"team": "Growth"}, "values use only"),
        ({f"k{i}": "v" for i in range(65)}, "at most 64"),
    ],
)
def test_label_rules(
    deployed: Deployment, client: VertexClient, labels: dict[str, str], message: str
) -> None:
    body = v1().Endpoint(name=_endpoint(client).name, labels=labels)
    with pytest.raises(errors.ProviderError, match=message):
        client.update_endpoint(body, ["labels"])


def test_display_name_length_and_endpoint_id(emulator: VertexEmulator, client: VertexClient) -> None:
    with pytest.raises(errors.ProviderError, match="128"):
        client.create_endpoint(v1().Endpoint(display_name="x" * 129), "fine")
    with pytest.raises(errors.ProviderError, match="endpoint_id"):
        client.create_endpoint(v1().Endpoint(display_name="x"), "ends-with-")
    op = client.create_endpoint(v1().Endpoint(display_name="x"), "123456789")
    assert op.result().name.endswith("/endpoints/123456789")


def test_deployed_model_id_format(deployed: Deployment, client: VertexClient) -> None:
    endpoint = _endpoint(client)
    assert all(d.id.isdigit() and len(d.id) <= 10 for d in endpoint.deployed_models)
    deployed_model = v1().DeployedModel(endpoint.deployed_models[0])
    deployed_model.id = "abc"
    with pytest.raises(errors.ProviderError, match="1-10 characters"):
        client.deploy_model(endpoint.name, deployed_model, None)


def test_undeploy_refuses_a_model_with_traffic_and_delete_refuses_deployed(
    deployed: Deployment, client: VertexClient
) -> None:
    endpoint = _endpoint(client)
    busy = max(endpoint.traffic_split, key=lambda k: endpoint.traffic_split[k])
    with pytest.raises(errors.Conflict, match="still receives traffic"):
        client.undeploy_model(endpoint.name, busy, None)
    model = next(d.model for d in endpoint.deployed_models if d.id == busy)
    with pytest.raises(errors.Conflict, match="deployed"):
        client.delete_model(model)
    with pytest.raises(errors.Conflict, match="undeploy"):
        client.delete_endpoint(endpoint.name)


def test_throttled_with_retry_after(
    deployed: Deployment, provider: VertexProvider, emulator: VertexEmulator
) -> None:
    emulator.inject_fault("GET /v1/", status=429, retry_after_s=2)
    with pytest.raises(errors.Throttled) as info:
        provider.observe("churn")
    assert info.value.retry_after == 2.0
    assert info.value.request_id
    assert info.value.__cause__ is not None
    assert provider.observe("churn") is not None  # the fault was one-shot


def test_quota_and_unavailable(
    deployed: Deployment, provider: VertexProvider, emulator: VertexEmulator
) -> None:
    emulator.inject_fault(
        "PATCH", status=429, message="Quota exceeded for quota metric custom_model_serving_cpus."
    )
    with pytest.raises(errors.QuotaExceeded):
        provider.set_traffic("churn", {"stable": 100}, {})
    emulator.inject_fault("PATCH", status=503)
    with pytest.raises(errors.Unavailable):
        provider.set_traffic("churn", {"stable": 100}, {})


def test_failed_deploy_reaches_the_user(
    provider: VertexProvider, make_spec: MakeSpec, emulator: VertexEmulator
) -> None:
    emulator.fail_next_deploy("Model server never became ready: boom")
    spec = make_spec("churn", {"stable": "a"}, {"stable": 100})
    with pytest.raises(errors.DeploymentFailed, match="never became ready: boom"):
        wait(provider.create_endpoint(build_desired(spec, provider)))


def test_operations_that_need_polling(
    emulator: VertexEmulator, provider: VertexProvider, make_spec: MakeSpec
) -> None:
    emulator.state.operation_polls = 2
    spec = make_spec("churn", {"stable": "a"}, {"stable": 100})
    op = provider.create_endpoint(build_desired(spec, provider))
    polls = 1
    while not op.poll():
        polls += 1
    assert polls > 3  # upload, create and deploy each needed polling
    assert any(path.startswith("/ui/") and "/operations/" in path for _, path in emulator.requests)
    assert provider.observe("churn") is not None


@pytest.mark.parametrize("call", ["deployModel", "models:upload"])
def test_a_throttled_step_is_retried_not_skipped(
    emulator: VertexEmulator, provider: VertexProvider, make_spec: MakeSpec, call: str
) -> None:
    """Issue 15: the core retries an operation's poll after Throttled; the step chain had
    already dropped the step that raised, so a 429 on deployModel skipped the deploy (and
    one on upload ended in a KeyError). Each step now leaves the chain only once it ran."""
    from cloudserve.testing.conformance import apply_spec

    emulator.inject_fault(call, status=429)
    spec = make_spec("churn", {"stable": "a"}, {"stable": 100})
    apply_spec(provider, spec)
    state = provider.observe("churn")
    assert state is not None and set(state.versions) == {"stable"}
    assert state.traffic == {"stable": 100}
    assert emulator.faults == [] or all(f.times == 0 for f in emulator.faults)  # the fault fired
