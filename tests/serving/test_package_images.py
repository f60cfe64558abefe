"""Images from `cloudserve package`, built by following their Dockerfiles into a clean
environment (scripts/test-envs.sh, scripts/follow-dockerfile.py: every COPY source must
exist, every RUN runs, in a venv of the image's Python with nothing else in it), then started
with the image's own ENTRYPOINT and CMD under each cloud's contract.

Three things are the test's, not the image's: the image's absolute paths lie under the
followed root folder; the server binds 127.0.0.1 on a free port
(CLOUDSERVE_HOST / CLOUDSERVE_PORT) instead of 0.0.0.0 on the contract's port, and which
address and port the image would choose is asked of the image's own code with exactly the
environment the cloud gives it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cloudserve.serving.bundle import runtime_digest
from cloudserve.serving.loaders import load_model
from cloudserve.serving.package import write_context, write_runtime_context

pytestmark = pytest.mark.slow
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]
VERSION_ENV = "CLOUDSERVE_VERSION_NAME"  # what every cloud deployment of cloudserve sets


def _image(images: Path, kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((images / kind / "image.json").read_text())["image"]
    spec["root"] = images / kind
    return spec


@pytest.fixture(scope="module")
def current(followed_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The followed images were built from the contexts `cloudserve package` writes now."""
    fresh = tmp_path_factory.mktemp("contexts")
    write_runtime_context(fresh / "runtime-context")
    write_context(followed_images / "model", fresh / "baked-context")
    for kind in ("runtime", "baked"):
        followed, now = followed_images / f"{kind}-context", fresh / f"{kind}-context"
        for name in ("Dockerfile", "requirements.txt"):
            if (followed / name).read_text() != (now / name).read_text():
                pytest.fail(f"{kind} image followed another {name}; run: bash scripts/test-envs.sh")
        for source in re.findall(r"^COPY (\S+) ", (now / "Dockerfile").read_text(), re.M):
            assert (now / source).exists(), f"the {kind} Dockerfile copies {source}, which is not there"
    installed = _image(followed_images, "runtime")["root"] / "opt" / "cloudserve" / "cloudserve-src"
    assert installed.is_dir()
    return followed_images


def _clean_env(image: dict[str, Any], **contract: str) -> dict[str, str]:
    """What the container's process sees: the image's ENV and the cloud's variables."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    # The image's absolute paths (CLOUDSERVE_MODEL_DIR=/opt/cloudserve/model) are under its root here.
    root = Path(image["root"])
    env.update({k: str(root / v.lstrip("/")) if v.startswith("/") else v for k, v in image["env"].items()})
    env["PATH"] = f"{Path(image['python']).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(contract)
    return env


def _chosen(image: dict[str, Any], env: dict[str, str]) -> tuple[str, str, int]:
    """(platform, host, port) as the image's own code reads this environment."""
    code = (
        "import os; from cloudserve.serving import cloud; "
        "s = cloud.detect(os.environ); print(s.platform, s.host, s.port)"
    )
    out = subprocess.run(
        [image["python"], "-c", code],
        env=env,
        cwd=_workdir(image),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], out[1], int(out[2])


def _workdir(image: dict[str, Any]) -> Path:
    return Path(image["root"]) / str(image["workdir"]).lstrip("/")


@pytest.fixture
def serve(current: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(kind: str, **contract: str) -> tuple[str, dict[str, Any]]:
        image = _image(current, kind)
        env = _clean_env(image, **contract, CLOUDSERVE_HOST="127.0.0.1", CLOUDSERVE_PORT="0")
        env.pop("AIP_HTTP_PORT", None) if contract.get("AIP_HTTP_PORT") == "0" else None
        command = [image["python"], *image["entrypoint"][1:], *image["cmd"]]
        proc = subprocess.Popen(command, cwd=_workdir(image), env=env, stderr=subprocess.PIPE, text=True)
        started.append(proc)
        return _listening(proc), image

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(30)


def _listening(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    deadline, lines = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return found.group(1)
        if not line and proc.poll() is not None:
            break
    raise AssertionError("the image's command did not start:\n" + "".join(lines[-40:]))


def _expected(current: Path) -> list[Any]:
    predictions = load_model({"uri": str(current / "model" / "model.skops")}).predict(ROWS)
    return list(predictions.tolist() if hasattr(predictions, "tolist") else predictions)


def _check_contract(url: str, health: str, predict: str, current: Path, version: str) -> None:
    assert requests.get(url + health, timeout=10).status_code == 200
    answer = requests.post(url + predict, json={"instances": ROWS}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == _expected(current)
    bad = requests.post(url + predict, json={"instances": [[1.0, 2.0]]}, timeout=10)
    assert bad.status_code == 400 and "error" in bad.json(), bad.text
    metrics = requests.get(url + "/metrics", timeout=10).text
    assert f'version="{version}"' in metrics, metrics[-2000:]


def _mounted(current: Path, into: Path) -> Path:
    """The model as a cloud mounts it for a runtime-only or mounted-model container."""
    folder = into / "mounted-model"
    shutil.copytree(current / "model", folder)
    return folder


# (kind, cloud, the cloud's variables, health route, predict route, expected platform, port)
CASES = [
    ("baked", "sagemaker", {}, "/ping", "/invocations", "local", 8080),
    ("baked", "azureml", {"CLOUDSERVE_PLATFORM": "azureml"}, "/", "/score", "azureml", 5001),
    ("baked", "azureml-mounted", {"AZUREML_MODEL_DIR": "<mounted>"}, "/", "/score", "azureml", 5001),
    (
        "baked",
        "vertex",
        {"AIP_HTTP_PORT": "8080", "AIP_HEALTH_ROUTE": "/health", "AIP_PREDICT_ROUTE": "/v1/m:predict"},
        "/health",
        "/v1/m:predict",
        "vertex",
        8080,
    ),
    ("runtime", "sagemaker", {"SM_MODEL_DIR": "<mounted>"}, "/ping", "/invocations", "sagemaker", 8080),
    ("runtime", "azureml", {"AZUREML_MODEL_DIR": "<mounted>"}, "/", "/score", "azureml", 5001),
]


@pytest.mark.parametrize(
    ("kind", "cloud", "contract", "health", "predict", "platform", "port"),
    CASES,
    ids=[f"{case[0]}-{case[1]}" for case in CASES],
)
def test_each_image_serves_each_contract(
    serve: Any,
    current: Path,
    tmp_path: Path,
    kind: str,
    cloud: str,
    contract: dict[str, str],
    health: str,
    predict: str,
    platform: str,
    port: int,
) -> None:
    variables = {k: str(_mounted(current, tmp_path)) if v == "<mounted>" else v for k, v in contract.items()}
    variables[VERSION_ENV] = "blue"
    image = _image(current, kind)
    # Where the image listens with exactly the cloud's environment: every address, the
    # port the cloud probes (SageMaker starts a baked image with no variables at all).
    assert _chosen(image, _clean_env(image, **variables)) == (platform, "0.0.0.0", port)
    url, _ = serve(kind, **variables)
    _check_contract(url, health, predict, current, "blue")


def test_the_images_run_their_own_copy_of_cloudserve(current: Path) -> None:
    for kind in ("runtime", "baked"):
        image = _image(current, kind)
        code = "import cloudserve, sys; print(cloudserve.__file__); print(sys.prefix)"
        out = subprocess.run(
            [image["python"], "-c", code],
            env=_clean_env(image),
            cwd="/",
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert out[0].startswith(str(Path(image["root"]) / "venv")), out  # installed by the Dockerfile's RUN
    assert runtime_digest()  # the source the contexts were checked against above
