"""cloudserve's model.tar.gz under SageMaker's own scikit-learn serving stack.

The environment is the sagemaker-scikit-learn 1.4-2-py312 image's Python packages
(scripts/test-envs.sh: sagemaker-containers 2.8.6.post2, gunicorn with gevent, Flask 1.1.1,
scikit-learn 1.4.2, numpy 2.1.0 on Python 3.12) with nothing of cloudserve's. The archive is
extracted where SageMaker puts it (``SM_MODEL_DIR``), the container gets the environment
cloudserve's CreateModel gives it, and the image's ``serve`` path runs:
sagemaker-containers' ``server.start`` copies code/ and pip-installs it with its
requirements, then gunicorn serves. The archive is an offline one and pip is given no
index, so this also proves the container needs nothing from outside.

Differences from the real container, each forced by running here: the base folder is a
temporary ``opt/ml`` (``SAGEMAKER_BASE_DIR``), nginx is off (``SAGEMAKER_USE_NGINX``;
gunicorn then takes the port), gunicorn binds 127.0.0.1 instead of 0.0.0.0, and the image's
framework module is a restatement (sklearn_image/, not on PyPI).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cloudserve_sagemaker import translate as tr
from cloudserve_sagemaker.staging import offline_pins, pack_model

from cloudserve.provider import DesiredVersion, Scaling
from cloudserve.serving.loaders import load_model
from cloudserve.serving.wheels import cached_wheels
from cloudserve.spec.models import ModelSpec, VersionSpec

STANDIN = Path(__file__).resolve().parent / "sklearn_image"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]

# The image's `serve` command, with gunicorn's bind moved to loopback: server.start builds
# "0.0.0.0:<port>" itself, so its Popen call is the one place to change it.
_LAUNCHER = r"""
import subprocess
from sagemaker_containers import _server

_popen = subprocess.Popen

def _loopback(args, *rest, **options):
    if args and args[0] == "gunicorn":
        args = ["127.0.0.1:" + a.split(":", 1)[1] if a.startswith("0.0.0.0:") else a for a in args]
    return _popen(args, *rest, **options)

_server.subprocess.Popen = _loopback
from sagemaker_sklearn_container.serving import serving_entrypoint
serving_entrypoint()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _container_env(base: Path, image: Any, port: int, cache: Path) -> dict[str, str]:
    version = DesiredVersion(
        name="blue",
        spec=VersionSpec(model=ModelSpec(uri="./m", framework="sklearn")),
        config_hash="0",
        scaling=Scaling(min=1, max=1),
        instance_type="ml.m5.large",
    )
    env = image.env(PIP_CACHE_DIR=str(cache), PYTHONPATH=str(STANDIN))
    # What cloudserve's CreateModel sets, with /opt/ml moved under the temporary base.
    for key, value in tr.container_environment(version, "us-east-1", framework_image=True).items():
        env[key] = value.replace("/opt/ml", str(base)) if value.startswith("/opt/ml") else value
    env.update(
        # What the image's Dockerfile sets, and where SageMaker has the container listen.
        SAGEMAKER_SERVING_MODULE="sagemaker_sklearn_container.serving:main",
        SM_MODEL_DIR=str(base / "model"),
        SAGEMAKER_BASE_DIR=str(base),
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_USE_NGINX="false",
        SAGEMAKER_MODEL_SERVER_WORKERS="1",
    )
    return env


def _request(port: int, path: str, body: bytes | None = None, **headers: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the container exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if _request(port, "/ping")[0] == 200:
                return
        except (ConnectionError, urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"/ping never answered 200:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def container(
    sklearn_image: Callable[[Path], Any],
    sagemaker_wheels: Path,
    models: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("sm-image")
    source = models["a_path"]
    spec = ModelSpec(uri=str(source), framework="sklearn")
    pins = offline_pins(spec, source)
    wheels = cached_wheels(pins, sagemaker_wheels)
    if wheels is None:
        pytest.fail(f"the wheel cache lacks some of {pins}; run: bash scripts/test-envs.sh")
    archive = pack_model(source, spec, wheels)
    base = root / "opt" / "ml"
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(base / "model", filter="data")
    image = sklearn_image(root)
    port = _free_port()
    log = root / "container.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(image.python), "-c", _LAUNCHER],
            env=_container_env(base, image, port, root / "pip-cache"),
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(process, port, log, time.monotonic() + 300)
        yield {"port": port, "local": load_model({"uri": str(source), "framework": "sklearn"}), "log": log}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _local(container: dict[str, Any]) -> list[Any]:
    """What the local target's runtime answers for ROWS."""
    predictions = container["local"].predict(ROWS)
    return list(predictions.tolist() if hasattr(predictions, "tolist") else predictions)


def _npy(rows: list[list[float]]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array(rows))
    return buffer.getvalue()


BODIES = {
    "instances": (json.dumps({"instances": ROWS}).encode(), "application/json"),
    "bare list": (json.dumps(ROWS).encode(), "application/json"),
    "csv": ("\n".join(",".join(map(str, row)) for row in ROWS).encode() + b"\n", "text/csv"),
    "npy": (_npy(ROWS), "application/x-npy"),
}


@pytest.mark.parametrize("shape", BODIES)
def test_every_body_predicts_as_the_local_target(container: dict[str, Any], shape: str) -> None:
    body, content_type = BODIES[shape]
    status, mimetype, out = _request(
        container["port"],
        "/invocations",
        body,
        **{"Content-Type": content_type, "Accept": "application/json"},
    )
    assert status == 200, out
    assert mimetype.startswith("application/json")
    expected = _local(container)
    assert json.loads(out)["predictions"] == expected


def test_accept_csv_answers_csv(container: dict[str, Any]) -> None:
    body, content_type = BODIES["instances"]
    status, mimetype, out = _request(
        container["port"], "/invocations", body, **{"Content-Type": content_type, "Accept": "text/csv"}
    )
    assert status == 200 and mimetype.startswith("text/csv"), (status, mimetype, out)
    expected = _local(container)
    assert [line for line in out.decode().splitlines() if line] == [str(v) for v in expected]


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"instances": [[1.0, 2.0, 3.0]]}).encode(),
        b"{not json",
        json.dumps({"instances": []}).encode(),
    ],
    ids=["wrong width", "not json", "no rows"],
)
def test_bad_input_is_a_json_4xx(container: dict[str, Any], body: bytes) -> None:
    status, mimetype, out = _request(
        container["port"], "/invocations", body, **{"Content-Type": "application/json"}
    )
    assert 400 <= status < 500, (status, out)
    assert mimetype.startswith("application/json") and "error" in json.loads(out), out


def test_the_toolkit_installed_the_archives_requirements(container: dict[str, Any]) -> None:
    log = container["log"].read_text()
    # sagemaker_containers._modules.install ran pip over code/ with no index and no config,
    # so every pin came from the archive's code/wheels.
    assert "Looking in links: " in log and "/code/wheels" in log, log[-3000:]
    # code/ was built through its pyproject.toml, whose pinned setuptools and wheel came from
    # code/wheels too (pip's default build requirement is an unpinned setuptools).
    assert "Preparing metadata (pyproject.toml)" in log, log[-3000:]
    installed = next(line for line in log.splitlines() if line.startswith("Successfully installed"))
    assert f"scikit-learn-{version('scikit-learn')}" in installed and "pydantic-" in installed
    # The model is loaded by the scikit-learn that wrote it, not the image's 1.4.2.
    assert "InconsistentVersionWarning" not in log
