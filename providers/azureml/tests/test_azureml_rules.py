"""Issue 13 item 2: every Azure ML rule plan checks or the emulator enforces, each on its own side.

``RULES`` mirrors the README's table "Cloud rules plan and the emulator both enforce", row by
row (``test_the_readme_table_and_the_cases_name_the_same_rules`` keeps them together). Each
case shows plan refusing the spec, naming the field, before any API call, and the emulator
answering the equivalent raw ARM request (sent with ``requests``, as any caller could) with the
error Azure would send: the status, ARM's ``{"error": {"code", "message"}}`` (Metrics List: flat
``{"code", "message"}``). A side left None is the README's "(plan only)" or "(emulator only)":
cloudserve never sends that request, or the cloud cannot see the mistake.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudserve_azureml.emulator.wire import WireChecker
from cloudserve_azureml.provider import AzureMLProvider
from cloudserve_azureml.testing import AzureMLEmulator
from pydantic import ValidationError

from cloudserve.desired import build_desired
from cloudserve.errors import CloudServeError
from cloudserve.spec.models import Deployment
from cloudserve.testing.conformance import MakeSpec, apply_spec
from cloudserve.testing.rule_table import readme_rule_names

ArmCall = Callable[..., requests.Response]  # the conftest's `arm` and `put_endpoint`
README = Path(__file__).parents[1] / "README.md"
SERIES = ".".join(version("scikit-learn").split(".")[:2])
ARM = "https://management.azure.com"
AUTH = {"Authorization": "Bearer t"}
# The api-versions azure-ai-ml 1.35 writes each resource with, so the wire check reads every
# valid setup body against that version's REST models.
DEPLOYMENTS_API = "2023-04-01-preview"
SCHEDULES_API = "2023-06-01-preview"
MODELS_API = "2023-08-01-preview"


class Raw:
    """Raw ARM calls into the emulator's workspace. Setup calls must be clean on the wire
    (checked as they go); the case's last, bad request is the one under test."""

    def __init__(self, azure: AzureMLEmulator, wire: WireChecker) -> None:
        self.azure = azure
        self.wire = wire
        self.ws = azure.state.workspace_path
        self.location = azure.state.location

    def call(
        self, method: str, path: str, body: Any = None, *, api: str = DEPLOYMENTS_API, **params: str
    ) -> requests.Response:
        url = (
            path
            if path.startswith("https://")
            else f"{ARM}{path if path.startswith('/subscriptions') else self.ws + path}"
        )
        return requests.request(
            method, url, params={"api-version": api, **params}, json=body, headers=AUTH, timeout=5
        )

    def ok(self, reply: requests.Response) -> requests.Response:
        """A setup step: it succeeded, spoke the REST models, and its operation has settled."""
        assert reply.status_code < 300, reply.text
        assert self.wire.take() == [], "a setup body departs from the REST models"
        status = reply.headers.get("Azure-AsyncOperation")
        if status:
            assert requests.get(status, headers=AUTH, timeout=5).json()["status"] == "Succeeded"
        return reply

    def endpoint(self, name: str = "churn", tags: dict[str, str] | None = None) -> requests.Response:
        body: dict[str, Any] = {"location": self.location, "properties": {"authMode": "Key"}}
        if tags is not None:
            body["tags"] = tags
        return self.call("PUT", f"/onlineEndpoints/{name}", body)

    def deployment(
        self, name: str = "stable", endpoint: str = "churn", capacity: int = 1, **props: Any
    ) -> requests.Response:
        body = {
            "location": self.location,
            "sku": {"name": "Default", "capacity": capacity},
            "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_F2s_v2", **props},
        }
        return self.call("PUT", f"/onlineEndpoints/{endpoint}/deployments/{name}", body)

    def served(self, *deployments: str, traffic: dict[str, int] | None = None) -> None:
        """An endpoint ``churn`` with these deployments, all live traffic on the first."""
        self.ok(self.endpoint())
        for name in deployments or ("stable",):
            self.ok(self.deployment(name))
        self.ok(self.traffic(traffic or {(deployments or ("stable",))[0]: 100}))

    def traffic(self, traffic: dict[str, int], mirror: dict[str, int] | None = None) -> requests.Response:
        """PUT the endpoint with new traffic (an endpoint PATCH takes only tags and identity)."""
        props = {"authMode": "Key", "traffic": traffic, "mirrorTraffic": mirror or {}}
        return self.call("PUT", "/onlineEndpoints/churn", {"location": self.location, "properties": props})

    def autoscale(
        self, cooldown: str = "PT5M", capacity: tuple[int, int, int] = (1, 1, 3), target: str = "stable"
    ) -> requests.Response:
        self.served()
        low, default, high = (str(n) for n in capacity)
        deployment = f"{self.ws}/onlineEndpoints/churn/deployments/{target}"
        rule = {
            "metricTrigger": {
                "metricName": "CpuUtilizationPercentage",
                "metricResourceUri": deployment,
                "timeGrain": "PT1M",
                "statistic": "Average",
                "timeWindow": "PT5M",
                "timeAggregation": "Average",
                "operator": "GreaterThan",
                "threshold": 70,
            },
            "scaleAction": {
                "direction": "Increase",
                "type": "ChangeCount",
                "value": "1",
                "cooldown": cooldown,
            },
        }
        body = {
            "location": self.location,
            "properties": {
                "enabled": True,
                "targetResourceUri": deployment,
                "profiles": [
                    {
                        "name": "p",
                        "capacity": {"minimum": low, "default": default, "maximum": high},
                        "rules": [rule],
                    }
                ],
            },
        }
        path = self.ws.split("/providers/")[0] + "/providers/Microsoft.Insights/autoscalesettings/churn-a"
        return self.call("PUT", path, body, api="2022-10-01")

    def schedule(self, name: str = "churn-drift", **change: Any) -> requests.Response:
        """A monitor schedule over a served deployment's collected inputs; ``change`` replaces
        parts of a valid body."""
        self.served()
        data = {
            "properties": {
                "dataType": "uri_folder",
                "dataUri": "azureml://datastores/workspaceblobstore/paths/x/",
            }
        }
        self.ok(self.call("PUT", "/data/churn-stable-model_inputs/versions/1", data))
        uri = f"{self.ws}/data/churn-stable-model_inputs/versions/1"
        signal = {
            "signalType": "DataDrift",
            "productionData": {"inputDataType": "Fixed", "jobInputType": "uri_folder", "uri": uri},
            "referenceData": {"inputDataType": "Fixed", "jobInputType": "uri_folder", "uri": uri},
            "metricThresholds": [
                {
                    "dataType": "Numerical",
                    "metric": "NormalizedWassersteinDistance",
                    "threshold": {"value": 0.1},
                }
            ],
            **change.pop("signal", {}),
        }
        definition = {
            "computeConfiguration": {
                "computeType": "ServerlessSpark",
                "instanceType": "standard_e4s_v3",
                "runtimeVersion": "3.4",
                "computeIdentity": {"computeIdentityType": "AmlToken"},
                **change.pop("compute", {}),
            },
            "monitoringTarget": {
                "taskType": "Classification",
                "deploymentId": change.pop("target", f"{self.ws}/onlineEndpoints/churn/deployments/stable"),
            },
            "signals": {"drift": signal},
            "alertNotificationSetting": {
                "alertNotificationType": "Email",
                "emailNotificationSetting": {"emails": change.pop("emails", ["ops@example.com"])},
            },
        }
        props = {
            "action": {"actionType": "CreateMonitor", "monitorDefinition": definition},
            "trigger": change.pop(
                "trigger", {"triggerType": "Recurrence", "frequency": "Day", "interval": 1}
            ),
        }
        assert not change, change
        return self.call("PUT", f"/schedules/{name}", {"properties": props}, api=SCHEDULES_API)

    def model_version(self, uri: str) -> requests.Response:
        body = {"properties": {"modelType": "custom_model", "modelUri": uri}}
        return self.call("PUT", "/models/m/versions/1", body, api=MODELS_API)

    def metrics(self, names: str, filter_: str) -> requests.Response:
        self.served()
        path = f"{self.ws}/onlineEndpoints/churn/providers/Microsoft.Insights/metrics"
        return self.call("GET", path, api="2024-02-01", metricnames=names, **{"$filter": filter_})


def _asset_changed(raw: Raw) -> requests.Response:
    raw.ok(raw.model_version("azureml://datastores/workspaceblobstore/paths/a/"))
    return raw.model_version("azureml://datastores/workspaceblobstore/paths/b/")


@dataclass(frozen=True)
class Rule:
    """One README row. ``patch``: (dotted path in the spec document, value) pairs applied to a
    valid one-version spec; ``field`` and ``plan`` must appear in one of plan's problems (or the
    spec's own validation error). ``request`` sends the raw request; the emulator must answer
    ``status`` with ``code`` and a message containing ``emulator``."""

    patch: tuple[tuple[str, Any], ...] = ()
    field: str | None = None
    plan: str = ""
    request: Callable[[Raw], requests.Response] | None = None
    emulator: str = ""
    status: int = 400
    code: str = "BadArgument"


DRIFT = "spec.monitoring.drift"
TWO = ("spec.versions", {"stable": "a", "candidate": "b"})
BASELINE = {"baseline": "BASELINE"}
AUTOSCALE = {"metric": "requests_per_replica", "target": 100}
MANY_EMAILS = [f"someone.{i:02d}@example.com" for i in range(25)]  # 25 x 22 + 24 commas = 574

RULES: dict[str, Rule] = {
    "endpoint-name": Rule(
        (("metadata.name", "churn--x"),),
        "metadata.name",
        "single dashes",
        lambda raw: raw.endpoint("churn--x"),
        "single hyphens",
    ),
    "deployment-name": Rule(
        (("spec.versions", {"v1": "a"}), ("spec.traffic", {"v1": 100})),
        "spec.versions.v1",
        "at least 3",
        lambda raw: [raw.ok(raw.endpoint()), raw.deployment("v1")][-1],
        "at least 3",
    ),
    "traffic-sum": Rule(
        (TWO, ("spec.traffic", {"stable": 50, "candidate": 40})),
        "traffic",
        "must sum to 100",
        lambda raw: [raw.served("stable", "candidate"), raw.traffic({"stable": 50, "candidate": 40})][-1],
        "must sum to 0 or 100",
    ),
    "traffic-deployments-exist": Rule(
        (("spec.traffic", {"stable": 50, "ghost": 50}),),
        "traffic",
        "not a declared version",
        lambda raw: [raw.served(), raw.traffic({"stable": 50, "ghost": 50})][-1],
        "does not exist under endpoint",
    ),
    "mirror-one-deployment": Rule(
        (
            ("spec.versions", {"stable": "a", "blue": "b", "green": "b"}),
            ("spec.traffic", {"stable": 100}),
            ("spec.mirror", {"blue": 10, "green": 10}),
        ),
        "spec.mirror",
        "single deployment",
        lambda raw: [
            raw.served("stable", "blue", "green"),
            raw.traffic({"stable": 100}, {"blue": 10, "green": 10}),
        ][-1],
        "single deployment only",
    ),
    "mirror-total": Rule(
        (TWO, ("spec.traffic", {"stable": 100}), ("spec.mirror", {"candidate": 60})),
        "spec.mirror",
        "at most 50% of traffic",
        lambda raw: [raw.served("stable", "candidate"), raw.traffic({"stable": 100}, {"candidate": 60})][-1],
        "must sum to at most 50",
    ),
    "live-or-mirror": Rule(
        (TWO, ("spec.traffic", {"stable": 50, "candidate": 50}), ("spec.mirror", {"candidate": 10})),
        "mirror",
        "already takes live traffic",
        lambda raw: [
            raw.served("stable", "candidate"),
            raw.traffic({"stable": 50, "candidate": 50}, {"candidate": 10}),
        ][-1],
        "cannot receive both live and mirrored traffic",
    ),
    "delete-serving-deployment": Rule(
        request=lambda raw: [raw.served(), raw.call("DELETE", "/onlineEndpoints/churn/deployments/stable")][
            -1
        ],
        emulator="still receives traffic",
    ),
    "min-instances": Rule(
        (("spec.compute.replicas", {"min": 0, "max": 2}),),
        "spec.compute.replicas.min",
        "at least 1 instance",
        lambda raw: [raw.ok(raw.endpoint()), raw.deployment(capacity=0)][-1],
        "at least 1 instance",
    ),
    "serverless": Rule(
        (("spec.compute.serverless", {"memory": "2Gi"}),),
        "spec.compute.serverless",
        "no scale to zero",
    ),
    "instance-type": Rule(
        (("spec.compute.instance_type", {"azureml": "Standard_X9_giant"}),),
        "spec.compute.instance_type.azureml",
        "is not a managed online endpoint VM size",
        lambda raw: [raw.ok(raw.endpoint()), raw.deployment(instanceType="Standard_X9_giant")][-1],
        "is not a supported VM size for managed online endpoints",
    ),
    "accelerator-sku": Rule(
        (
            ("spec.compute.instance_type", {"azureml": "Standard_F4s_v2"}),
            ("spec.compute.accelerator", {"type": "nvidia-t4", "count": 1}),
        ),
        "spec.compute.accelerator",
        "has no GPU",
    ),
    "model-uri": Rule(
        (("spec.versions.stable.model.uri", "https://example.blob.core.windows.net/models/churn"),),
        "spec.versions.stable.model.uri",
        "azureml://registries/<registry>/models/<name>/versions/<version>",
        lambda raw: [
            raw.ok(raw.endpoint()),
            raw.deployment(model="azureml://datastores/workspaceblobstore/paths/models/churn"),
        ][-1],
        "must be a model version ARM id",
    ),
    "capture-destination": Rule(
        (("spec.capture", {"sample_percent": 10, "destination": "s3://bucket/capture"}),),
        "spec.capture.destination",
        "default blob datastore",
    ),
    "autoscale-cooldown": Rule(
        (
            ("spec.compute.replicas", {"min": 1, "max": 3}),
            ("spec.compute.autoscale", {**AUTOSCALE, "scale_out_cooldown": "30s"}),
        ),
        "spec.compute.autoscale.scale_out_cooldown",
        "between PT1M and P1W",
        lambda raw: raw.autoscale(cooldown="PT30S"),
        "must be between 1 week and 1 minute",
        code="InvalidRequest",
    ),
    "autoscale-capacity": Rule(
        (("spec.compute.replicas", {"min": 3, "max": 2}),),
        "replicas",
        "is below replicas.min",
        lambda raw: raw.autoscale(capacity=(3, 3, 2)),
        "minimum <= default <= maximum",
        code="InvalidRequest",
    ),
    "autoscale-target": Rule(
        request=lambda raw: raw.autoscale(target="ghost"),
        emulator="was not found",
        code="TargetResourceNotFound",
    ),
    "tag-budget": Rule(
        (("metadata.labels", {f"k{i}": "v" for i in range(45)}),),
        "metadata.labels",
        "Azure allows 50 per resource",
        lambda raw: raw.endpoint(tags={f"k{i}": "v" for i in range(51)}),
        "at most 50 tags",
        code="InvalidTag",
    ),
    "tag-format": Rule(
        (("metadata.labels", {"team": "v" * 64}),),
        "labels",
        "values are limited to 63 characters",
        lambda raw: raw.endpoint(tags={"team/a": "v"}),
        "tag names cannot contain",
        code="InvalidTag",
    ),
    "metric-dimensions": Rule(
        request=lambda raw: raw.metrics(
            "RequestsPerMinute,RequestLatency_P99", "deployment eq '*' and statusCodeClass eq '*'"
        ),
        emulator="RequestLatency_P99 does not support requested dimension combination",
        code="BadRequest",
    ),
    "drift-schedule": Rule(
        ((DRIFT, {**BASELINE, "schedule": "fortnightly"}),),
        "spec.monitoring.drift.schedule",
        "RecurrenceTrigger",
        lambda raw: raw.schedule(trigger={"triggerType": "Recurrence", "frequency": "Day", "interval": 0}),
        "interval must be an integer of at least 1",
    ),
    "drift-baseline-local": Rule(
        ((DRIFT, {"baseline": "azureml://datastores/x/paths/train.csv"}),),
        "spec.monitoring.drift.baseline",
        "is remote",
    ),
    "drift-data-assets": Rule(
        request=lambda raw: raw.schedule(
            signal={
                "referenceData": {
                    "inputDataType": "Fixed",
                    "jobInputType": "mltable",
                    "uri": "azureml:nope:1",
                }
            }
        ),
        emulator="does not exist",
    ),
    "drift-alert-email-only": Rule(
        ((DRIFT, {**BASELINE, "alert": {"webhook": "https://hooks.example/x"}}),),
        "spec.monitoring.drift.alert",
        "alert by e-mail only",
    ),
    "drift-email": Rule(
        ((DRIFT, {**BASELINE, "alert": {"email": ["ops-at-example"]}}),),
        "spec.monitoring.drift.alert.email",
        "is not an e-mail address",
        lambda raw: raw.schedule(emails=["ops-at-example"]),
        "is not an e-mail address",
    ),
    "drift-emails-length": Rule(
        ((DRIFT, {**BASELINE, "alert": {"email": MANY_EMAILS}}),),
        "spec.monitoring.drift.alert.email",
        "Azure ML allows 499",
        lambda raw: raw.schedule(emails=MANY_EMAILS),
        "the limit is 499",
    ),
    "drift-threshold": Rule(
        ((DRIFT, {**BASELINE, "threshold": 0}),),
        "threshold",
        "greater than 0",
        lambda raw: raw.schedule(
            signal={
                "metricThresholds": [
                    {
                        "dataType": "Numerical",
                        "metric": "NormalizedWassersteinDistance",
                        "threshold": {"value": -1},
                    }
                ]
            }
        ),
        "must be a number >= 0",
    ),
    "drift-metric": Rule(
        request=lambda raw: raw.schedule(
            signal={
                "metricThresholds": [
                    {
                        "dataType": "Categorical",
                        "metric": "NormalizedWassersteinDistance",
                        "threshold": {"value": 1},
                    }
                ]
            }
        ),
        emulator="not a Categorical data drift metric",
    ),
    "schedule-name": Rule(request=lambda raw: raw.schedule("-drift"), emulator="must match"),
    "spark-compute": Rule(
        request=lambda raw: raw.schedule(compute={"instanceType": "standard_d2_v2"}),
        emulator="is not supported",
    ),
    "monitoring-target": Rule(
        request=lambda raw: raw.schedule(target=f"{raw.ws}/onlineEndpoints/churn/deployments/ghost"),
        emulator="does not exist",
    ),
    "asset-immutable": Rule(
        request=_asset_changed, emulator="already exists with different content", status=409, code="Conflict"
    ),
    "resource-busy": Rule(
        request=lambda raw: [raw.endpoint(), raw.endpoint()][-1],
        emulator="retry later",
        status=409,
        code="Conflict",
    ),
}


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        doc = doc.setdefault(key, {})
    doc[leaf] = copy.deepcopy(value)


def _plan(
    rule: Rule, provider: AzureMLProvider, azure: AzureMLEmulator, models: dict[str, Any], tmp: Path
) -> list[str]:
    """Plan's problems for the rule's spec, offline; a spec its own models refuse gives that error."""

    def model(key: str) -> dict[str, Any]:
        return {"uri": str(models[f"{key}_path"]), "framework": "sklearn", "framework_version": SERIES}

    doc: dict[str, Any] = {
        "metadata": {"name": "churn", "labels": {"team": "tests"}},
        "spec": {
            "target": "azureml",
            "versions": {"stable": {"model": model("a")}},
            "traffic": {"stable": 100},
        },
        "targets": {"azureml": azure.settings()},
    }
    for path, value in rule.patch:
        if path == "spec.versions":
            value = {name: {"model": model(key)} for name, key in value.items()}
        if isinstance(value, dict) and value.get("baseline") == "BASELINE":
            (tmp / "train.csv").write_text("x\n1\n")
            value = {**value, "baseline": str(tmp / "train.csv")}
        _put(doc, path, value)
    try:
        deployment = Deployment.model_validate(doc)
        return provider.validate(build_desired(deployment, provider))
    except (ValidationError, CloudServeError) as exc:
        return [str(exc)]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_refused_by_plan_and_by_the_emulator(
    rule: str,
    provider: AzureMLProvider,
    azure: AzureMLEmulator,
    models: dict[str, Any],
    tmp_path: Path,
    wire_check: WireChecker,
) -> None:
    case = RULES[rule]
    assert case.field is not None or case.request is not None
    if case.field is not None:
        problems = _plan(case, provider, azure, models, tmp_path)
        assert any(case.field in p and case.plan in p for p in problems), problems
        assert azure.calls == [], "plan called the API"
    if case.request is not None:
        wire_check.raise_on_problem = False  # the case's last request is bad on purpose
        reply = case.request(Raw(azure, wire_check))
        assert reply.status_code == case.status, reply.text
        body = reply.json()
        error = body if rule == "metric-dimensions" else body["error"]  # Metrics List: flat
        assert error["code"] == case.code, error
        assert case.emulator in error["message"], error["message"]
        wire_check.take()  # what the REST models say of the bad body is test_wire's concern


def test_the_readme_table_and_the_cases_name_the_same_rules() -> None:
    assert sorted(readme_rule_names(README)) == sorted(RULES)


def test_the_emulator_rules_share_nothing_with_the_adapter() -> None:
    """Issue 13 item 2: the emulator's modules import nothing of the adapter's rules, catalog,
    translation or drift mapping, so one wrong rule cannot pass both sides."""
    import ast
    import inspect

    from cloudserve_azureml.emulator import arm as _emulator_arm
    from cloudserve_azureml.emulator import monitor as _emulator_monitor
    from cloudserve_azureml.emulator import routes as _emulator_routes
    from cloudserve_azureml.emulator import schedules as _emulator_schedules
    from cloudserve_azureml.emulator import state as _emulator_state

    adapter = {"rules", "catalog", "translate", "drift", "operations", "provider", "offline", "settings"}
    for module in (_emulator_arm, _emulator_monitor, _emulator_routes, _emulator_schedules, _emulator_state):
        tree = ast.parse(inspect.getsource(module))
        names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        leaked = {n for n in names if n.split(".")[-1] in adapter or n.startswith("cloudserve.")}
        assert not leaked, (module.__name__, leaked)


def test_the_two_sku_lists_agree() -> None:
    """Written apart from the same page (plan by family and size, the emulator as the page's
    column), they name the same VM sizes; the priced catalog is a subset of both."""
    from cloudserve_azureml import catalog, rules
    from cloudserve_azureml.emulator import state as _emulator_state

    assert set(rules.MANAGED_SKUS) == set(_emulator_state.MANAGED_ONLINE_SKUS)
    assert {s.name.lower() for s in catalog.catalog()[1]} <= set(rules.MANAGED_SKUS)


def test_a_registered_model_passes_plan(provider: AzureMLProvider, make_spec: MakeSpec) -> None:
    spec = make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100})
    model = spec.spec.versions["stable"].model
    assert model is not None
    model.uri = "azureml://registries/shared/models/churn/versions/3"
    assert not any("model.uri" in p for p in provider.validate(build_desired(spec, provider)))


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
