"""Issue 13 item 2: every Vertex AI rule plan checks or the emulator enforces, each on its own side.

``RULES`` mirrors the README's table "Cloud rules plan and the emulator both enforce", row by
row (``test_the_readme_table_and_the_cases_name_the_same_rules`` keeps them together). Each
case shows plan refusing the spec, naming the field, before any API call, and the emulator
answering the equivalent raw request, sent through the real SDK (aiplatform_v1 over REST), with
the google.rpc error Vertex AI would send. A side marked None is the README's "(plan only)" or
"(emulator only)": cloudserve never sends that request, or the cloud cannot see the mistake.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cloudserve_vertex.client import VertexClient, v1
from cloudserve_vertex.provider import VertexProvider
from cloudserve_vertex.testing import VertexEmulator
from google.api_core import exceptions as gexc
from pydantic import ValidationError

from cloudserve.desired import build_desired
from cloudserve.spec.models import Deployment
from cloudserve.testing.rule_table import readme_rule_names

from .conftest import BUCKET, NUMBER, PROJECT, spec_doc

NETWORK = f"projects/{NUMBER}/global/networks/default"
IMAGE = "us-docker.pkg.dev/test-project/serving/runtime:1"
CPU = "aiplatform.googleapis.com/prediction/online/cpu/utilization"
README = Path(__file__).parents[1] / "README.md"


class Raw:
    """The real SDK's own clients, pointed at the emulator: requests as any caller sends them."""

    def __init__(self, client: VertexClient) -> None:
        self.endpoints = client.endpoints
        self.models = client.models
        self.jobs = client.jobs
        self.parent = client.parent
        self._n = 0

    def endpoint(self, **fields: Any) -> str:
        self._n += 1
        body = v1().Endpoint(display_name="e", **fields)
        return str(
            self.endpoints.create_endpoint(parent=self.parent, endpoint=body, endpoint_id=f"e{self._n}")
            .result()
            .name
        )

    def model(self, **fields: Any) -> str:
        body = {"display_name": "m", "container_spec": v1().ModelContainerSpec(image_uri=IMAGE), **fields}
        return str(self.models.upload_model(parent=self.parent, model=v1().Model(**body)).result().model)

    def resources(
        self, machine: str = "n1-standard-2", accelerator: str | None = None, count: int = 0, **extra: Any
    ) -> Any:
        spec = v1().MachineSpec(machine_type=machine)
        if accelerator:
            spec.accelerator_type = v1().AcceleratorType[accelerator]
            spec.accelerator_count = count
        return v1().DedicatedResources(
            machine_spec=spec, **{"min_replica_count": 1, "max_replica_count": 1, **extra}
        )

    def deploy(
        self, endpoint: str, resources: Any = None, traffic: dict[str, int] | None = None, **fields: Any
    ) -> str:
        deployed = v1().DeployedModel(
            model=self.model(), display_name="v", dedicated_resources=resources or self.resources(), **fields
        )
        reply = self.endpoints.deploy_model(
            endpoint=endpoint, deployed_model=deployed, traffic_split=traffic or {"0": 100}
        ).result()
        return str(reply.deployed_model.id)

    def served(self) -> tuple[str, str]:
        endpoint = self.endpoint()
        return endpoint, self.deploy(endpoint)

    def job(self, **change: Any) -> None:
        """Create a monitoring job on a served endpoint; ``change`` replaces valid parts."""
        types = v1()
        endpoint, deployed = self.served()
        cls = types.ModelMonitoringObjectiveConfig
        dataset = change.pop(
            "dataset",
            cls.TrainingDataset(gcs_source=types.GcsSource(uris=[f"gs://{BUCKET}/b.csv"]), data_format="csv"),
        )
        threshold = types.ThresholdConfig(value=change.pop("threshold", 0.2))
        objective = cls(
            training_dataset=dataset,
            training_prediction_skew_detection_config=cls.TrainingPredictionSkewDetectionConfig(
                default_skew_threshold=threshold
            ),
        )
        fields = {
            "display_name": "j",
            "endpoint": endpoint,
            "model_deployment_monitoring_objective_configs": [
                types.ModelDeploymentMonitoringObjectiveConfig(
                    deployed_model_id=change.pop("deployed_model_id", deployed), objective_config=objective
                )
            ],
            "model_deployment_monitoring_schedule_config": types.ModelDeploymentMonitoringScheduleConfig(
                monitor_interval={"seconds": change.pop("interval", 3600)}
            ),
            "logging_sampling_strategy": types.SamplingStrategy(
                random_sample_config=types.SamplingStrategy.RandomSampleConfig(
                    sample_rate=change.pop("sample_rate", 0.5)
                )
            ),
            **change,
        }
        self.jobs.create_model_deployment_monitoring_job(
            parent=self.parent, model_deployment_monitoring_job=types.ModelDeploymentMonitoringJob(**fields)
        )


def logging(uri: str, rate: float = 0.1) -> Any:
    types = v1()
    return types.PredictRequestResponseLoggingConfig(
        enabled=True, sampling_rate=rate, bigquery_destination=types.BigQueryDestination(output_uri=uri)
    )


def autoscaled(*metrics: tuple[str, int], **extra: Any) -> Callable[[Raw], object]:
    specs = [v1().AutoscalingMetricSpec(metric_name=m, target=t) for m, t in metrics]
    return lambda raw: raw.deploy(
        raw.endpoint(),
        raw.resources(**{"max_replica_count": 2, "autoscaling_metric_specs": specs, **extra}),
    )


def two_deployed(then: Callable[[Raw, str, str, str], object]) -> Callable[[Raw], object]:
    def run(raw: Raw) -> object:
        endpoint, first = raw.served()
        second = raw.deploy(endpoint, traffic={first: 50, "0": 50})
        return then(raw, endpoint, first, second)

    return run


@dataclass(frozen=True)
class Rule:
    """One README row. ``patch``: (dotted path in the spec document, value) pairs applied to
    a valid one-version spec; ``field`` and ``plan`` must appear in one of plan's problems.
    ``request`` sends the raw request; the emulator must answer ``status`` (google.rpc)
    with a message matching ``emulator``."""

    patch: tuple[tuple[str, Any], ...] = ()
    field: str | None = None
    plan: str = ""
    request: Callable[[Raw], object] | None = None
    emulator: str = ""
    status: str = "INVALID_ARGUMENT"


DRIFT = "spec.monitoring.drift"
TWO = ("spec.versions", {"stable": "a", "candidate": "b"})

RULES: dict[str, Rule] = {
    "project-id": Rule(
        (("targets.vertex.project", "My_Project"),),
        "targets.vertex.project",
        "not a Google Cloud project id",
        lambda raw: raw.endpoints.create_endpoint(
            parent="projects/My_Project/locations/us-central1", endpoint=v1().Endpoint(display_name="e")
        ),
        "neither a project id nor a number",
    ),
    "network-format": Rule(
        (("targets.vertex.network", "default"),),
        "targets.vertex.network",
        "projects/<project number>/global/networks/<network name>",
        lambda raw: raw.endpoint(network="default"),
        "Invalid network",
    ),
    "private-endpoint": Rule(
        (("targets.vertex.network", NETWORK), TWO, ("spec.traffic", {"stable": 90, "candidate": 10})),
        "targets.vertex.network",
        "Use private endpoints",
        lambda raw: [raw.deploy(e := raw.endpoint(network=NETWORK)), raw.deploy(e, traffic={})],
        "only one DeployedModel",
    ),
    "label-format": Rule(
        (("metadata.labels", {"team": "Growth"}),),
        "metadata.labels",
        "values use only lowercase letters",
        lambda raw: raw.endpoint(labels={"team": "Growth"}),
        "values use only lowercase letters",
    ),
    "label-count": Rule(
        (("metadata.labels", {f"k{i}": "v" for i in range(64)}),),
        "metadata.labels",
        "Vertex AI allows at most 64",
        lambda raw: raw.endpoint(labels={f"k{i}": "v" for i in range(65)}),
        "at most 64 are allowed",
    ),
    "display-name": Rule(
        request=lambda raw: raw.endpoints.create_endpoint(
            parent=raw.parent, endpoint=v1().Endpoint(display_name="x" * 129)
        ),
        emulator="at most 128 characters",
    ),
    "endpoint-id": Rule(
        request=lambda raw: raw.endpoints.create_endpoint(
            parent=raw.parent, endpoint=v1().Endpoint(display_name="e"), endpoint_id="Churn_1"
        ),
        emulator="endpoint_id 'Churn_1' is invalid",
    ),
    "model-id": Rule(
        request=lambda raw: raw.models.upload_model(
            request=v1().UploadModelRequest(
                parent=raw.parent,
                model=v1().Model(display_name="m", container_spec=v1().ModelContainerSpec(image_uri=IMAGE)),
                model_id="9model",
            )
        ),
        emulator="does not match",
    ),
    "deployed-model-id": Rule(
        request=lambda raw: raw.deploy(raw.endpoint(), id="v1"),
        emulator="must be 1-10 characters of",
    ),
    "min-replicas": Rule(
        (("spec.compute.replicas", {"min": 0, "max": 2}),),
        "compute.replicas.min",
        "no scale to zero",
        lambda raw: raw.deploy(raw.endpoint(), raw.resources(min_replica_count=0, max_replica_count=2)),
        "min_replica_count must be at least 1",
    ),
    "max-replicas": Rule(
        (("spec.compute.replicas", {"min": 3, "max": 2}),),
        "spec.compute.replicas",
        "@max: 2 is below replicas.min",
        lambda raw: raw.deploy(raw.endpoint(), raw.resources(min_replica_count=3, max_replica_count=2)),
        "must not be less than min_replica_count",
    ),
    "machine-type": Rule(
        (("spec.compute.instance_type", {"vertex": "x9-giant-128"}),),
        "compute.instance_type.vertex",
        "is not a Vertex AI prediction machine type",
        lambda raw: raw.deploy(raw.endpoint(), raw.resources("x9-giant-128")),
        "not supported for online prediction",
    ),
    "accelerator-machine": Rule(
        (
            ("spec.compute.instance_type", {"vertex": "e2-standard-4"}),
            ("spec.compute.accelerator", {"type": "nvidia-t4", "count": 1}),
        ),
        "compute.accelerator",
        "cannot run on compute.instance_type.vertex e2-standard-4",
        lambda raw: raw.deploy(raw.endpoint(), raw.resources("e2-standard-4", "NVIDIA_TESLA_T4", 1)),
        "cannot be attached to machine type e2-standard-4",
    ),
    "accelerator-count": Rule(
        (("spec.compute.accelerator", {"type": "nvidia-t4", "count": 3}),),
        "compute",
        "no Vertex AI prediction machine type in the catalog fits",
        lambda raw: raw.deploy(raw.endpoint(), raw.resources("n1-standard-4", "NVIDIA_TESLA_T4", 3)),
        "accelerator_count 3 is not allowed",
    ),
    "bundled-accelerator": Rule(
        (
            ("spec.compute.instance_type", {"vertex": "g2-standard-4"}),
            ("spec.compute.accelerator", {"type": "nvidia-l4", "count": 2}),
        ),
        "compute.accelerator",
        "comes with 1x NVIDIA_L4",
        lambda raw: raw.deploy(raw.endpoint(), raw.resources("g2-standard-4", "NVIDIA_L4", 2)),
        "comes with 1x NVIDIA_L4",
    ),
    "autoscale-percent": Rule(
        (
            ("spec.compute.replicas", {"min": 1, "max": 3}),
            ("spec.compute.autoscale", {"metric": "cpu_utilization", "target": 150}),
        ),
        "compute.autoscale.target",
        "a percentage, 1-100",
        autoscaled((CPU, 150)),
        "between 1 and 100",
    ),
    "autoscale-rounds-to-zero": Rule(
        (
            ("spec.compute.replicas", {"min": 1, "max": 3}),
            ("spec.compute.autoscale", {"metric": "requests_per_replica", "target": 0.4}),
        ),
        "compute.autoscale.target",
        "rounds to 0",
    ),
    "autoscale-metric": Rule(
        request=autoscaled(("aiplatform.googleapis.com/prediction/online/memory", 60)),
        emulator="Unsupported autoscaling metric",
    ),
    "autoscale-one-per-metric": Rule(
        request=autoscaled((CPU, 60), (CPU, 70)), emulator="more than one entry for a metric"
    ),
    "traffic-sum": Rule(
        (TWO, ("spec.traffic", {"stable": 50, "candidate": 40})),
        "traffic",
        "must sum to 100",
        two_deployed(
            lambda raw, e, a, b: raw.endpoints.update_endpoint(
                endpoint=v1().Endpoint(name=e, traffic_split={a: 50, b: 40}),
                update_mask={"paths": ["traffic_split"]},
            )
        ),
        "must add up to 100; it adds up to 90",
    ),
    "traffic-names-deployed": Rule(
        request=two_deployed(
            lambda raw, e, a, b: raw.endpoints.update_endpoint(
                endpoint=v1().Endpoint(name=e, traffic_split={a: 50, "4242": 50}),
                update_mask={"paths": ["traffic_split"]},
            )
        ),
        emulator="not deployed on the Endpoint",
    ),
    "undeploy-serving": Rule(
        request=two_deployed(
            lambda raw, e, a, b: raw.endpoints.undeploy_model(endpoint=e, deployed_model_id=a)
        ),
        emulator="still receives traffic",
        status="FAILED_PRECONDITION",
    ),
    "delete-deployed-endpoint": Rule(
        request=lambda raw: raw.endpoints.delete_endpoint(name=raw.served()[0]),
        emulator="has deployed models",
        status="FAILED_PRECONDITION",
    ),
    "delete-deployed-model": Rule(
        request=lambda raw: raw.models.delete_model(
            name=raw.endpoints.get_endpoint(name=raw.served()[0]).deployed_models[0].model
        ),
        emulator="is deployed or being deployed",
        status="FAILED_PRECONDITION",
    ),
    "capture-destination": Rule(
        (("spec.capture", {"sample_percent": 10, "destination": "s3://bucket/capture"}),),
        "capture.destination",
        "bq://project[.dataset[.table]]",
        lambda raw: raw.endpoint(predict_request_response_logging_config=logging("s3://bucket/capture")),
        "must be bq://projectId",
    ),
    "capture-sampling": Rule(
        request=lambda raw: raw.endpoint(
            predict_request_response_logging_config=logging(f"bq://{PROJECT}", 1.5)
        ),
        emulator="must be in range",
    ),
    "model-uri": Rule(
        (("spec.versions.stable.model.uri", "s3://bucket/model"),),
        "versions.stable: model.uri",
        "Vertex AI reads models from gs://",
        lambda raw: raw.model(artifact_uri="s3://bucket/model"),
        "must be a Cloud Storage",
    ),
    "staging-bucket": Rule(
        (("targets.vertex.staging_bucket", None),),
        "targets.vertex.staging_bucket",
        "a local model needs",
    ),
    "container-image": Rule(
        (("spec.versions.stable.model.format", "skops"),),
        "targets.vertex.serving_image",
        "cannot load format skops",
        lambda raw: raw.models.upload_model(parent=raw.parent, model=v1().Model(display_name="m")),
        "image_uri is required",
    ),
    "prebuilt-artifact": Rule(
        (("spec.versions.stable.model.uri", "TWO_FILES"),),
        "versions.stable",
        "loads exactly one of model.joblib, model.pkl",
        lambda raw: raw.model(
            artifact_uri=f"gs://{BUCKET}/two",
            container_spec=v1().ModelContainerSpec(
                image_uri="us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-5:latest"
            ),
        ),
        "expected to contain exactly one of",
    ),
    "written-with": Rule(
        (("spec.versions.stable.model.framework_version", "1.4"),),
        "spec.versions.stable.model.framework_version",
        "1.4",
    ),
    "drift-interval": Rule(
        ((DRIFT, {"baseline": "gs://b/train.csv", "schedule": "30m"}),),
        "monitoring.drift.schedule",
        "every hour at the most",
        lambda raw: raw.job(interval=1800),
        "monitor_interval must be at least 1 hour",
    ),
    "drift-whole-hours": Rule(
        ((DRIFT, {"baseline": "gs://b/train.csv", "schedule": "90m"}),),
        "monitoring.drift.schedule",
        "in whole hours",
    ),
    "drift-sampling": Rule(
        ((DRIFT, {"baseline": "gs://b/train.csv", "sampling_percent": 0}),),
        "monitoring.drift.sampling_percent",
        "must be above 0",
        lambda raw: raw.job(sample_rate=0),
        "sample_rate must be in",
    ),
    "drift-baseline-uri": Rule(
        ((DRIFT, {"baseline": "s3://b/train.csv"}),),
        "monitoring.drift.baseline",
        "from gs:// or bq://",
        lambda raw: raw.job(
            dataset=v1().ModelMonitoringObjectiveConfig.TrainingDataset(
                gcs_source=v1().GcsSource(uris=["s3://b/train.csv"]), data_format="csv"
            )
        ),
        "must be gs:// URIs",
    ),
    "drift-baseline-format": Rule(
        ((DRIFT, {"baseline": "gs://b/train.parquet"}),),
        "monitoring.drift.baseline",
        "as CSV, JSONL or TFRecord",
        lambda raw: raw.job(
            dataset=v1().ModelMonitoringObjectiveConfig.TrainingDataset(
                gcs_source=v1().GcsSource(uris=["gs://b/train.parquet"]), data_format="parquet"
            )
        ),
        "data_format 'parquet' must be one of",
    ),
    "drift-baseline-staging": Rule(
        (
            (DRIFT, {"baseline": "BASELINE"}),
            ("spec.versions.stable.model.uri", "gs://b/model"),
            ("targets.vertex.staging_bucket", None),
        ),
        "monitoring.drift.baseline",
        "a local baseline needs targets.vertex.staging_bucket",
    ),
    "drift-threshold": Rule(
        ((DRIFT, {"baseline": "gs://b/train.csv", "threshold": 0}),),
        "threshold",
        "greater than 0",
        lambda raw: raw.job(threshold=0),
        "needs a non-zero threshold",
    ),
    "drift-deployed-model": Rule(
        request=lambda raw: raw.job(deployed_model_id="4242"), emulator="'4242' is not deployed"
    ),
    "drift-channel": Rule(
        request=lambda raw: raw.job(
            model_monitoring_alert_config=v1().ModelMonitoringAlertConfig(notification_channels=["ops"])
        ),
        emulator="must be projects/<project>/notificationChannels/<id>",
    ),
    "drift-method": Rule(
        ((DRIFT, {"baseline": "gs://b/train.csv", "method": "psi"}),),
        "monitoring.drift.method",
        "Jensen-Shannon divergence",
    ),
    "drift-webhook": Rule(
        ((DRIFT, {"baseline": "gs://b/train.csv", "alert": {"webhook": "https://hooks.example/x"}}),),
        "monitoring.drift.alert.webhook",
        "notification channel",
    ),
    "drift-keyed-instances": Rule(
        ((DRIFT, {"baseline": "gs://b/train.csv", "thresholds": {"age": 0.1}}),),
        "monitoring.drift.thresholds",
        "targets.vertex.instance_format: keyed",
    ),
}


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        doc = doc.setdefault(key, {})
    if value is None:
        doc.pop(leaf, None)
    else:
        doc[leaf] = copy.deepcopy(value)


def _plan(rule: Rule, provider: VertexProvider, models: dict[str, Any], tmp_path: Path) -> list[str]:
    """Plan's problems for the rule's spec, offline; a spec the schema refuses gives its error."""
    doc = spec_doc("churn", {"stable": models["a_path"]}, {"stable": 100})
    for path, value in rule.patch:
        if path == "spec.versions":
            value = {
                v: {
                    **doc["spec"]["versions"]["stable"],
                    "model": {**doc["spec"]["versions"]["stable"]["model"], "uri": str(models[f"{k}_path"])},
                }
                for v, k in value.items()
            }
        if value == "TWO_FILES":  # a folder the prebuilt container cannot choose a file in
            for name in ("model.joblib", "model.pkl"):
                (tmp_path / name).write_bytes((models["a_path"] / "model.joblib").read_bytes())
            value = str(tmp_path)
        if isinstance(value, dict) and value.get("baseline") == "BASELINE":
            (tmp_path / "train.csv").write_text("x\n1\n")
            value = {**value, "baseline": str(tmp_path / "train.csv")}
        _put(doc, path, value)
    try:
        deployment = Deployment.model_validate(doc)
    except ValidationError as exc:
        return [str(exc)]
    # validate reads the settings from the spec; the provider only resolves the desired state
    return provider.validate(build_desired(deployment, provider))


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_refused_by_plan_and_by_the_emulator(
    rule: str, provider: VertexProvider, models: dict[str, Any], tmp_path: Path, emulator: VertexEmulator
) -> None:
    case = RULES[rule]
    if case.field is not None:
        problems = _plan(case, provider, models, tmp_path)
        assert any(case.field in p and case.plan in p for p in problems), problems
        assert emulator.requests == [], "plan called the API"
    if case.request is not None:
        raw = Raw(provider.client)
        if rule == "prebuilt-artifact":
            emulator.storage.buckets[BUCKET].update({"two/model.joblib": b"1", "two/model.pkl": b"2"})
        with pytest.raises(gexc.GoogleAPICallError) as caught:
            case.request(raw)
        error = caught.value.response.json()["error"]
        assert (caught.value.code, error["status"]) == (400, case.status), error
        assert re.search(re.escape(case.emulator), error["message"]), error["message"]


def test_the_readme_table_and_the_cases_name_the_same_rules() -> None:
    assert sorted(readme_rule_names(README)) == sorted(RULES)


def test_the_emulator_rules_share_nothing_with_the_adapter() -> None:
    """Issue 13 item 2: the emulator's rules import no table or check of the adapter's."""
    import ast
    import inspect

    from cloudserve_vertex.emulator import rules as _emulator_rules

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
    from cloudserve_vertex.emulator.rules import RuleError, check_labels

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
    from cloudserve_vertex.emulator.rules import RuleError, check_machine

    if ok:
        check_machine(machine, accelerator, count)
    else:
        with pytest.raises(RuleError):
            check_machine(machine, accelerator, count)


def test_autoscaling_metrics_from_the_discovery_document() -> None:
    from cloudserve_vertex.emulator.rules import RuleError, check_dedicated_resources

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
