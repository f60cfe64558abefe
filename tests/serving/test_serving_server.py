"""The multi-version server over real HTTP: data plane, routing, mirror, admin API, capture."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from cloudserve.serving.admin import Admin
from cloudserve.serving.app import ServingApp
from cloudserve.serving.local_server import build_endpoint

TOKEN = "t0ken"
AUTH = {"X-Cloudserve-Token": TOKEN}


def version(uri: Path, **model: Any) -> dict[str, Any]:
    return {
        "config_hash": uri.name,
        "model": {"uri": str(uri), **model},
        "image": None,
        "env": {},
        "base_dir": None,
    }


@pytest.fixture
def server(tmp_path: Path, models_dir: Path, server_thread: Any) -> Iterator[Any]:
    document = {
        "name": "demo",
        "versions": {
            "a": version(models_dir / "joblib", trust_pickle=True),
            "b": version(models_dir / "skops"),
        },
        "traffic": {"a": 100, "b": 0},
        "mirror": {},
        "tags": {"team": "x"},
        "capture": None,
    }
    endpoint = build_endpoint(document, tmp_path)
    admin = Admin(endpoint, TOKEN, tmp_path)
    app = ServingApp(endpoint, admin=admin)
    with server_thread(app) as running:
        running.state_dir = tmp_path
        yield running


def predict(server: Any, body: Any, **headers: str) -> requests.Response:
    return requests.post(f"{server.url}/invocations", json=body, headers=headers, timeout=10)


def test_predictions_match_the_model(server: Any, logreg: Any, rows: list[Any]) -> None:
    want = logreg.predict(np.asarray(rows)).tolist()
    for path in ("/invocations", "/predict"):
        answer = requests.post(server.url + path, json={"instances": rows}, timeout=10)
        assert answer.status_code == 200
        assert answer.json() == {"predictions": want}
        assert answer.headers["x-cloudserve-version"] == "a"
    assert predict(server, rows).json()["predictions"] == want  # a bare list


def test_csv_in_and_out(server: Any, logreg: Any, rows: list[Any]) -> None:
    body = "\n".join(",".join(repr(v) for v in row) for row in rows)
    answer = requests.post(
        server.url + "/invocations",
        data=body,
        timeout=10,
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv"
    want = logreg.predict(np.asarray(rows)).tolist()
    assert [int(line) for line in answer.text.splitlines()] == want


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b'{"rows": []}', "application/json", 400),
        (b'{"instances": [[1, 2]]}', "application/json", 400),
        (b'{"instances": [["x", "y"]]}', "application/json", 400),
        (b"1,2\n3", "text/csv", 400),
        (b"nan" + b",0" * 19, "text/csv", 400),  # LogisticRegression refuses missing values
        (b"\xff\xfe", "text/csv", 400),
    ],
)
def test_bad_input_is_a_json_4xx(server: Any, body: bytes, ctype: str, status: int) -> None:
    answer = requests.post(
        server.url + "/invocations", data=body, timeout=10, headers={"Content-Type": ctype}
    )
    assert answer.status_code == status
    assert "Traceback" not in answer.text
    assert isinstance(answer.json()["error"], str)


def test_startup_hides_loaded_models_from_the_collector(server: Any) -> None:
    import gc

    assert gc.get_freeze_count() > 0  # full collections then skip the models and libraries


def test_routes_and_health(server: Any) -> None:
    assert requests.get(server.url + "/ping", timeout=10).status_code == 200
    assert requests.get(server.url + "/", timeout=10).text == "Healthy"
    assert requests.get(server.url + "/nope", timeout=10).status_code == 404
    assert requests.get(server.url + "/invocations", timeout=10).status_code == 405
    # A HEAD answer has no body: the coalesced head must still go out, not wait for one.
    assert requests.head(server.url + "/ping", timeout=10).status_code == 405


def test_forced_version(server: Any, rows: list[Any]) -> None:
    answer = predict(server, {"instances": rows}, **{"X-Cloudserve-Version": "b"})
    assert answer.headers["x-cloudserve-version"] == "b"
    answer = predict(server, {"instances": rows}, **{"X-Amzn-SageMaker-Target-Variant": "b"})
    assert answer.headers["x-cloudserve-version"] == "b"
    answer = predict(server, {"instances": rows}, **{"X-Cloudserve-Version": "zzz"})
    assert answer.status_code == 404


def admin(server: Any, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{server.url}/_cloudserve/{path}", json=body, headers=AUTH, timeout=30)


def test_admin_needs_the_token(server: Any) -> None:
    assert requests.get(server.url + "/_cloudserve/state", timeout=10).status_code == 401
    bad = {"X-Cloudserve-Token": "wrong"}
    assert requests.get(server.url + "/_cloudserve/state", headers=bad, timeout=10).status_code == 401


def test_weighted_split_and_shift(server: Any, rows: list[Any]) -> None:
    assert admin(server, "PUT", "traffic", {"traffic": {"a": 50, "b": 50}}).status_code == 200
    seen = Counter(
        predict(server, {"instances": rows[:1]}).headers["x-cloudserve-version"] for _ in range(200)
    )
    assert seen["a"] > 40 and seen["b"] > 40
    assert admin(server, "PUT", "traffic", {"traffic": {"a": 0, "b": 100}}).status_code == 200
    seen = Counter(
        predict(server, {"instances": rows[:1]}).headers["x-cloudserve-version"] for _ in range(20)
    )
    assert seen == {"b": 20}
    stored = json.loads((server.state_dir / "endpoint.json").read_text())
    assert stored["traffic"] == {"a": 0, "b": 100}


def test_traffic_validation(server: Any) -> None:
    for body in (
        {"traffic": {"a": 60, "b": 60}},
        {"traffic": {"zzz": 100}},
        {"traffic": {"a": 100}, "mirror": {"zzz": 10}},
    ):
        answer = admin(server, "PUT", "traffic", body)
        assert answer.status_code == 422, body
        assert answer.json()["error"]


def test_mirror_is_recorded_never_returned(server: Any, rows: list[Any], tmp_path: Path) -> None:
    capture_dir = tmp_path / "cap"
    assert admin(server, "PUT", "capture", {"sample_percent": 100, "destination": str(capture_dir)}).ok
    assert admin(server, "PUT", "traffic", {"traffic": {"a": 100}, "mirror": {"b": 100}}).ok
    for _ in range(10):
        assert predict(server, {"instances": rows[:2]}).headers["x-cloudserve-version"] == "a"
    metrics = _wait(
        lambda: admin(server, "GET", "metrics?window=60").json(), lambda m: m["b"]["requests"] >= 10
    )
    assert metrics["a"]["requests"] >= 10 and metrics["a"]["latency_p99_ms"] > 0
    records = _wait(lambda: _captured(capture_dir), lambda r: len(r) >= 20)
    shadows = [r for r in records if r["shadow"]]
    assert {r["version"] for r in shadows} == {"b"} and len(shadows) == 10
    first = records[0]
    assert set(first) == {"ts", "version", "shadow", "request", "response", "latency_ms"}
    assert first["request"] == {"instances": rows[:2]}
    assert len(first["response"]["predictions"]) == 2


def _captured(directory: Path) -> list[dict[str, Any]]:
    lines = [line for f in sorted(directory.glob("*.jsonl")) for line in f.read_text().splitlines()]
    return [json.loads(line) for line in lines]


def _wait(fetch: Any, done: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch() if callable(fetch) else fetch
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_put_version_swaps_and_bad_model_leaves_serving_untouched(
    server: Any, models_dir: Path, tmp_path: Path, rows: list[Any]
) -> None:
    (tmp_path / "broken.joblib").write_bytes(b"nope")
    answer = admin(server, "PUT", "versions/a", version(tmp_path / "broken.joblib", trust_pickle=True))
    assert answer.status_code == 422
    assert "not a readable joblib" in answer.json()["error"]
    assert predict(server, {"instances": rows}).status_code == 200
    answer = admin(server, "PUT", "versions/c", version(models_dir / "xgb-json"))
    assert answer.status_code == 200 and answer.json()["status"] == "ready"
    answer = predict(server, {"instances": rows}, **{"X-Cloudserve-Version": "c"})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == len(rows)
    state = admin(server, "GET", "state").json()
    assert state["versions"]["c"]["status"] == "ready" and state["pid"] > 0
    assert state["tags"] == {"team": "x"}


def test_delete_version(server: Any) -> None:
    assert admin(server, "DELETE", "versions/a").status_code == 409
    assert admin(server, "DELETE", "versions/b").status_code == 200
    assert admin(server, "DELETE", "versions/b").status_code == 404
    assert "b" not in admin(server, "GET", "state").json()["versions"]


def test_tags(server: Any) -> None:
    assert admin(server, "PATCH", "tags", {"lease": "me", "team": None}).json() == {"tags": {"lease": "me"}}


def test_failing_handler_counts_errors(server: Any, tmp_path: Path, models_dir: Path) -> None:
    model_dir = tmp_path / "failing"
    model_dir.mkdir()
    (model_dir / "handler.py").write_text((models_dir / "handler" / "handler.py").read_text())
    (model_dir / "params.json").write_text('{"scale": 1, "fail": true}')
    assert admin(server, "PUT", "versions/bad", version(model_dir)).ok
    answer = predict(server, {"instances": [[1, 2]]}, **{"X-Cloudserve-Version": "bad"})
    assert answer.status_code == 500
    assert "handler asked to fail" in answer.json()["error"]
    assert answer.headers["x-cloudserve-version"] == "bad"  # a failure names its version too
    assert admin(server, "GET", "metrics?window=30").json()["bad"]["errors"] == 1
    text = requests.get(server.url + "/metrics", timeout=10).text
    assert 'cloudserve_errors_total{version="bad"} 1.0' in text
    assert 'cloudserve_request_latency_seconds_bucket{le="+Inf",version="bad"} 1.0' in text


def test_admin_shutdown_stops_the_server(server: Any) -> None:
    assert admin(server, "POST", "shutdown").json() == {"stopping": True}
    server.thread.join(10)
    assert not server.thread.is_alive()


def test_traffic_shifts_under_load_fail_no_request(server: Any, rows: list[Any]) -> None:
    """100/0 -> 50/50 -> 0/100 -> 100/0 while 4 clients keep sending: zero failures."""
    import threading

    failures: list[str] = []
    seen: Counter[str] = Counter()
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                answer = session.post(server.url + "/invocations", json={"instances": rows[:1]}, timeout=10)
                if answer.status_code != 200:
                    failures.append(answer.text)
                seen[answer.headers.get("x-cloudserve-version", "?")] += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for split in ({"a": 100, "b": 0}, {"a": 50, "b": 50}, {"a": 0, "b": 100}, {"a": 100, "b": 0}):
            before = sum(seen.values())
            assert admin(server, "PUT", "traffic", {"traffic": split}).ok
            _wait(lambda: sum(seen.values()), lambda n, b=before: n >= b + 50)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    assert seen["a"] > 0 and seen["b"] > 0
