"""The discovery-document reader of the emulator's wire catches what it is meant to catch."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from cloudserve_vertex.emulator.api import ROUTES
from cloudserve_vertex.testing import Exchange, VertexEmulator

from .conftest import NUMBER, PROJECT
from .wire_check import WireChecker, find_route

LOC = f"/v1/projects/{NUMBER}/locations/us-central1"
INT_ENUMS = {"$alt": ["json;enum-encoding=int"]}
DEPLOY = {
    "deployedModel": {
        "model": f"projects/{NUMBER}/locations/us-central1/models/1",
        "displayName": "stable",
        "dedicatedResources": {
            "machineSpec": {"machineType": "n1-standard-2", "acceleratorType": 5, "acceleratorCount": 1},
            "minReplicaCount": 1,
            "maxReplicaCount": 2,
        },
    },
    "trafficSplit": {"0": 100},
}
DONE = {
    "name": f"{LOC}/endpoints/churn/operations/1".removeprefix("/v1/"),
    "done": True,
    "response": {
        "@type": "type.googleapis.com/google.cloud.aiplatform.v1.DeployModelResponse",
        "deployedModel": {"id": "1234567890", "model": "m", "createTime": "2026-01-02T03:04:05.123456Z"},
    },
}


def exchange(
    method: str,
    path: str,
    body: object = None,
    reply: object = None,
    *,
    status: int = 200,
    query: dict[str, list[str]] | None = None,
) -> Exchange:
    data = b"" if body is None else json.dumps(body).encode()
    return Exchange(
        method, path, query or {}, data, status, json.dumps(reply or {}).encode(), "application/json"
    )


def problems(ex: Exchange) -> list[str]:
    return WireChecker().problems(ex)


def test_a_good_deploy_passes() -> None:
    assert (
        problems(exchange("POST", f"{LOC}/endpoints/churn:deployModel", DEPLOY, DONE, query=INT_ENUMS)) == []
    )


def test_an_unknown_field_in_a_request_body_is_caught() -> None:
    body = json.loads(json.dumps(DEPLOY))
    body["deployedModel"]["dedicatedResources"]["machineSpec"]["machineTyp"] = "n1-standard-2"
    found = problems(exchange("POST", f"{LOC}/endpoints/churn:deployModel", body, DONE, query=INT_ENUMS))
    assert len(found) == 1 and "'machineTyp' was unexpected" in found[0], found
    assert "$.deployedModel.dedicatedResources.machineSpec" in found[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [("minReplicaCount", "1"), ("maxReplicaCount", 2.5), ("minReplicaCount", True)],
)
def test_a_wrong_type_in_a_request_body_is_caught(field: str, value: object) -> None:
    body = json.loads(json.dumps(DEPLOY))
    body["deployedModel"]["dedicatedResources"][field] = value
    found = problems(exchange("POST", f"{LOC}/endpoints/churn:deployModel", body, DONE, query=INT_ENUMS))
    assert found and all(field in f for f in found), found


def test_int64_is_a_string_and_timestamps_are_rfc3339() -> None:
    series = {
        "timeSeries": [
            {
                "metricKind": "DELTA",
                "valueType": "INT64",
                "points": [{"interval": {"endTime": "yesterday"}, "value": {"int64Value": 5}}],
            }
        ]
    }
    found = problems(exchange("GET", f"/v3/projects/{NUMBER}/timeSeries", reply=series))
    assert any("int64Value" in f and "not of type 'string'" in f for f in found), found
    assert any("endTime" in f and "google-datetime" in f for f in found), found


def test_a_bad_enum_value_in_a_reply_is_caught() -> None:
    job = {"name": "j", "displayName": "d", "state": "JOB_STATE_WAITING"}
    found = problems(exchange("GET", f"{LOC}/modelDeploymentMonitoringJobs/1", reply=job))
    assert len(found) == 1 and "'JOB_STATE_WAITING' is not one of" in found[0], found
    # a number is an enum value only in a request the client asked to send that way
    body = json.loads(json.dumps(DEPLOY))
    assert problems(exchange("POST", f"{LOC}/endpoints/churn:deployModel", body, DONE)) != []


def test_the_operation_response_is_read_as_the_type_it_names() -> None:
    wrong = json.loads(json.dumps(DONE))
    wrong["response"]["@type"] = "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse"
    found = problems(exchange("POST", f"{LOC}/endpoints/churn:deployModel", DEPLOY, wrong, query=INT_ENUMS))
    assert any("UploadModelResponse" in f and "'deployedModel' was unexpected" in f for f in found), found
    unknown = json.loads(json.dumps(DONE))
    unknown["response"]["@type"] = "type.googleapis.com/google.cloud.aiplatform.v1.NoSuchResponse"
    found = problems(exchange("POST", f"{LOC}/endpoints/churn:deployModel", DEPLOY, unknown, query=INT_ENUMS))
    assert any("names no schema" in f for f in found), found
    both = {**DONE, "error": {"code": 3, "message": "x"}}
    found = problems(exchange("POST", f"{LOC}/endpoints/churn:deployModel", DEPLOY, both, query=INT_ENUMS))
    assert any("exactly one of error, response" in f for f in found), found


def test_query_parameters_are_checked() -> None:
    query = {"$alt": ["json;enum-encoding=int"], "updateMask": ["trafficSplit"], "update_mask": ["labels"]}
    found = problems(
        exchange("PATCH", f"{LOC}/endpoints/churn", {"trafficSplit": {}}, {"name": "e"}, query=query)
    )
    assert len(found) == 1 and "'update_mask' is not a parameter" in found[0], found
    bad = {"interval.startTime": ["0"], "pageSize": ["ten"], "view": ["ALL"]}
    found = problems(exchange("GET", f"/v3/projects/{NUMBER}/timeSeries", reply={}, query=bad))
    assert len(found) == 3, found


def test_error_replies_are_read_as_google_rpc_status() -> None:
    ok = {"error": {"code": 404, "message": "gone", "status": "NOT_FOUND"}}
    assert problems(exchange("GET", f"{LOC}/endpoints/x", reply=ok, status=404)) == []
    mismatched = {"error": {"code": 405, "message": "no", "status": "INVALID_ARGUMENT"}}
    found = problems(exchange("DELETE", "/storage/v1/b/b/o/x", reply=mismatched, status=405))
    assert found == ["error.status INVALID_ARGUMENT maps to HTTP 400, not 405"], found
    detail = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}
    bad_detail = {"error": {**ok["error"], "code": 429, "status": "RESOURCE_EXHAUSTED", "details": [detail]}}
    found = problems(exchange("GET", f"{LOC}/endpoints/x", reply=bad_detail, status=429))
    assert len(found) == 1 and "retryDelay" in found[0], found


_M = "aiplatform.projects.locations"
CALLS = [
    ("POST", f"{LOC}/models:upload", f"{_M}.models.upload"),
    ("GET", f"{LOC}/models", f"{_M}.models.list"),
    ("GET", f"{LOC}/models/m1", f"{_M}.models.get"),
    ("DELETE", f"{LOC}/models/m1", f"{_M}.models.delete"),
    ("POST", f"{LOC}/endpoints", f"{_M}.endpoints.create"),
    ("GET", f"{LOC}/endpoints", f"{_M}.endpoints.list"),
    ("GET", f"{LOC}/endpoints/e", f"{_M}.endpoints.get"),
    ("PATCH", f"{LOC}/endpoints/e", f"{_M}.endpoints.patch"),
    ("DELETE", f"{LOC}/endpoints/e", f"{_M}.endpoints.delete"),
    ("POST", f"{LOC}/endpoints/e:deployModel", f"{_M}.endpoints.deployModel"),
    ("POST", f"{LOC}/endpoints/e:undeployModel", f"{_M}.endpoints.undeployModel"),
    ("POST", f"{LOC}/endpoints/e:mutateDeployedModel", f"{_M}.endpoints.mutateDeployedModel"),
    ("POST", f"{LOC}/endpoints/e:predict", f"{_M}.endpoints.predict"),
    ("POST", f"{LOC}/modelDeploymentMonitoringJobs", f"{_M}.modelDeploymentMonitoringJobs.create"),
    ("GET", f"{LOC}/modelDeploymentMonitoringJobs", f"{_M}.modelDeploymentMonitoringJobs.list"),
    ("GET", f"{LOC}/modelDeploymentMonitoringJobs/j", f"{_M}.modelDeploymentMonitoringJobs.get"),
    ("PATCH", f"{LOC}/modelDeploymentMonitoringJobs/j", f"{_M}.modelDeploymentMonitoringJobs.patch"),
    ("DELETE", f"{LOC}/modelDeploymentMonitoringJobs/j", f"{_M}.modelDeploymentMonitoringJobs.delete"),
    ("POST", f"{LOC}/modelDeploymentMonitoringJobs/j:pause", f"{_M}.modelDeploymentMonitoringJobs.pause"),
    ("POST", f"{LOC}/modelDeploymentMonitoringJobs/j:resume", f"{_M}.modelDeploymentMonitoringJobs.resume"),
    ("GET", f"{LOC}/operations/1", f"{_M}.operations.get"),
    ("GET", f"{LOC}/endpoints/e/operations/1", f"{_M}.endpoints.operations.get"),
    ("GET", f"{LOC}/models/m1/operations/1".replace("/v1/", "/ui/"), f"{_M}.models.operations.get"),
    ("GET", f"/v3/projects/{NUMBER}/timeSeries", "monitoring.projects.timeSeries.list"),
    ("GET", "/storage/v1/b/bucket", "storage.buckets.get"),
    ("GET", "/storage/v1/b/bucket/o", "storage.objects.list"),
    ("GET", "/storage/v1/b/bucket/o/a%2Fmodel.joblib", "storage.objects.get"),
    ("GET", "/download/storage/v1/b/bucket/o/a%2Fmodel.joblib", "storage.objects.get"),
    ("POST", "/upload/storage/v1/b/bucket/o", "storage.objects.insert"),
]


@pytest.mark.parametrize(("method", "path", "method_id"), CALLS)
def test_each_call_maps_to_its_discovery_method(method: str, path: str, method_id: str) -> None:
    route = find_route(method, path)
    assert route is not None and route.method["id"] == method_id


def test_every_emulated_route_has_a_mapped_sample() -> None:
    """A route added to the emulator needs a line in CALLS, so its mapping is tested."""
    for method, pattern, handler in ROUTES:
        assert any(m == method and pattern.match(p) for m, p, _ in CALLS), handler


def test_a_live_emulator_reply_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end through HTTP, with a checker of this test's own: a reply with a wrong
    type and a bad enum value is reported."""
    own = WireChecker()
    with VertexEmulator(projects={PROJECT: NUMBER}, wire_check=own) as emu:

        def broken(g: dict[str, str], q: dict[str, str], body: bytes) -> dict[str, Any]:
            return {"name": "e", "displayName": 7, "deployedModels": [{"id": "1", "status": {"x": 1}}]}

        monkeypatch.setattr(emu.state, "get_endpoint", broken)
        reply = requests.get(f"{emu.url}{LOC}/endpoints/churn", timeout=10)
        assert reply.status_code == 200
    found = own.take()
    assert own.checked == 1
    assert any("displayName" in f and "not of type 'string'" in f for f in found), found
    assert any("deployedModels" in f for f in found), found
