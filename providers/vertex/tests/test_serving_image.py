"""targets.vertex.serving_image, container side: the runtime-only image (its Dockerfile
followed into a clean environment by scripts/test-envs.sh; tests/serving/test_package_images.py
checks it was built from the context `cloudserve package --runtime-only` writes now), its
command started as Vertex AI starts a custom container (AIP_* variables, a gs:// AIP_STORAGE_URI),
fetches the model from Cloud Storage (the emulator's, through google-cloud-storage's own
STORAGE_EMULATOR_HOST) and answers the Vertex predict route with real predictions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
from cloudserve_vertex.testing import VertexEmulator

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def test_runtime_image_fetches_the_staged_model_and_serves_the_vertex_contract(
    tmp_path: Path, emulator: VertexEmulator, models: dict[str, Any], followed_images: Path
) -> None:
    import skops.io as sio

    image = json.loads((followed_images / "runtime" / "image.json").read_text())["image"]
    staged = "gs://cloudserve-test/cloudserve/artifacts/0123abcd"
    emulator.put_object(f"{staged}/model.skops", sio.dumps(models["b"]))
    emulator.put_object(f"{staged}0/model.skops", b"a neighbouring folder that must not be fetched")
    predict_route = "/v1/endpoints/churn/deployedModels/1234:predict"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(image["env"])
    env.update(
        AIP_HTTP_PORT="0",
        AIP_HEALTH_ROUTE="/v1/endpoints/churn/deployedModels/1234",
        AIP_PREDICT_ROUTE=predict_route,
        AIP_STORAGE_URI=staged,
        STORAGE_EMULATOR_HOST=emulator.url,
        CLOUDSERVE_HOST="127.0.0.1",  # a container binds 0.0.0.0; a test stays on loopback
        TMPDIR=str(tmp_path),
    )
    proc = subprocess.Popen(
        [image["python"], *image["entrypoint"][1:], *image["cmd"]],
        cwd=tmp_path,  # `python -m` puts the working directory first on sys.path
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _listening(proc)
        assert requests.get(url + env["AIP_HEALTH_ROUTE"], timeout=10).status_code == 200
        answer = requests.post(url + predict_route, json={"instances": ROWS}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == models["b"].predict(ROWS).tolist()
    finally:
        proc.terminate()
        proc.wait(30)
    listed = [
        q.get("prefix")
        for (m, p), q in zip(emulator.requests, emulator.queries, strict=True)
        if p.endswith("/o")
    ]
    assert listed and all(prefix.startswith("cloudserve/artifacts/0123abcd") for prefix in listed)
    assert (tmp_path / "cloudserve-model" / "model.skops").is_file()
    # The image's own cloudserve ran, installed by its Dockerfile, not this checkout's.
    assert _imported_from(image["python"], env, tmp_path).startswith(str(followed_images / "runtime"))


def _imported_from(python: str, env: dict[str, str], cwd: Path) -> str:
    code = "import cloudserve.serving.cloud as c; print(c.__file__)"
    return subprocess.run(
        [python, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def _listening(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        match = re.search(r"vertex contract.*listening on (http://\S+)", line)
        if match:
            return match.group(1)
        if not line and proc.poll() is not None:
            break
    raise AssertionError("runtime did not start: " + "".join(lines))
