"""Azure ML specifics: plan-time rules, prices, faults, failed provisioning, the emulator's
own rules (driven over REST as Azure would be), and metrics from Azure Monitor."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudserve_azureml.provider import AzureMLProvider
from cloudserve_azureml.testing import AzureMLEmulator

from cloudserve import errors as E
from cloudserve.desired import build_desired
from cloudserve.planner import version_note
from cloudserve.testing.conformance import MakeSpec, apply_spec, wait

ArmCall = Callable[..., requests.Response]  # the conftest's `arm` and `put_endpoint`

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def test_validate_reports_azure_rules(provider: AzureMLProvider, make_spec: MakeSpec) -> None:
    spec = make_spec(
        "churn",
        versions={"v1": "a", "shadow": "b"},
        traffic={"v1": 100},
        mirror={"shadow": 60},
        compute={"replicas": {"min": 0, "max": 2}},
    )
    problems = provider.validate(build_desired(spec, provider))
    text = "\n".join(problems)
    assert "spec.versions.v1" in text and "3 and at most 32" in text
    assert "at most 50%" in text
    assert "at least 1 instance" in text


def test_plan_note_shows_sku_and_price(provider: AzureMLProvider, make_spec: MakeSpec) -> None:
    spec = make_spec(
        "churn",
        versions={"stable": "a"},
        traffic={"stable": 100},
        compute={"cpu": 4, "memory": "16Gi", "replicas": {"min": 2}},
    )
    desired = build_desired(spec, provider)
    note = provider.plan_note(desired, desired.versions["stable"])
    assert note.instance_type == "Standard_D4as_v4"
    # One instance's price, as on every target; the planner multiplies by the minimum replicas.
    assert note.hourly_price_usd == pytest.approx(0.192)
    planned = version_note(provider, desired, desired.versions["stable"])
    assert planned.replicas == 2 and planned.hourly_price_at_min_usd == pytest.approx(2 * 0.192)
    # What reaches PyPI: the image build, from the conda file's exact list; no start downloads.
    (build,) = [n for n in note.notes if n.startswith("image build")]
    assert "exactly pinned" in build and "nothing at start" in build
    override = make_spec(
        "churn",
        versions={"stable": "a"},
        traffic={"stable": 100},
        compute={"instance_type": {"azureml": "Standard_DS3_v2"}},
    )
    assert build_desired(override, provider).versions["stable"].instance_type == "Standard_DS3_v2"


@pytest.mark.parametrize(("status", "error"), [(429, E.Throttled), (503, E.Unavailable)])
def test_retryable_faults_map_to_neutral_errors(
    provider: AzureMLProvider, azure: AzureMLEmulator, status: int, error: type[E.CloudServeError]
) -> None:
    # More failures than azure-core's own retry policy absorbs, so one reaches us.
    azure.inject_fault(status, method="GET", path=r"/onlineEndpoints/churn$", retry_after=0.01, times=50)
    with pytest.raises(error) as caught:
        provider.observe("churn")
    assert caught.value.retryable
    assert caught.value.retry_after == pytest.approx(0.01)


def test_core_retries_through_a_throttled_call(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec
) -> None:
    azure.throttle(times=5, retry_after=0.01, method="PUT", path=r"/onlineEndpoints/[^/]+$")
    spec = make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100})
    apply_spec(provider, spec)
    observed = provider.observe("churn")
    assert observed is not None and observed.traffic == {"stable": 100}


def test_failed_provisioning_reaches_the_user(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec
) -> None:
    apply_spec(provider, make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100}))
    azure.fail_deployment("candidate", "ImagePullFailure: the environment image could not be pulled")
    spec = make_spec("churn", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 100})
    desired = build_desired(spec, provider)
    with pytest.raises(E.DeploymentFailed, match="ImagePullFailure"):
        wait(provider.create_version(desired, desired.versions["candidate"]))
    observed = provider.observe("churn")
    assert observed is not None
    assert observed.versions["candidate"].status.value == "failed"


def test_emulator_enforces_azure_rules(
    provider: AzureMLProvider,
    azure: AzureMLEmulator,
    make_spec: MakeSpec,
    arm: ArmCall,
    put_endpoint: ArmCall,
) -> None:
    for bad in ("ab", "1churn", "churn-", "x" * 33, "under_score"):
        reply = arm(
            "PUT", f"/onlineEndpoints/{bad}", {"location": "eastus", "properties": {"authMode": "Key"}}
        )
        assert reply.status_code == 400, bad
    apply_spec(
        provider, make_spec("churn", versions={"stable": "a", "candidate": "b"}, traffic={"stable": 100})
    )
    cases = [
        ({"traffic": {"stable": 100, "ghost": 0}, "mirrorTraffic": {"ghost": 10}}, "does not exist"),
        ({"traffic": {"stable": 60, "candidate": 50}}, "at most 100"),
        ({"traffic": {"stable": 100}, "mirrorTraffic": {"candidate": 51}}, "at most 50"),
        ({"traffic": {"stable": 50, "candidate": 50}, "mirrorTraffic": {"candidate": 10}}, "both"),
    ]
    for props, message in cases:
        reply = put_endpoint("churn", **props)
        assert reply.status_code == 400, props
        assert message in reply.json()["error"]["message"]
    reply = arm("DELETE", "/onlineEndpoints/churn/deployments/stable")
    assert reply.status_code == 400 and "still receives traffic" in reply.json()["error"]["message"]
    with pytest.raises(E.InvalidSpec, match="at most 50"):
        wait(provider.set_traffic("churn", {"stable": 100}, {"candidate": 60}))


def test_invoke_and_metrics(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec, predictions: Any
) -> None:
    spec = make_spec(
        "churn",
        versions={"stable": "a", "candidate": "b"},
        traffic={"stable": 50, "candidate": 50},
        mirror={},
    )
    apply_spec(provider, spec)
    for _ in range(4):
        result = provider.invoke("churn", {"instances": ROWS}, version="stable")
        assert result.body["predictions"] == predictions("a", ROWS)
    azure.record_requests("churn", "candidate", 10, status=500, latency_ms=900)
    azure.record_requests("churn", "candidate", 30, status=200, latency_ms=20)
    metrics = provider.metrics("churn", ["stable", "candidate"], 300)
    assert metrics["stable"].requests == 4 and metrics["stable"].errors == 0
    assert metrics["candidate"].requests == 40 and metrics["candidate"].errors == 10
    assert metrics["candidate"].error_rate == pytest.approx(0.25)
    assert metrics["candidate"].latency_p99_ms == 900
    with pytest.raises(E.NotFound):
        provider.invoke("churn", {"instances": ROWS}, version="ghost")


def test_destroy_touches_only_its_own(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec
) -> None:
    apply_spec(provider, make_spec("keep-me", versions={"stable": "a"}, traffic={"stable": 100}))
    apply_spec(provider, make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100}))
    wait(provider.delete_endpoint("churn"))
    assert provider.observe("churn") is None
    assert provider.observe("keep-me") is not None
    with pytest.raises(E.NotFound):
        provider.delete_endpoint("churn")


def test_deployments_name_their_version_and_a_baked_image_its_platform(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec
) -> None:
    """The runtime labels its metrics with CLOUDSERVE_VERSION_NAME; an image deployment
    also says it runs on Azure ML, so a baked cloudserve image listens on Azure's 5001."""
    spec = make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100})
    spec.spec.versions["baked"] = spec.spec.versions["stable"].model_copy(
        update={"model": None, "image": "example.azurecr.io/churn:1"}
    )
    spec.spec.traffic["baked"] = 0
    apply_spec(provider, spec)
    stable = azure.deployment("churn", "stable")
    baked = azure.deployment("churn", "baked")
    assert stable is not None and baked is not None
    assert stable["properties"]["environmentVariables"]["CLOUDSERVE_VERSION_NAME"] == "stable"
    assert "CLOUDSERVE_PLATFORM" not in stable["properties"]["environmentVariables"]
    assert baked["properties"]["environmentVariables"]["CLOUDSERVE_PLATFORM"] == "azureml"


def test_the_runtime_travels_in_the_code_folder_and_the_image_installs_only_exact_pins(
    provider: AzureMLProvider, azure: AzureMLEmulator, make_spec: MakeSpec, tmp_path: Path
) -> None:
    """Issue 12: the environment asked pip for an unversioned cloudserve[serve], which no
    index has (and anyone could register). Now the code asset carries the source."""
    import yaml

    apply_spec(provider, make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100}))
    props = azure.deployment("churn", "stable")["properties"]  # type: ignore[index]
    code = azure.state.get(props["codeConfiguration"]["codeId"])
    assert code is not None
    folder = azure._materialize(code["properties"]["codeUri"], tmp_path / "code")
    assert (folder / "score.py").is_file()
    assert (folder / "cloudserve" / "serving" / "loaders" / "__init__.py").is_file()
    assert not list(folder.rglob("__pycache__"))
    environment = azure.state.get(props["environmentId"])
    assert environment is not None
    conda = yaml.safe_load(environment["properties"]["condaFile"])
    (pip,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
    assert not [p for p in pip if p.lower().startswith("cloudserve")], pip
    assert all("==" in p for p in pip), [p for p in pip if "==" not in p]
    assert "azureml-inference-server-http==1.5.1" in pip and any(p.startswith("scikit-learn==") for p in pip)


def test_offline_the_image_builds_from_a_context_that_carries_every_wheel(
    azure: AzureMLEmulator,
    make_spec: MakeSpec,
    tmp_path: Path,
    azureml_wheels: Path,
    azureml_server_python: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """targets.azureml.offline: the Environment is a build context (Dockerfile on the same
    prebuilt image, the conda file's exact list, the wheels), and pip resolves that list
    from those wheels alone with no index, on the image's Python (3.12)."""
    import subprocess

    from cloudserve_azureml.translate import CPU_BASE_IMAGE, conda_pip_pins

    from cloudserve.serving.wheels import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(azureml_wheels))
    settings = {**azure.settings(), "offline": True}
    provider = AzureMLProvider(settings)
    spec = make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100})
    spec = spec.model_copy(update={"targets": {**spec.targets, "azureml": provider.settings}})
    apply_spec(provider, spec)
    props = azure.deployment("churn", "stable")["properties"]  # type: ignore[index]
    environment = azure.state.get(props["environmentId"])
    assert environment is not None
    build = environment["properties"]["build"]
    assert "condaFile" not in environment["properties"] or not environment["properties"]["condaFile"]
    context = azure._materialize(build["contextUri"], tmp_path / "context")
    dockerfile = (context / "Dockerfile").read_text()
    assert dockerfile.splitlines()[1] == f"FROM {CPU_BASE_IMAGE}" and "--no-index" in dockerfile
    requirements = (context / "requirements.txt").read_text().split()
    model = spec.spec.versions["stable"].model
    assert model is not None
    assert requirements == conda_pip_pins(model, Path(model.uri))
    resolved = subprocess.run(
        [
            str(azureml_server_python),
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-index",
            "--find-links",
            str(context / "wheels"),
            "-r",
            str(context / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": os.devnull},
    )
    assert resolved.returncode == 0, resolved.stderr[-3000:]
    assert "Would install" in resolved.stdout
    provider.close()


def test_the_runtime_pins_fit_what_the_inference_server_requires(make_spec: MakeSpec) -> None:
    """azureml-inference-server-http 1.5.1 requires pydantic~=2.12.0; the machine's 2.14 pin
    would make the image build unresolvable."""
    from cloudserve_azureml import translate
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    spec = make_spec("churn", versions={"stable": "a"}, traffic={"stable": 100})
    desired = build_desired(spec, AzureMLProvider(None))
    conda = translate.environment_entity(_Entities(), desired, desired.versions["stable"]).conda_file
    (pip,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
    pinned = {Requirement(p).name.lower(): Requirement(p) for p in pip}
    for name, specifier in translate.SERVER_REQUIRES.items():
        if name in pinned:
            (version,) = [s.version for s in pinned[name].specifier]
            assert version in SpecifierSet(specifier), (name, version, specifier)


class _Entities:
    """Stands in for azure.ai.ml.entities: records what Environment is given."""

    class Environment:
        def __init__(self, **kwargs: Any) -> None:
            self.__dict__.update(kwargs)


def test_score_py_imports_the_runtime_that_travels_beside_it(tmp_path: Path) -> None:
    """azmlinfsrv 1.5.1 puts only AML_APP_ROOT (and its AZUREML_SOURCE_DIRECTORY) on sys.path;
    started on a code folder elsewhere, init() failed with "No module named 'cloudserve'"."""
    import shutil
    import subprocess
    import sys

    from cloudserve_azureml import translate

    folder = tmp_path / "code"
    shutil.copytree(translate.code_folder(), folder)
    probe = (
        f"import runpy; runpy.run_path({str(folder / 'score.py')!r}); "
        "import cloudserve.serving.loaders as m; print(m.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().startswith(str(folder / "cloudserve")), done.stdout
