"""Drift monitoring on the Azure ML emulator (issue 8, items 5-6).

``monitoring.drift`` becomes an Azure ML monitor schedule (``<endpoint>-drift``) whose
data-drift signals compare each version's collected model inputs with the baseline,
registered as an MLTable data asset. The schedule is created, read back (an unchanged spec
plans no change), changed in place (a threshold change is an update_endpoint only) and
destroyed, all through the real azure-ai-ml client; the emulator checks the REST rules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudserve_azureml import drift as dr
from cloudserve_azureml.emulator.wire import WireChecker
from cloudserve_azureml.provider import AzureMLProvider
from cloudserve_azureml.testing import AzureMLEmulator

from cloudserve.api import destroy
from cloudserve.desired import build_desired
from cloudserve.executor import ApplyResult, apply
from cloudserve.planner import make_plan
from cloudserve.provider import Feature, Support
from cloudserve.spec.models import Deployment

MakeSpec = Callable[..., Deployment]
NAME = "churn"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(spec: Deployment, provider: AzureMLProvider) -> ApplyResult:
    clock = Clock()
    return apply(spec, provider, sleep=clock.sleep, clock=clock, poll_interval=30)


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    x, _ = load_iris(return_X_y=True)
    path = tmp_path / "train.csv"
    path.write_text("a,b,c,d\n" + "\n".join(",".join(f"{v:g}" for v in row) for row in x) + "\n")
    return path


@pytest.fixture
def drift_spec(make_spec: MakeSpec, baseline: Path) -> Callable[..., Deployment]:
    def spec(versions: dict[str, str] | None = None, **drift: Any) -> Deployment:
        versions = versions or {"stable": "a"}
        monitoring = (
            {}
            if drift.get("off")
            else {
                "drift": {
                    "baseline": str(baseline),
                    "schedule": "daily",
                    "threshold": 0.15,
                    "thresholds": {"a": 0.3},
                    "alert": {"email": ["ml-team@example.com"]},
                    **drift,
                }
            }
        )
        return make_spec(
            NAME,
            versions,
            {v: 100 if i == 0 else 0 for i, v in enumerate(versions)},
            capture={"sample_percent": 20},
            monitoring=monitoring,
        )

    return spec


def schedule(azure: AzureMLEmulator) -> dict[str, Any] | None:
    found: dict[str, Any] | None = azure.state.get(
        f"{azure.state.workspace_path}/schedules/{dr.schedule_name(NAME)}"
    )
    return found


def thresholds(signal: dict[str, Any]) -> dict[str, tuple[str, float]]:
    return {t["dataType"]: (t["metric"], t["threshold"]["value"]) for t in signal["metricThresholds"]}


def test_drift_schedule_lifecycle(
    drift_spec: Callable[..., Deployment], provider: AzureMLProvider, azure: AzureMLEmulator
) -> None:
    spec = drift_spec()
    assert provider.capabilities()[Feature.DRIFT_MONITORING].support is Support.NATIVE
    run(spec, provider)

    # created: one signal per version plus one per feature with its own threshold
    found = schedule(azure)
    assert found is not None
    props = found["properties"]
    assert props["trigger"]["triggerType"] == "Recurrence"
    assert (props["trigger"]["frequency"].lower(), props["trigger"]["interval"]) == ("day", 1)
    monitor = props["action"]["monitorDefinition"]
    assert monitor["monitoringTarget"]["deploymentId"].endswith("/onlineEndpoints/churn/deployments/stable")
    assert monitor["alertNotificationSetting"]["emailNotificationSetting"]["emails"] == [
        "ml-team@example.com"
    ]
    signals = monitor["signals"]
    assert set(signals) == {"drift-stable", "drift-stable-a"}
    base = signals["drift-stable"]
    assert base["productionData"]["uri"].endswith("/data/churn-stable-model_inputs/versions/1")
    assert base["productionData"]["windowSize"] == "P1D"
    assert base["referenceData"]["jobInputType"] == "mltable"
    # azure-ai-ml sends "normalizedWassersteinDistance"; the service answers the REST spelling.
    assert thresholds(base) == {
        "Numerical": ("NormalizedWassersteinDistance", 0.15),
        "Categorical": ("JensenShannonDistance", 0.15),
    }
    assert signals["drift-stable-a"]["features"]["features"] == ["a"]
    assert thresholds(signals["drift-stable-a"])["Numerical"][1] == 0.3
    deployment = azure.deployment(NAME, "stable")
    assert deployment is not None
    collections = deployment["properties"]["dataCollector"]["collections"]
    assert {"request", "response", "model_inputs", "model_outputs"} <= set(collections)
    env = deployment["properties"]["environmentVariables"]
    assert json.loads(env["CLOUDSERVE_INPUT_COLUMNS"]) == ["a", "b", "c", "d"]  # rows logged by name
    uploaded = [k for k in azure.state.blobs if k.endswith("/MLTable")]
    assert uploaded and b"read_delimited" in azure.state.blobs[uploaded[0]]

    # read back: an unchanged spec plans nothing
    observed = provider.observe(NAME)
    assert observed is not None and observed.capture_percent == 20
    assert observed.monitoring_hash is not None
    assert not make_plan(spec, provider).actions

    # changed in place: a new threshold is an update_endpoint, the schedule keeps its identity
    created = found["systemData"]["createdAt"]
    changed = drift_spec(threshold=0.25)
    plan = make_plan(changed, provider)
    assert [a.key for a in plan.actions] == ["update_endpoint"]
    assert any(c.field == "monitoring" for c in plan.actions[0].changes)
    uploads = len(azure.state.blobs)
    run(changed, provider)
    found = schedule(azure)
    assert found is not None and found["systemData"]["createdAt"] == created
    assert thresholds(found["properties"]["action"]["monitorDefinition"]["signals"]["drift-stable"]) == {
        "Numerical": ("NormalizedWassersteinDistance", 0.25),
        "Categorical": ("JensenShannonDistance", 0.25),
    }
    assert len(azure.state.blobs) == uploads  # the same baseline is not uploaded again
    assert not make_plan(changed, provider).actions

    # destroyed with the endpoint
    destroy(changed, provider=provider)
    assert schedule(azure) is None
    assert provider.observe(NAME) is None


def test_schedule_follows_versions_and_goes_when_drift_is_removed(
    drift_spec: Callable[..., Deployment], provider: AzureMLProvider, azure: AzureMLEmulator
) -> None:
    run(drift_spec(), provider)
    two = drift_spec({"stable": "a", "candidate": "b"})
    run(two, provider)
    found = schedule(azure)
    assert found is not None
    assert set(found["properties"]["action"]["monitorDefinition"]["signals"]) == {
        "drift-stable",
        "drift-stable-a",
        "drift-candidate",
        "drift-candidate-a",
    }
    assert not make_plan(two, provider).actions
    off = drift_spec({"stable": "a", "candidate": "b"}, off=True)
    assert [a.key for a in make_plan(off, provider).actions] == ["update_endpoint"]
    run(off, provider)
    assert schedule(azure) is None
    assert not make_plan(off, provider).actions


def test_schedule_is_checked_at_plan_time(
    drift_spec: Callable[..., Deployment], provider: AzureMLProvider
) -> None:
    assert dr.recurrence("hourly") == ("hour", 1) and dr.recurrence("6h") == ("hour", 6)
    assert dr.window("daily") == "P1D" and dr.window("30m") == "PT30M"
    desired = build_desired(drift_spec(schedule="every full moon"), provider)
    assert any("monitoring.drift.schedule" in p for p in provider.validate(desired))
    webhook = build_desired(drift_spec(alert={"webhook": "http://127.0.0.1:9/hook"}), provider)
    assert any("alert by e-mail only" in p for p in provider.validate(webhook))  # never silently dropped
    # A remote baseline used to pass plan and fail at apply reading a path made of its URI.
    remote = build_desired(drift_spec(baseline="azureml://datastores/x/paths/train.csv"), provider)
    assert any("spec.monitoring.drift.baseline" in p and "is remote" in p for p in provider.validate(remote))
    assert provider.validate(build_desired(drift_spec(), provider)) == []


# --- the emulator's rules for schedules, straight to the REST API ------------------------------


def _body(azure: AzureMLEmulator, **change: Any) -> dict[str, Any]:
    ws = azure.state.workspace_path
    signal = {
        "signalType": "DataDrift",
        "productionData": {
            "inputDataType": "Fixed",
            "jobInputType": "uri_folder",
            "uri": f"{ws}/data/churn-stable-model_inputs/versions/1",
        },
        "referenceData": {
            "inputDataType": "Fixed",
            "jobInputType": "uri_folder",
            "uri": f"{ws}/data/churn-stable-model_inputs/versions/1",
        },
        "metricThresholds": [
            {"dataType": "Numerical", "metric": "normalizedWassersteinDistance", "threshold": {"value": 0.1}}
        ],
    }
    signal.update(change.pop("signal", {}))
    definition = {
        "computeConfiguration": {
            "computeType": "ServerlessSpark",
            "instanceType": "standard_e4s_v3",
            "runtimeVersion": "3.4",
            "computeIdentity": {"computeIdentityType": "AmlToken"},
        },
        "signals": {"drift": signal},
        "alertNotificationSetting": {
            "alertNotificationType": "Email",
            "emailNotificationSetting": {"emails": change.pop("emails", [])},
        },
    }
    props = {
        "action": {"actionType": "CreateMonitor", "monitorDefinition": definition},
        "trigger": change.pop("trigger", {"triggerType": "Recurrence", "frequency": "Day", "interval": 1}),
        "tags": change.pop("tags", {}),
    }
    return {"properties": props}


# (schedule name, change to a valid body, the emulator's message, what the REST models say
# of the body: "" where only the service's own rules refuse it, not the OpenAPI).
BAD_SCHEDULES: list[tuple[str, dict[str, Any], str, str]] = [
    ("-bad", {}, "must match", ""),
    (
        "ok",
        {"trigger": {"triggerType": "Recurrence", "frequency": "Fortnight", "interval": 1}},
        "frequency",
        "trigger.frequency: 'Fortnight' is not a known RecurrenceFrequency value",
    ),
    ("ok", {"trigger": {"triggerType": "Recurrence", "frequency": "Day", "interval": 0}}, "interval", ""),
    (
        "ok",
        {
            "signal": {
                "metricThresholds": [
                    {
                        "dataType": "Categorical",
                        "metric": "normalizedWassersteinDistance",
                        "threshold": {"value": 1},
                    }
                ]
            }
        },
        "not a Categorical data drift metric",
        "metric: 'normalizedWassersteinDistance' is not a known CategoricalDataDriftMetric value",
    ),
    (
        "ok",
        {
            "signal": {
                "metricThresholds": [{"dataType": "Numerical", "metric": "psi", "threshold": {"value": 1}}]
            }
        },
        "not a Numerical",
        "metric: 'psi' is not a known NumericalDataDriftMetric value",
    ),
    (
        "ok",
        {
            "signal": {
                "referenceData": {
                    "inputDataType": "Fixed",
                    "jobInputType": "mltable",
                    "uri": "azureml:nope:1",
                }
            }
        },
        "does not exist",
        "",
    ),
    ("ok", {"emails": ["not-an-address"]}, "e-mail", ""),
    ("ok", {"tags": {"a/b": "v"}}, "cannot contain", ""),
]


def test_emulator_enforces_schedule_rules(
    drift_spec: Callable[..., Deployment],
    provider: AzureMLProvider,
    azure: AzureMLEmulator,
    wire_check: WireChecker,
) -> None:
    """Past the SDK's own checks: what the REST API refuses, the emulator refuses."""
    run(drift_spec(), provider)
    # azure-ai-ml writes schedules at 2023-06-01-preview; these bodies are bad on purpose.
    base = f"https://management.azure.com{azure.state.workspace_path}/schedules"
    version = "?api-version=2023-06-01-preview"
    wire_check.raise_on_problem = False
    for name, change, message, model_says in BAD_SCHEDULES:
        reply = requests.put(f"{base}/{name}{version}", json=_body(azure, **change), timeout=5)
        assert reply.status_code == 400, (name, change, reply.text)
        assert message in reply.json()["error"]["message"], (change, reply.text)
        found = wire_check.take()
        assert (model_says in found[0]) if model_says else not found, (change, found)
    wire_check.raise_on_problem = True
    reply = requests.put(f"{base}/fine{version}", json=_body(azure), timeout=5)
    assert reply.status_code == 201, reply.text


def test_scoring_script_logs_named_inputs_for_the_monitor(
    models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """score.py logs each request's rows under the baseline's column names, and the
    predictions, through azureml-ai-monitoring's Collector (stood in for here: the package is
    only installed in Azure's serving image)."""
    logged: dict[str, list[Any]] = {}

    class Collector:
        def __init__(self, name: str) -> None:
            self.name = name

        def collect(self, frame: Any, context: Any = None) -> str:
            logged.setdefault(self.name, []).append((frame, context))
            return "ctx"

    score = _score_module(monkeypatch, models, Collector)
    rows = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]
    result = score.run(json.dumps({"instances": rows}))
    assert result["predictions"] == models["a"].predict(rows).tolist()
    (inputs, context), (outputs, out_context) = logged["model_inputs"][0], logged["model_outputs"][0]
    assert list(inputs.columns) == ["a", "b", "c", "d"] and inputs.shape == (2, 4)
    assert context is None and out_context == "ctx"
    assert list(outputs["prediction"]) == result["predictions"]


def _score_module(monkeypatch: pytest.MonkeyPatch, models: dict[str, Any], collector: type) -> Any:
    """score.py, loaded as Azure's inference server loads it, with a stand-in Collector."""
    import importlib.util
    import sys
    import types

    from cloudserve_azureml import translate
    from cloudserve_azureml.testing import _provide_server_api

    _provide_server_api()  # the inference server's AMLResponse, installed only in Azure's image
    fake = types.ModuleType("azureml.ai.monitoring")
    fake.Collector = collector  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azureml.ai.monitoring", fake)
    path = translate.scoring_code_dir() / translate.SCORING_SCRIPT
    spec = importlib.util.spec_from_file_location("_score_shapes", path)
    assert spec is not None and spec.loader is not None
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(models["a_path"].parent))
    monkeypatch.setenv(
        translate.MODEL_SPEC_ENV, json.dumps({"framework": "sklearn", "subdir": models["a_path"].name})
    )
    monkeypatch.setenv(translate.INPUT_COLUMNS_ENV, json.dumps(["a", "b", "c", "d"]))
    score.init()
    return score


_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]


@pytest.mark.parametrize(
    "body",
    [
        {"instances": _ROWS},
        {"inputs": _ROWS},
        {"data": _ROWS},
        {"input_data": _ROWS},
        {"input_data": {"columns": ["a", "b", "c", "d"], "index": [0, 1], "data": _ROWS}},
        _ROWS,
    ],
    ids=["instances", "inputs", "data", "input_data-list", "input_data-split", "bare-list"],
)
def test_scoring_script_answers_and_logs_every_body_shape(
    body: Any, models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    logged: dict[str, list[Any]] = {}

    class Collector:
        def __init__(self, name: str) -> None:
            self.name = name

        def collect(self, frame: Any, context: Any = None) -> str:
            logged.setdefault(self.name, []).append(frame)
            return "ctx"

    score = _score_module(monkeypatch, models, Collector)
    result = score.run(json.dumps(body))
    assert result["predictions"] == models["a"].predict(_ROWS).tolist()
    inputs = logged["model_inputs"][0]
    assert list(inputs.columns) == ["a", "b", "c", "d"] and inputs.shape == (2, 4)
    assert list(logged["model_outputs"][0]["prediction"]) == result["predictions"]


def test_scoring_script_serves_when_data_collection_is_off(
    models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """azureml-ai-monitoring's Collector raises when the deployment has no data collector;
    init() must not die with it (the worker would never answer)."""

    class Collector:
        def __init__(self, name: str) -> None:
            raise RuntimeError("data collection is not enabled")

    score = _score_module(monkeypatch, models, Collector)
    assert score.run(json.dumps({"instances": _ROWS}))["predictions"] == models["a"].predict(_ROWS).tolist()


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (json.dumps({"rows": _ROWS}), "send"),
        (json.dumps({"instances": 3}), "send"),
        (json.dumps("text"), "send"),
        (json.dumps({"input_data": {"data": 1}}), "send"),
        ("{not json", "not JSON"),
        (json.dumps({"instances": [[1.0, 2.0]]}), "feature"),  # a row of the wrong width
    ],
)
def test_scoring_script_answers_a_bad_body_with_a_400_naming_what_to_send(
    raw: str, says: str, models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 with a JSON message through the server's AMLResponse; an exception from run()
    would be the inference server's 500."""
    score = _score_module(monkeypatch, models, type("Collector", (), {"__init__": lambda s, name: None}))
    answer = score.run(raw)
    assert answer.status_code == 400
    assert says in json.loads(answer.get_data(as_text=True))["error"]
