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


def test_the_emulator_rules_share_nothing_with_the_adapter() -> None:
    """Issue 13 item 2: the emulator's rules import no table or check of the adapter's."""
    import ast
    import inspect

    from cloudserve_vertex import _emulator_rules

    tree = ast.parse(inspect.getsource(_emulator_rules))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "re", "unicodedata", "collections.abc"}, imported


@pytest.mark.parametrize(
    ("labels", "ok"),
    [
        ({"équipe": "données", "チーム": "成長", "हिंदी": "x"}, True),  # international characters
        ({"team": ""}, True),  # values may be empty
        ({"k" * 63: "v" * 63}, True),
        ({"k" * 64: "v"}, False),
        ({"team": "v" * 64}, False),
        ({"Équipe": "x"}, False),  # upper case, international or not
        ({"1team": "x"}, False),  # a key starts with a letter
        ({"_team": "x"}, False),
        ({"team": "a.b"}, False),
        ({"": "x"}, False),
        ({f"k{i}": "v" for i in range(64)}, True),
        ({f"k{i}": "v" for i in range(65)}, False),
    ],
)
def test_label_rules_from_the_label_requirements(labels: dict[str, str], ok: bool) -> None:
    from cloudserve_vertex._emulator_rules import RuleError, check_labels

    if ok:
        check_labels(labels, "endpoint")
    else:
        with pytest.raises(RuleError):
            check_labels(labels, "endpoint")


@pytest.mark.parametrize(
    ("machine", "accelerator", "count", "ok"),
    [
        ("n1-standard-4", None, 0, True),
        ("n1-standard-4", "NVIDIA_TESLA_T4", 2, True),
        ("n1-standard-4", "NVIDIA_TESLA_T4", 3, False),
        ("n1-standard-8", "NVIDIA_TESLA_V100", 8, True),
        ("n1-highcpu-2", None, 0, False),  # the N1 high-CPU table starts at 4 vCPUs
        ("e2-standard-4", "NVIDIA_TESLA_T4", 1, False),  # GPUs attach to N1 only
        ("g2-standard-4", "NVIDIA_L4", 1, True),
        ("g2-standard-24", "NVIDIA_L4", 2, True),
        ("g2-standard-4", "NVIDIA_L4", 2, False),
        ("a2-highgpu-1g", "NVIDIA_L4", 1, False),
        ("x9-giant-128", None, 0, False),
    ],
)
def test_machine_rules_from_the_compute_pages(
    machine: str, accelerator: str | None, count: int, ok: bool
) -> None:
    from cloudserve_vertex._emulator_rules import RuleError, check_machine

    if ok:
        check_machine(machine, accelerator, count)
    else:
        with pytest.raises(RuleError):
            check_machine(machine, accelerator, count)


def test_autoscaling_metrics_from_the_discovery_document() -> None:
    from cloudserve_vertex._emulator_rules import RuleError, check_dedicated_resources

    def resources(*metrics: tuple[str, int]) -> object:
        return v1().DedicatedResources(
            machine_spec=v1().MachineSpec(machine_type="n1-standard-2"),
            min_replica_count=1,
            max_replica_count=2,
            autoscaling_metric_specs=[
                v1().AutoscalingMetricSpec(metric_name=m, target=t) for m, t in metrics
            ],
        )

    check_dedicated_resources(resources(("pubsub.googleapis.com/subscription/num_undelivered_messages", 10)))
    cpu = "aiplatform.googleapis.com/prediction/online/cpu/utilization"
    for bad, message in (
        (resources((cpu, 60), (cpu, 70)), "more than one entry"),
        (
            resources(
                (cpu, 120),
            ),
            "between 1 and 100",
        ),
        (
            resources(
                ("aiplatform.googleapis.com/prediction/online/memory", 60),
            ),
            "Unsupported",
        ),
    ):
        with pytest.raises(RuleError, match=message):
            check_dedicated_resources(bad)


def test_an_international_label_reaches_vertex(provider: VertexProvider) -> None:
    """Vertex AI allows international characters in labels: the emulator takes them."""
    client: VertexClient = provider.client
    endpoint = client.create_endpoint(v1().Endpoint(display_name="e"), "intl").result()
    patched = client.update_endpoint(
        v1().Endpoint(name=endpoint.name, labels={"équipe": "données"}), ["labels"]
    )
    assert dict(patched.labels) == {"équipe": "données"}
