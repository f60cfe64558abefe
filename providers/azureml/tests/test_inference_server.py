"""cloudserve's Azure ML deployment under Azure's own inference server.

``azureml-inference-server-http`` 1.5.1 (``azmlinfsrv``, what Azure ML's prebuilt inference
images run) is started from the environment scripts/test-envs.sh builds from cloudserve's
conda-file pip list (``translate.conda_pip_pins``), on the code folder cloudserve uploads
(``translate.code_folder()``) and a model folder laid out as Azure mounts the model asset,
with the environment variables ``translate.deployment_entity`` gives the deployment. Each
server binds 127.0.0.1 on a free port; nothing leaves the machine.

Data collection runs through the real ``azureml-ai-monitoring`` Collector inside the server.
Only Azure's side is stood in for: the data collector agent the Collector posts each payload
to (``azureml.ai.monitoring.worker.sender.MdcSender.send``: ``POST
http://AZUREML_MDC_HOST:AZUREML_MDC_PORT/modeldata/log``) is a loopback receiver here, and
the collector config Azure provides (``AZUREML_MDC_CONFIG_PATH``, read by
``azureml.ai.monitoring.config.config.loadConfig``) is written from the deployment's
DataCollector.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudserve_azureml import translate as tr
from cloudserve_azureml.provider import AzureMLProvider

from cloudserve.desired import build_desired
from cloudserve.spec.models import Deployment

pytestmark = pytest.mark.slow

COLUMNS = ["a", "b", "c", "d"]
# Iris rows from each of the three classes.
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [6.7, 3.0, 5.2, 2.3], [4.9, 3.0, 1.4, 0.2]]
START_DEADLINE = 90.0  # seconds for the server to answer its health route
COLLECT_DEADLINE = 15.0  # seconds for the Collector's worker thread to deliver a payload

# azmlinfsrv as Azure's image starts it, but on loopback: amlserver.run() binds the module
# global amlserver.DEFAULT_HOST ("0.0.0.0", star-imported from constants) through
# amlserver_linux.run's gunicorn "-b host:port", so setting it first is enough.
LAUNCHER = """\
import sys

import azureml_inference_server_http.amlserver as server

server.DEFAULT_HOST = "127.0.0.1"
sys.argv = ["azmlinfsrv", *sys.argv[1:]]
server.run()
"""

# (body, the rows in it, the column names it carries): every shape score.rows_of accepts.
SHAPES: dict[str, tuple[Any, list[Any], list[str] | None]] = {
    "instances": ({"instances": ROWS}, ROWS, None),
    "inputs": ({"inputs": ROWS}, ROWS, None),
    "input_data-list": ({"input_data": ROWS}, ROWS, None),
    "input_data-split": (
        {"input_data": {"columns": COLUMNS, "index": list(range(len(ROWS))), "data": ROWS}},
        ROWS,
        COLUMNS,
    ),
    "data": ({"data": ROWS}, ROWS, None),
    "bare-list": (ROWS, ROWS, None),
    # The runtime takes a flat list of the model's width as one row (loaders/tabular.py).
    "one-flat-row": ({"instances": ROWS[0]}, ROWS[0], None),
}

# Bodies that are the caller's mistake: each must be a 4xx with a JSON body, never a 500.
BAD_BODIES: dict[str, bytes] = {
    "not-json": b"{not json",
    "empty": b"",
    "not-utf8": b"\xff\xfe\x00",  # refused by the server itself (input_parsers.JsonStringInput)
    "wrong-width": json.dumps({"instances": [[1.0, 2.0]]}).encode(),
    "no-rows": json.dumps({"instances": []}).encode(),
    "no-row-key": json.dumps({"rows": ROWS}).encode(),
    "split-without-rows": json.dumps({"input_data": {"columns": COLUMNS, "data": []}}).encode(),
    "rows-not-a-list": json.dumps({"instances": 3}).encode(),
    "text-in-rows": json.dumps({"instances": [["x", "y", "z", "w"]]}).encode(),
}

SERVERS = ("plain", "collecting", "uncollected")


# --- Azure's side of a deployment, from cloudserve's own entities --------------------------


def deployment_doc(model_dir: Path, baseline: Path | None) -> Deployment:
    """One version serving ``model_dir``; drift monitoring (so data collection) with a baseline."""
    # All of it: below 100 % the real Collector drops payloads at random (JsonCollector.collect).
    monitoring = {"drift": {"baseline": str(baseline), "sampling_percent": 100}} if baseline else {}
    return Deployment.model_validate(
        {
            "metadata": {"name": "churn"},
            "spec": {
                "target": "azureml",
                "versions": {"stable": {"model": {"uri": str(model_dir), "framework": "sklearn"}}},
                "monitoring": monitoring,
            },
            "targets": {
                "azureml": {
                    "subscription_id": "00000000-0000-0000-0000-000000000000",
                    "resource_group": "rg",
                    "workspace": "ws",
                }
            },
        }
    )


@dataclass
class Layout:
    """A deployment as the container sees it: folders, environment, what the conda file pins."""

    app_root: Path
    entry_script: Path
    env: dict[str, str]
    model_spec: dict[str, Any]  # the version's model spec, for the local runtime
    pins: list[str]
    python: str  # the conda file's "python=X.Y"
    collections: dict[str, int] = field(default_factory=dict)  # name -> sample percent


def lay_out(root: Path, deployment: Deployment) -> Layout:
    """Folders and variables from translate's entities (azure.ai.ml's real ones, built
    offline), so the test follows whatever cloudserve would deploy."""
    from azure.ai.ml import entities as ent

    desired = build_desired(deployment, AzureMLProvider(None))
    version = desired.versions["stable"]
    assert version.spec.model is not None and version.instance_type is not None
    model = tr.model_entity(ent, desired, version)
    environment = tr.environment_entity(ent, desired, version)
    entity = tr.deployment_entity(ent, desired, version, version.instance_type, model, environment)
    # The code asset below AML_APP_ROOT, not on sys.path itself: the server adds only
    # AML_APP_ROOT (amlserver.set_path_variable, server/aml_blueprint.py).
    app_root = root / "azureml-app"
    code = app_root / "code"
    shutil.copytree(entity.code_configuration.code, code)
    # AZUREML_MODEL_DIR of a one-model deployment is <app root>/azureml-models/<name>/<version>
    # (server/appinsights_client.py, AppInsightsClient._get_model_ids), the registered folder
    # inside it under its own name (translate.model_subdir).
    model_dir = app_root / "azureml-models" / model.name / model.version
    shutil.copytree(model.path, model_dir / tr.model_subdir(desired, version))
    dependencies = environment.conda_file["dependencies"]
    collector = entity.data_collector
    return Layout(
        app_root=app_root,
        entry_script=code / entity.code_configuration.scoring_script,
        env={**entity.environment_variables, "AZUREML_MODEL_DIR": str(model_dir)},
        model_spec=version.spec.model.model_dump(mode="json", exclude_none=True),
        pins=next(d["pip"] for d in dependencies if isinstance(d, dict)),
        python=next(d for d in dependencies if isinstance(d, str) and d.startswith("python=")),
        collections={
            name: round(collector.sampling_rate * 100)
            for name, c in (collector.collections.items() if collector else ())
            if c.enabled == "true"
        },
    )


def collector_config(layout: Layout, path: Path) -> Path:
    """The config file azureml.ai.monitoring.config.config.loadConfig reads from
    AZUREML_MDC_CONFIG_PATH: {"runMode", "collections": {name: {enabled, sampleRatePercentage}}}."""
    collections = {n: {"enabled": True, "sampleRatePercentage": p} for n, p in layout.collections.items()}
    path.write_text(json.dumps({"runMode": "cloud", "collections": collections}))
    return path


# --- A stand-in for Azure's data collector agent --------------------------------------------


@dataclass
class Payload:
    collection: str  # from the ce-type header, "azureml.inference.<collection>"
    request_id: str | None  # ce-x-request-id: the correlation id inputs and outputs share
    records: list[dict[str, Any]]  # PandasFrameData.to_json(orient="records")


class CollectorAgent:
    """Receives what MdcSender._send_json posts, on 127.0.0.1."""

    def __init__(self) -> None:
        self.payloads: list[Payload] = []
        self._arrived = threading.Condition()
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payload = Payload(
                    collection=self.headers.get("ce-type", "").removeprefix("azureml.inference."),
                    request_id=self.headers.get("ce-x-request-id"),
                    records=json.loads(body),
                )
                with agent._arrived:
                    agent.payloads.append(payload)
                    agent._arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self._arrived:
            return len(self.payloads)

    def wait_for(self, count: int, timeout: float = COLLECT_DEADLINE) -> list[Payload]:
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.payloads) >= count, timeout)
            assert arrived, f"{count} payloads expected, {len(self.payloads)} arrived"
            return list(self.payloads)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- The server process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    layout: Layout
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, deadline: float) -> None:
        """Poll the health route (routes.health_probe, GET / on the scoring port: the separate
        health port exists only with SEPERATE_HEALTH_ENDPOINT=true, amlserver.merge_configuration)
        until it answers or the worker exits (gunicorn stops when init() fails, exit code 3)."""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"azmlinfsrv exited {self.process.returncode}:\n{self.log_text()[-4000:]}")
            try:
                if requests.get(f"{self.url}/", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or gunicorn's socket is up before its worker
            time.sleep(0.1)  # the poll interval, not a wait for the start
        pytest.fail(f"azmlinfsrv did not answer within {START_DEADLINE} s:\n{self.log_text()[-4000:]}")

    def stop(self) -> None:
        """The launcher and gunicorn's workers share a process group (start_new_session)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)


def start(python: Path, launcher: Path, layout: Layout, root: Path, extra: dict[str, str]) -> Server:
    port = free_port()
    env = {
        # A clean environment: nothing of the test venv's (PYTHONPATH, proxies) reaches the server.
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",  # the log is read by the tests
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "AML_APP_ROOT": str(layout.app_root),  # as Azure sets it (else amlserver uses the cwd)
        **layout.env,
        **extra,
    }
    log = root / "azmlinfsrv.log"
    with log.open("wb") as out:
        # args.parse_arguments: --entry_script becomes AZUREML_ENTRY_SCRIPT; AZUREML_MODEL_DIR
        # is kept from the environment (merge_configuration sets it only from --model_dir).
        process = subprocess.Popen(
            [str(python), str(launcher), "--entry_script", str(layout.entry_script), "--port", str(port)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(layout=layout, process=process, url=f"http://127.0.0.1:{port}", log=log)


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent() -> Iterator[CollectorAgent]:
    collector = CollectorAgent()
    yield collector
    collector.close()


@pytest.fixture(scope="module")
def servers(
    azureml_server_python: Path,
    models: dict[str, Any],
    agent: CollectorAgent,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Server]]:
    """Three deployments, started together:

    - plain: no drift monitoring, so no CLOUDSERVE_INPUT_COLUMNS and no Collector;
    - collecting: drift monitoring with Azure's data collector attached (the agent above);
    - uncollected: drift monitoring's CLOUDSERVE_INPUT_COLUMNS but no data collector, so
      the real Collector refuses (JsonCollector._validate_mdc_config raises).
    """
    root = tmp_path_factory.mktemp("azmlinfsrv")
    launcher = root / "launch_azmlinfsrv.py"
    launcher.write_text(LAUNCHER)
    baseline = root / "train.csv"
    baseline.write_text(",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n")
    started: dict[str, Server] = {}
    try:
        for name in SERVERS:
            home = root / name
            home.mkdir()
            layout = lay_out(home, deployment_doc(models["a_path"], None if name == "plain" else baseline))
            extra = {}
            if name == "collecting":
                config = collector_config(layout, home / "mdc-config.json")
                extra = {"AZUREML_MDC_CONFIG_PATH": str(config), "AZUREML_MDC_PORT": str(agent.port)}
            started[name] = start(azureml_server_python, launcher, layout, home, extra)
        deadline = time.monotonic() + START_DEADLINE
        for server in started.values():
            server.wait_ready(deadline)
        yield started
    finally:
        for server in started.values():
            server.stop()


@cache
def local_model(spec: str) -> Any:
    """The version's model as cloudserve's runtime loads it in this venv (the local target)."""
    from cloudserve.serving.loaders import load_model

    return load_model(json.loads(spec))


def local_predictions(server: Server, rows: list[Any]) -> list[Any]:
    predictions = local_model(json.dumps(server.layout.model_spec, sort_keys=True)).predict(rows)
    carried: list[Any] = json.loads(json.dumps(predictions))  # as JSON carries them
    return carried


def score(server: Server, body: bytes) -> requests.Response:
    return requests.post(
        f"{server.url}/score", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )


# --- Tests ----------------------------------------------------------------------------------


def test_the_environment_is_the_conda_file(azureml_server_python: Path, servers: dict[str, Server]) -> None:
    """The server runs on the conda file's Python with every pip pin at its exact version,
    for this deployment's model (its scikit-learn read from the artifact)."""
    layout = servers["collecting"].layout
    names = [p.split("==", 1)[0] for p in layout.pins]
    probe = (
        "import json, sys; from importlib import metadata; "
        f"print(json.dumps([sys.version_info[:2], {{n: metadata.version(n) for n in {names!r}}}]))"
    )
    done = subprocess.run(
        [str(azureml_server_python), "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    python, installed = json.loads(done.stdout)
    assert layout.python == f"python={python[0]}.{python[1]}", (layout.python, python)
    assert [f"{n}=={installed[n]}" for n in names] == layout.pins, "rebuild: bash scripts/test-envs.sh"


@pytest.mark.parametrize("name", SERVERS)
def test_health(servers: dict[str, Server], name: str) -> None:
    reply = requests.get(f"{servers[name].url}/", timeout=5)
    assert reply.status_code == 200 and reply.text == "Healthy"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", SERVERS)
def test_every_body_shape_predicts_as_the_local_runtime(
    servers: dict[str, Server], name: str, shape: str
) -> None:
    body, rows, _ = SHAPES[shape]
    server = servers[name]
    reply = score(server, json.dumps(body).encode())
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"predictions": local_predictions(server, rows)}


@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize("name", SERVERS)
def test_bad_bodies_are_json_4xx(servers: dict[str, Server], name: str, body: str) -> None:
    reply = score(servers[name], BAD_BODIES[body])
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text)
    assert reply.headers["Content-Type"] == "application/json"
    message = reply.json()
    # score.run's {"error"}; the server's own ErrorResponse {"message"} (server/routes.py).
    assert isinstance(message, dict) and (message.get("error") or message.get("message")), message


def as_table(rows: list[Any]) -> list[list[Any]]:
    """The rows as the model sees them: a flat list is one row (SHAPES["one-flat-row"])."""
    return [rows] if rows and not isinstance(rows[0], list) else rows


@pytest.mark.parametrize("shape", SHAPES)
def test_the_collector_gets_named_inputs_and_outputs(
    servers: dict[str, Server], agent: CollectorAgent, shape: str
) -> None:
    """model_inputs under the baseline's column names (or the split form's own), then
    model_outputs under the same correlation id, for every accepted body."""
    body, rows, named = SHAPES[shape]
    server = servers["collecting"]
    before = agent.count()
    reply = score(server, json.dumps(body).encode())
    assert reply.status_code == 200, reply.text
    inputs, outputs = agent.wait_for(before + 2)[before : before + 2]
    columns = named or json.loads(server.layout.env[tr.INPUT_COLUMNS_ENV])
    assert columns == COLUMNS
    assert (inputs.collection, outputs.collection) == ("model_inputs", "model_outputs")
    assert inputs.records == [dict(zip(columns, row, strict=True)) for row in as_table(rows)]
    assert outputs.records == [{"prediction": p} for p in reply.json()["predictions"]]
    assert inputs.request_id and inputs.request_id == outputs.request_id


def test_rejected_bodies_are_not_collected(servers: dict[str, Server], agent: CollectorAgent) -> None:
    """A body answered 400 logs nothing: the Collector's queue is first in, first out, so
    anything logged for them would arrive before the good body's two payloads."""
    server = servers["collecting"]
    before = agent.count()
    for body in BAD_BODIES.values():
        assert score(server, body).status_code == 400
    good = score(server, json.dumps({"instances": ROWS}).encode())
    assert good.status_code == 200
    arrived = agent.wait_for(before + 2)[before:]
    assert [p.collection for p in arrived[:2]] == ["model_inputs", "model_outputs"]
    assert arrived[1].records == [{"prediction": p} for p in good.json()["predictions"]]
    assert agent.count() == before + 2


def test_without_a_data_collector_the_real_collector_refuses_and_init_still_serves(
    servers: dict[str, Server],
) -> None:
    """azureml-ai-monitoring's Collector raises when no collector config is provided
    (azureml.ai.monitoring.init.init logs "data collector is not enabled", then
    JsonCollector._validate_mdc_config raises through its default on_error): score.init()
    serves without logging."""
    uncollected, plain = servers["uncollected"], servers["plain"]
    assert tr.INPUT_COLUMNS_ENV in uncollected.layout.env
    assert "data collector is not enabled" in uncollected.log_text()
    reply = score(uncollected, json.dumps({"instances": ROWS}).encode())
    assert reply.status_code == 200 and reply.json() == {"predictions": local_predictions(uncollected, ROWS)}
    # Without drift monitoring there is nothing to collect: no Collector is even made.
    assert tr.INPUT_COLUMNS_ENV not in plain.layout.env
    assert "init data collector" not in plain.log_text()


def test_nothing_unpinned_reaches_the_image(azureml_server_python: Path, servers: dict[str, Server]) -> None:
    """Everything pip put into the environment is on the conda file's list (the server's own
    dependencies come pinned from server-lock.txt), and the list is consistent (pip check)."""
    listed = {_canonical(pin) for pin in servers["collecting"].layout.pins}
    frozen = subprocess.run(
        [str(azureml_server_python), "-m", "pip", "freeze", "--all"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    tools = {"pip", "setuptools", "wheel"}  # the interpreter's own, not the list's
    extra = sorted(line for line in frozen if _canonical(line) not in listed | tools)
    assert extra == [], f"installed but not pinned in the conda file: {extra}"
    check = subprocess.run(
        [str(azureml_server_python), "-m", "pip", "check"], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout


def _canonical(pin: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(pin.split("==", 1)[0]))
