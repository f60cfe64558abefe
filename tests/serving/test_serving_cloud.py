"""`cloudserve serve` contracts (SageMaker, Vertex AI, Azure ML) and `cloudserve package`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from click.testing import CliRunner

from cloudserve.serving import cloud
from cloudserve.serving.command import main
from cloudserve.serving.package import write_context


def test_detects_vertex(tmp_path: Path) -> None:
    (tmp_path / "m.joblib").write_bytes(b"x")
    env = {
        "AIP_HTTP_PORT": "7080",
        "AIP_HEALTH_ROUTE": "/v1/health",
        "AIP_PREDICT_ROUTE": "/v1/models/m:predict",
        "AIP_STORAGE_URI": str(tmp_path),
    }
    settings = cloud.detect(env)
    assert (settings.platform, settings.host, settings.port) == ("vertex", "0.0.0.0", 7080)
    assert settings.model_dir == tmp_path
    assert "/v1/models/m:predict" in settings.predict_paths and "/v1/health" in settings.health_paths


def test_detects_azure_and_sagemaker(tmp_path: Path) -> None:
    (tmp_path / "m.joblib").write_bytes(b"x")
    azure = cloud.detect({"AZUREML_MODEL_DIR": str(tmp_path)})
    assert (azure.platform, azure.port, azure.model_dir) == ("azureml", 5001, tmp_path)
    sm = cloud.detect({"SM_MODEL_DIR": str(tmp_path)})
    assert (sm.platform, sm.port, sm.model_dir) == ("sagemaker", 8080, tmp_path)
    assert cloud.detect({"SM_MODEL_DIR": str(tmp_path), "SAGEMAKER_BIND_TO_PORT": "9000"}).port == 9000


def test_a_baked_image_on_azure_listens_where_azure_probes_and_names_its_version() -> None:
    """Without AZUREML_MODEL_DIR (the model is in the image) the Azure contract still holds:
    Azure's inference_config probes port 5001 on every address."""
    settings = cloud.detect({cloud.PLATFORM_ENV: "azureml", cloud.VERSION_ENV: "candidate"})
    assert (settings.platform, settings.host, settings.port) == ("azureml", "0.0.0.0", 5001)
    assert settings.version == "candidate"
    assert cloud.detect({"AIP_HTTP_PORT": "8080", cloud.VERSION_ENV: "stable"}).version == "stable"


def test_baked_model_is_the_fallback(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = cloud.detect(
        {
            "SM_MODEL_DIR": str(empty),
            "CLOUDSERVE_MODEL_DIR": "/baked",
            "CLOUDSERVE_HOST": "127.0.0.1",
            "CLOUDSERVE_PORT": "0",
        }
    )
    assert (settings.model_dir, settings.host, settings.port) == (Path("/baked"), "127.0.0.1", 0)


@pytest.mark.parametrize(
    ("env", "health", "predict_path"),
    [
        (
            {"AIP_HTTP_PORT": "8080", "AIP_HEALTH_ROUTE": "/hc", "AIP_PREDICT_ROUTE": "/v1/p:predict"},
            "/hc",
            "/v1/p:predict",
        ),
        ({"AZUREML_MODEL_DIR": "/nonexistent"}, "/score", "/score"),
        ({"SM_MODEL_DIR": "/nonexistent"}, "/ping", "/invocations"),
    ],
)
def test_each_contract_over_http(
    env: dict[str, str],
    health: str,
    predict_path: str,
    models_dir: Path,
    logreg: Any,
    rows: list[Any],
    server_thread: Any,
) -> None:
    settings = cloud.detect(env)
    spec = cloud.model_spec(models_dir / "skops", {}, {})
    with server_thread(cloud.build_app(settings, spec)) as server:
        assert requests.get(server.url + health, timeout=10).status_code == 200
        answer = requests.post(server.url + predict_path, json={"instances": rows}, timeout=10)
        assert answer.json() == {"predictions": logreg.predict(np.asarray(rows)).tolist()}
        bad = requests.post(server.url + predict_path, data=b"[[1,", timeout=10)
        assert bad.status_code == 400 and "error" in bad.json()
        if settings.platform == "azureml":
            assert requests.get(server.url + "/", timeout=10).status_code == 200


def test_sidecar_and_env_choose_model_options(tmp_path: Path) -> None:
    (tmp_path / "cloudserve-model.json").write_text('{"format": "pickle", "trust_pickle": true}')
    spec = cloud.model_spec(tmp_path, {"CLOUDSERVE_HANDLER": "h.py"}, {"format": None})
    assert spec == {"uri": str(tmp_path), "format": "pickle", "trust_pickle": True, "handler": "h.py"}


def test_serve_without_a_model_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("SM_", "AIP_", "AZUREML_", "CLOUDSERVE_")):
            monkeypatch.delenv(key)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 2 and "no model" in result.output


def test_package_refuses_broken_model_and_nonempty_output(tmp_path: Path) -> None:
    (tmp_path / "m.joblib").write_bytes(b"broken")
    untrusted = CliRunner().invoke(
        main, ["package", str(tmp_path / "m.joblib"), "--context-dir", str(tmp_path / "ctx")]
    )
    assert untrusted.exit_code == 1 and "trust_pickle" in untrusted.output
    args = ["package", str(tmp_path / "m.joblib"), "--trust-pickle", "--context-dir", str(tmp_path / "ctx")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "not a readable joblib" in result.output
    assert not (tmp_path / "ctx").exists()


def test_package_runtime_only_context(tmp_path: Path) -> None:
    """No model baked in or named: the image loads what the cloud hands it at start, and can
    fetch Vertex AI's gs:// AIP_STORAGE_URI (google-cloud-storage is in its requirements)."""
    context = tmp_path / "ctx"
    result = CliRunner().invoke(main, ["package", "--runtime-only", "--context-dir", str(context)])
    assert result.exit_code == 0, result.output
    dockerfile = (context / "Dockerfile").read_text()
    assert "COPY model/" not in dockerfile and "CLOUDSERVE_MODEL_DIR" not in dockerfile
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (context / source).exists(), source
    assert dockerfile_command(dockerfile) == ["python", "-m", "cloudserve.serving", "serve"]
    requirements = (context / "requirements.txt").read_text()
    assert "google-cloud-storage==" in requirements and "skops==" in requirements
    assert (context / "cloudserve-src" / "cloudserve" / "serving" / "cloud.py").is_file()
    assert not (context / "model").exists()
    refused = CliRunner().invoke(
        main, ["package", "--runtime-only", str(tmp_path), "--context-dir", str(tmp_path / "x")]
    )
    assert refused.exit_code == 2 and "no MODEL" in refused.output
    missing = CliRunner().invoke(main, ["package", "--context-dir", str(tmp_path / "y")])
    assert missing.exit_code == 2 and "--runtime-only" in missing.output


def dockerfile_command(dockerfile: str) -> list[str]:
    entry = json.loads(re.search(r"^ENTRYPOINT (.+)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (.+)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    return [*entry, *cmd]


@pytest.mark.slow
def test_package_context_is_complete_and_its_entrypoint_serves(
    tmp_path: Path, models_dir: Path, logreg: Any, rows: list[Any]
) -> None:
    context = tmp_path / "ctx"
    result = CliRunner().invoke(
        main, ["package", str(models_dir / "mlflow-skops"), "--context-dir", str(context)]
    )
    assert result.exit_code == 0, result.output
    dockerfile = (context / "Dockerfile").read_text()
    # Every COPY source exists in the context.
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (context / source).exists(), source
    requirements = (context / "requirements.txt").read_text()
    # Every line an exact pin (names as each distribution's metadata spells them).
    pins = [line for line in requirements.splitlines() if not line.startswith("#")]
    assert pins and all("==" in line for line in pins), requirements
    names = {line.split("==")[0].lower().replace("_", "-") for line in pins}
    assert {"scikit-learn", "skops", "uvicorn", "orjson", "prometheus-client", "typing-extensions"} <= names
    assert "mlflow" not in requirements.lower().replace("# pinned", "")
    assert (context / "cloudserve-src" / "pyproject.toml").is_file()
    assert (context / "model" / "MLmodel").is_file()
    assert json.loads((context / "model" / "cloudserve-model.json").read_text())["format"] == "mlflow"
    command = dockerfile_command(dockerfile)
    assert command == ["python", "-m", "cloudserve.serving", "serve"]
    assert "CLOUDSERVE_HOST=0.0.0.0" in dockerfile  # reachable from outside the container
    # Run the image's command as the container would, against the context's own copy of
    # cloudserve, with the platform settings a container gets (here: SageMaker's).
    env = {
        **os.environ,
        "PYTHONPATH": str(context / "cloudserve-src"),
        "SM_MODEL_DIR": str(context / "model"),
        "CLOUDSERVE_HOST": "127.0.0.1",
        "CLOUDSERVE_PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, *command[1:]], cwd=context, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        url = _wait_for_url(proc)
        assert requests.get(url + "/ping", timeout=10).status_code == 200
        answer = requests.post(url + "/invocations", json={"instances": rows}, timeout=10)
        assert answer.json() == {"predictions": logreg.predict(np.asarray(rows)).tolist()}
        csv_body = "\n".join(",".join(map(str, r)) for r in rows)
        answer = requests.post(
            url + "/invocations", data=csv_body, timeout=10, headers={"Content-Type": "text/csv"}
        )
        assert answer.status_code == 200
        assert (
            'cloudserve_requests_total{version="default"} 2.0'
            in requests.get(url + "/metrics", timeout=10).text
        )
    finally:
        proc.terminate()
        proc.wait(30)


def _wait_for_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            assert "contract" in line
            return match.group(1)
        if not line and proc.poll() is not None:
            break
    raise AssertionError("server did not start: " + "".join(lines))


def test_write_context_without_model(tmp_path: Path, models_dir: Path) -> None:
    files = write_context(models_dir / "skops", tmp_path / "ctx", bake_model=False)
    assert not (tmp_path / "ctx" / "model").exists()
    assert "COPY model/" not in (tmp_path / "ctx" / "Dockerfile").read_text()
    assert any(f.name == "Dockerfile" for f in files)


def test_vertex_gcs_model_is_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AIP_STORAGE_URI is a gs:// prefix the container must fetch itself (a fake client here)."""
    import types

    listed: list[tuple[str, str]] = []

    class Blob:
        def __init__(self, name: str) -> None:
            self.name = name

        def download_to_filename(self, filename: str) -> None:
            Path(filename).write_text(f"bytes of {self.name}")

    class Client:
        def list_blobs(self, bucket: str, prefix: str) -> list[Blob]:
            listed.append((bucket, prefix))
            return [Blob(f"{prefix}model.joblib"), Blob(f"{prefix}sub/"), Blob(f"{prefix}sub/x.txt")]

    fake = types.ModuleType("google.cloud.storage")
    fake.Client = Client  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.cloud.storage", fake)
    import google.cloud

    monkeypatch.setattr(google.cloud, "storage", fake, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    settings = cloud.detect({"AIP_HTTP_PORT": "8080", "AIP_STORAGE_URI": "gs://bucket/models/v1"})
    assert listed == [("bucket", "models/v1/")]
    assert settings.model_dir is not None
    assert (settings.model_dir / "model.joblib").read_text() == "bytes of models/v1/model.joblib"
    assert (settings.model_dir / "sub" / "x.txt").is_file()


@pytest.mark.slow
def test_forked_workers_share_the_port_and_metrics(models_dir: Path, rows: list[Any]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AIP_", "AZUREML_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloudserve.serving",
            "serve",
            "--model",
            str(models_dir / "skops"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            "2",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _wait_for_url(proc)
        for _ in range(20):  # a new connection each time: the kernel spreads them
            answer = requests.post(url + "/invocations", json={"instances": rows}, timeout=10)
            assert answer.status_code == 200
        text = requests.get(url + "/metrics", timeout=10).text
        assert 'cloudserve_requests_total{version="default"} 20.0' in text
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


def test_package_folder_option_is_context_dir_and_old_o_still_works(tmp_path: Path) -> None:
    """Issue 18 item 3: -o is the output format everywhere else, so the folder is --context-dir."""
    old = CliRunner().invoke(main, ["package", "--runtime-only", "-o", str(tmp_path / "old")])
    assert old.exit_code == 0 and (tmp_path / "old" / "Dockerfile").exists()
    assert "deprecated" in old.output and "--context-dir" in old.output
    both = ["package", "--runtime-only", "-o", str(tmp_path / "a"), "--context-dir", str(tmp_path / "b")]
    assert CliRunner().invoke(main, both).exit_code == 2
    missing = CliRunner().invoke(main, ["package", "--runtime-only"])
    assert missing.exit_code == 2 and "--context-dir" in missing.output
    assert "--context-dir" in CliRunner().invoke(main, ["package", "--help"]).output
