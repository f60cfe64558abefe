"""The model.tar.gz's code/ as SageMaker's scikit-learn toolkit runs it: extracted, with
code/ first on the path and a vendored ``setuptools/_vendor`` tree ahead of site-packages
(what gunicorn's --pythonpath gives it once pkg_resources is imported).

The toolkit itself (sagemaker-containers) is not installed here; a stand-in ``worker``
module records the status the shim answers with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Any

from cloudserve_sagemaker.staging import pack_model

from cloudserve.spec.models import ModelSpec

_DRIVER = r"""
import io, json, sys, types
import numpy as np

# A stand-in for sagemaker_containers.beta.framework.worker.Response (a Flask Response).
class Response:
    def __init__(self, response, status=200, mimetype=None):
        self.body, self.status, self.mimetype = response, status, mimetype
pkg = types.ModuleType("sagemaker_containers"); beta = types.ModuleType("sagemaker_containers.beta")
framework = types.ModuleType("sagemaker_containers.beta.framework"); worker = types.ModuleType("w")
worker.Response = Response; framework.worker = worker
sys.modules.update({"sagemaker_containers": pkg, "sagemaker_containers.beta": beta,
                    "sagemaker_containers.beta.framework": framework,
                    "sagemaker_containers.beta.framework.worker": worker})
import typing_extensions  # the vendored, broken one: what pkg_resources left behind
import inference
import cloudserve
model = inference.model_fn(sys.argv[1])
rows = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]
npy = io.BytesIO(); np.save(npy, np.array(rows))
cases = {
    "json": (json.dumps({"instances": rows}), "application/json", "application/json"),
    "bare": (json.dumps(rows), "application/json", "application/json"),
    "csv": ("5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n", "text/csv", "application/json"),
    "npy": (npy.getvalue(), "application/x-npy", "application/json"),
    "csv-out": (json.dumps({"instances": rows}), "application/json", "text/csv"),
    "wide": (json.dumps({"instances": [[1, 2, 3]]}), "application/json", "application/json"),
    "junk": ("{not json", "application/json", "application/json"),
}
out = {"runtime": cloudserve.__file__}
for name, (body, ctype, accept) in cases.items():
    r = inference.transform_fn(model, body, ctype, accept)
    out[name] = [r.status, r.mimetype, r.body.decode()]
print(json.dumps(out))
"""


def _extract(data: bytes, into: Path) -> None:
    with tarfile.open(fileobj=BytesIO(data), mode="r:gz") as tar:
        tar.extractall(into, filter="data")


def test_the_shim_answers_every_body_under_the_toolkits_path(models: dict[str, Any], tmp_path: Path) -> None:
    source = models["a_path"]
    model_dir = tmp_path / "opt" / "ml" / "model"
    _extract(
        pack_model(source, ModelSpec(uri=str(source), framework="sklearn", trust_pickle=True)), model_dir
    )
    vendor = tmp_path / "setuptools" / "_vendor"
    vendor.mkdir(parents=True)
    (vendor / "typing_extensions.py").write_text("Sentinel = None  # too old for pydantic\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(model_dir / "code"), str(vendor)])
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(model_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["runtime"].startswith(str(model_dir / "code" / "cloudserve"))  # the shipped copy
    expected = models["a"].predict([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]).tolist()
    for name in ("json", "bare", "csv", "npy"):
        status, mimetype, body = out[name]
        assert (status, mimetype) == (200, "application/json"), (name, body)
        assert json.loads(body)["predictions"] == expected, name
    assert out["csv-out"][:2] == [200, "text/csv"]
    assert out["csv-out"][2].splitlines() == [str(p) for p in expected]
    for name in ("wide", "junk"):
        status, mimetype, body = out[name]
        assert (status, mimetype) == (400, "application/json"), (name, body)
        assert json.loads(body)["error"], name
