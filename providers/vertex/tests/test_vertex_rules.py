"""Issue 13: Vertex AI rules plan and the emulator both enforce, each on its own side."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cloudserve_vertex.client import VertexClient, v1
from cloudserve_vertex.provider import VertexProvider

from cloudserve import errors
from cloudserve.desired import build_desired
from cloudserve.spec.models import Deployment
from cloudserve.testing.conformance import wait

NETWORK = "projects/123456789012/global/networks/default"


def test_private_endpoint_serves_one_model(
    provider: VertexProvider, make_spec: Callable[..., Deployment]
) -> None:
    spec = make_spec("churn", {"stable": "a", "candidate": "b"}, {"stable": 90, "candidate": 10})
    private = spec.model_copy(
        update={
            "targets": spec.targets.model_copy(
                update={"vertex": spec.targets.vertex.model_copy(update={"network": NETWORK})}
            )
        }
    )
    problems = provider.validate(build_desired(private, provider))
    assert any("targets.vertex.network" in p and "Use private endpoints" in p for p in problems), problems
    # the emulator: a second DeployedModel on a private endpoint is refused
    wait(provider.create_endpoint(build_desired(spec, provider)))
    client: VertexClient = provider.client
    public = client.get_endpoint(client.endpoint_name("churn"))
    endpoint = client.create_endpoint(
        v1().Endpoint(display_name="private", network=NETWORK), "private"
    ).result()
    first = v1().DeployedModel(public.deployed_models[0])
    first.id = ""
    client.deploy_model(endpoint.name, first, {"0": 100}).result()
    second = v1().DeployedModel(public.deployed_models[1])
    second.id = ""
    with pytest.raises(errors.ProviderError, match="only one DeployedModel"):
        client.deploy_model(endpoint.name, second, None)
