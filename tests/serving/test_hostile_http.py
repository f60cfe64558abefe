"""Hostile and careless requests against the HTTP runtime (issue 14 items 6 and 7).

Admin calls with a missing or malformed body are 400 and change nothing; bodies over
the limit are 413; a client's malformed request is a client error, not a server error,
in the metrics rollout gates read; and a property test throws arbitrary bodies, content
types and headers at the data plane: every answer is a JSON error or a prediction,
never a 5xx or a traceback, and the endpoint serves afterwards.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudserve.serving.admin import Admin
from cloudserve.serving.app import MAX_BODY, ServingApp
from cloudserve.serving.local_server import build_endpoint

TOKEN = "t0ken"
AUTH = {"X-Cloudserve-Token": TOKEN}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path, server_thread: Any) -> Iterator[Any]:
    state = tmp_path_factory.mktemp("state")
    model = {"config_hash": "1", "model": {"uri": str(models_dir / "skops")}, "image": None, "env": {}}
    document = {
        "name": "hostile",
        "versions": {"a": {**model, "base_dir": None}, "b": {**model, "base_dir": None}},
        "traffic": {"a": 100, "b": 0},
        "mirror": {},
        "tags": {},
        "capture": None,
    }
    endpoint = build_endpoint(document, state)
    app = ServingApp(endpoint, admin=Admin(endpoint, TOKEN, state))
    with server_thread(app) as running:
        running.state_dir = state
        yield running


def admin_raw(server: Any, method: str, path: str, data: bytes | None) -> requests.Response:
    return requests.request(method, f"{server.url}/_cloudserve/{path}", data=data, headers=AUTH, timeout=30)


def traffic_now(server: Any) -> dict[str, int]:
    state = requests.get(f"{server.url}/_cloudserve/state", headers=AUTH, timeout=10).json()
    return dict(state["traffic"])


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (None, "body is empty"),
        (b"", "body is empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"{}", "lacks traffic"),
        (b'{"mirror": {"b": 10}}', "lacks traffic"),
        (b'{"traffic": {}}', "at least one version"),
        (b'{"traffic": [100]}', "{version: percent} objects"),
        (b'{"traffic": {"a": 100}, "weights": {}}', "unknown field(s) weights"),
    ],
)
def test_admin_traffic_with_a_bad_body_is_400_and_changes_nothing(
    server: Any, body: bytes | None, why: str
) -> None:
    before = traffic_now(server)
    answer = admin_raw(server, "PUT", "traffic", body)
    assert answer.status_code == 400, answer.text
    assert why in answer.json()["error"]
    assert traffic_now(server) == before
    stored = (
        json.loads((server.state_dir / "endpoint.json").read_text())
        if (server.state_dir / "endpoint.json").exists()
        else {"traffic": before}
    )
    assert stored["traffic"] == before


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("tags", "PATCH", b""),
        ("tags", "PATCH", b'["x"]'),
        ("tags", "PATCH", b'{"team": {"nested": 1}}'),
        ("versions/c", "PUT", b""),
        ("versions/c", "PUT", b"null"),
        ("capture", "PUT", b"[1]"),
    ],
)
def test_other_admin_routes_refuse_malformed_bodies(server: Any, path: str, method: str, body: bytes) -> None:
    before = requests.get(f"{server.url}/_cloudserve/state", headers=AUTH, timeout=10).json()
    answer = admin_raw(server, method, path, body)
    assert answer.status_code == 400, answer.text
    after = requests.get(f"{server.url}/_cloudserve/state", headers=AUTH, timeout=10).json()
    assert {k: after[k] for k in ("tags", "versions", "capture")} == {
        k: before[k] for k in ("tags", "versions", "capture")
    }


def test_an_over_size_body_is_413(server: Any) -> None:
    big = b"[" + b"1," * (MAX_BODY // 2) + b"1]"
    answer = requests.post(server.url + "/invocations", data=big, timeout=30)
    assert answer.status_code == 413 and "over" in answer.json()["error"]

    def chunks() -> Iterator[bytes]:  # no content-length: refused as the chunks add up
        for _ in range(MAX_BODY // 65536 + 2):
            yield b" " * 65536

    answer = requests.post(server.url + "/invocations", data=chunks(), timeout=30)
    assert answer.status_code == 413
    answer = admin_raw(server, "PUT", "traffic", big)
    assert answer.status_code == 413


def test_a_lying_content_length_is_refused_without_reading(server: Any) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {MAX_BODY * 100}\r\n\r\n".encode()
        )
        head = conn.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413")


def test_client_errors_are_counted_apart_from_server_errors(server: Any, rows: list[Any]) -> None:
    def window() -> dict[str, Any]:
        got = requests.get(f"{server.url}/_cloudserve/metrics?window=60", headers=AUTH, timeout=10)
        return dict(got.json()["a"])

    before = window()
    for _ in range(5):  # a wrong width: the model refuses it, the caller's mistake
        answer = requests.post(server.url + "/invocations", json={"instances": [[1.0, 2.0]]}, timeout=10)
        assert answer.status_code == 400
    assert requests.post(server.url + "/invocations", json={"instances": rows}, timeout=10).ok
    after = window()
    assert after["errors"] == before["errors"]
    assert after["client_errors"] == before["client_errors"] + 5
    assert after["requests"] == before["requests"] + 6
    text = requests.get(server.url + "/metrics", timeout=10).text
    assert 'cloudserve_client_errors_total{version="a"}' in text


# Header values requests will send (it refuses leading or trailing whitespace).
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.strip)
CONTENT_TYPES = (
    st.sampled_from(
        ["application/json", "text/csv", "application/x-npy", "application/jsonlines", "text/plain", ""]
    )
    | HEADER_TEXT
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
BODIES = (
    st.binary(max_size=2048)
    | JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | st.fixed_dictionaries({"instances": JSON_VALUES}).map(lambda v: json.dumps(v).encode())
    | st.lists(st.lists(st.floats(allow_nan=True), max_size=25), max_size=4).map(
        lambda rows: "\n".join(",".join(map(str, r)) for r in rows).encode()
    )
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, content_type=CONTENT_TYPES, accept=CONTENT_TYPES, forced=st.none() | HEADER_TEXT)
def test_any_request_gets_a_json_answer_and_never_a_server_error(
    server: Any, body: bytes, content_type: str, accept: str, forced: str | None
) -> None:
    headers = {"Content-Type": content_type, "Accept": accept}
    if forced is not None:
        headers["X-Cloudserve-Version"] = forced
    answer = requests.post(server.url + "/invocations", data=body, headers=headers, timeout=10)
    assert answer.status_code < 500 or answer.status_code == 503, (answer.status_code, answer.text)
    assert "Traceback" not in answer.text
    if answer.status_code != 200:
        error = answer.json()["error"]
        assert isinstance(error, str) and len(error) < 2000
    assert requests.get(server.url + "/ping", timeout=10).status_code == 200
