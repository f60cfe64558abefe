"""The real ``cloudserve`` CLI against the emulator: examples/vertex end to end, and the
quickstart spec retargeted at Vertex AI (issue 5, item 7)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cloudserve_vertex.testing import VertexEmulator

from cloudserve.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ROW = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def _train(folder: Path, module_name: str, *args: Any) -> Any:
    spec = importlib.util.spec_from_file_location(module_name, folder / "train.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train(*args)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[VertexEmulator]:
    with VertexEmulator(projects={"my-project": "123456789012"}, buckets=["my-artifacts"]) as emulator:
        monkeypatch.setenv(*emulator.env_item())
        yield emulator


@dataclass
class Outcome:
    exit_code: int
    output: str  # stdout and stderr


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Outcome]:
    """``cloudserve ARGS`` in-process, through the console script's own entry point (its
    error reporting and exit codes included)."""

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Outcome(code, out.out + out.err)

    return invoke


def test_cli_applies_the_vertex_example(
    tmp_path: Path, emu: VertexEmulator, run: Callable[..., Outcome], sklearn_15_python: Path
) -> None:
    import joblib

    folder = tmp_path / "vertex"
    shutil.copytree(EXAMPLES / "vertex", folder, ignore=shutil.ignore_patterns("models"))
    # Trained with the scikit-learn the spec declares (train.py refuses any other).
    subprocess.run([str(sklearn_15_python), "train.py"], cwd=folder, check=True)
    spec = str(folder / "deployment.yaml")

    planned = run("plan", spec)
    assert planned.exit_code == 0, planned.output
    assert "+ create endpoint churn" in planned.output
    assert "e2-standard-2" in planned.output and "/h per replica" in planned.output
    assert "mirror" not in planned.output  # the example uses nothing Vertex AI lacks
    assert not emu.endpoints  # plan changed nothing

    applied = run("apply", spec, "--yes")
    assert applied.exit_code == 0, applied.output
    again = run("plan", spec, "--detailed-exitcode")
    assert again.exit_code == 0, again.output  # nothing left to change
    assert "No changes" in again.output

    answer = run("invoke", spec, "-d", json.dumps({"instances": ROW}), "-o", "json")
    assert answer.exit_code == 0, answer.output
    reply = json.loads(answer.output)
    model = {"stable": "churn-v1", "candidate": "churn-v2"}[reply["version"]]
    with warnings.catch_warnings():  # written by 1.5, loaded here only for the expected answer
        warnings.simplefilter("ignore")
        expected = joblib.load(folder / "models" / model / "model.joblib").predict(ROW).tolist()
    assert reply["body"]["predictions"] == expected  # a real model answered
    refused = run("invoke", spec, "-d", json.dumps({"instances": ROW}), "--version", "candidate")
    assert refused.exit_code != 0 and "cannot address one deployed model" in refused.output

    # status through the installed console script, as a CI job runs it
    env = {**os.environ, **emu.env()}
    status = subprocess.run(
        [str(Path(sys.executable).parent / "cloudserve"), "status", spec, "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert _nonzero(_find(state, "traffic")) == {"stable": 90, "candidate": 10}
    assert set(_find(state, "traffic")) == {"stable", "candidate"}  # names, never Vertex ids

    destroyed = run("destroy", spec, "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert not emu.endpoints and not emu.models


def _find(data: Any, key: str) -> Any:
    """The first value under ``key`` anywhere in a JSON document."""
    if isinstance(data, dict):
        if key in data:
            return data[key]
        for value in data.values():
            found = _find(value, key)
            if found is not None:
                return found
    if isinstance(data, list):
        for value in data:
            found = _find(value, key)
            if found is not None:
                return found
    return None


def _nonzero(split: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in split.items() if v}


SERVING_IMAGE = "us-docker.pkg.dev/my-project/serving/cloudserve:0.1"


def _quickstart_on_vertex(tmp_path: Path, serving_image: str | None = SERVING_IMAGE) -> Path:
    """examples/quickstart with its models, ``target: vertex`` and a ``targets.vertex``
    block; nothing else in the spec changes."""
    folder = tmp_path / "quickstart"
    shutil.copytree(EXAMPLES / "quickstart", folder, ignore=shutil.ignore_patterns("models"))
    _train(folder, "quickstart_train", folder / "models")
    path = folder / "deployment.yaml"
    text = path.read_text()
    assert text.count("target: local") == 1
    text = text.replace("target: local", "target: vertex")
    head = text[: text.index("\ntargets:")]
    image = f", serving_image: {serving_image}" if serving_image else ""
    block = f'  vertex: {{project: my-project, staging_bucket: "gs://my-artifacts"{image}}}\n'
    path.write_text(head + "\ntargets:\n" + block)
    return path


def test_quickstart_spec_on_vertex_runs_on_the_serving_image(
    tmp_path: Path, emu: VertexEmulator, run: Callable[..., Outcome]
) -> None:
    """The quickstart's skops models (no framework_version) are beyond Vertex AI's prebuilt
    containers; with targets.vertex.serving_image they get cloudserve's runtime image,
    which loads them from AIP_STORAGE_URI (the staged folder), and answer for real."""
    import skops.io as sio

    spec_path = _quickstart_on_vertex(tmp_path)
    spec = str(spec_path)
    planned = run("plan", spec)
    assert planned.exit_code == 0, planned.output
    assert "+ create endpoint quickstart" in planned.output
    assert f"container: {SERVING_IMAGE}" in planned.output
    assert (
        "targets.vertex.serving_image, because" in planned.output
        and "model.skops is not one" in planned.output
    )
    assert not emu.endpoints  # plan changed nothing

    applied = run("apply", spec, "--yes")
    assert applied.exit_code == 0, applied.output
    models = list(emu.models.values())
    assert {m.container_spec.image_uri for m in models} == {SERVING_IMAGE}
    staged = {m.artifact_uri for m in models}
    assert all(uri.startswith("gs://my-artifacts/cloudserve/artifacts/") for uri in staged)
    assert all(f"{uri}/model.skops" in emu.objects(uri) for uri in staged)
    again = run("plan", spec, "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes" in again.output, again.output

    answer = run("invoke", spec, "-d", json.dumps({"instances": ROW}), "-o", "json")
    assert answer.exit_code == 0, answer.output
    reply = json.loads(answer.output)
    file = spec_path.parent / "models" / reply["version"] / "model.skops"
    model = sio.load(file, trusted=sio.get_untrusted_types(file=file))
    assert reply["body"]["predictions"] == model.predict(ROW).tolist()  # the skops model answered

    destroyed = run("destroy", spec, "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert not emu.endpoints and not emu.models


def test_quickstart_spec_without_serving_image_is_refused_at_plan_time(
    tmp_path: Path, emu: VertexEmulator, run: Callable[..., Outcome]
) -> None:
    """Without targets.vertex.serving_image nothing can serve a skops file on Vertex AI:
    plan says so, names the setting, and calls no API."""
    spec = str(_quickstart_on_vertex(tmp_path, serving_image=None))
    planned = run("plan", spec)
    assert planned.exit_code != 0
    assert "versions.stable" in planned.output and "model.skops is not one" in planned.output
    assert "targets.vertex.serving_image" in planned.output
    assert not emu.requests  # refused before any call
