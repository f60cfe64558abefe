"""Loading from files, directories, multi-document streams; overlays, ${ENV}, targets, secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudserve.errors import InvalidSpec
from cloudserve.spec.loader import load, load_one
from cloudserve.spec.models import Deployment


def test_file_and_relative_paths(spec_file: Path) -> None:
    d = load_one(spec_file)
    assert d._source_dir == str(spec_file.parent.resolve())
    assert d.spec.compute.memory == 4096


def test_multi_document_and_directory(tmp_path: Path, spec_file: Path) -> None:
    other = spec_file.read_text().replace("name: churn", "name: fraud")
    (tmp_path / "more.yml").write_text(other + "---\n" + other.replace("name: fraud", "name: upsell"))
    names = [d.name for d in load(tmp_path)]
    assert names == ["churn", "fraud", "upsell"]


def test_duplicate_names_refused(tmp_path: Path, spec_file: Path) -> None:
    (tmp_path / "copy.yaml").write_text(spec_file.read_text())
    with pytest.raises(InvalidSpec, match="defined twice"):
        load(tmp_path)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("metadata:\n  name: churn\n spec: [\n")
    with pytest.raises(InvalidSpec) as info:
        load(path)
    problem = info.value.problems[0]
    assert problem.file == str(path) and problem.line is not None
    assert "YAML syntax error" in str(info.value)


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("metadata:\n  name: a\n  name: b\n")
    with pytest.raises(InvalidSpec, match=r"dup.yaml:3:3: metadata.name: duplicate key 'name'"):
        load(path)


def test_missing_file() -> None:
    with pytest.raises(InvalidSpec, match="file not found"):
        load("/nonexistent/spec.yaml")


def test_overlay(spec_file: Path) -> None:
    assert load_one(spec_file).spec.compute.replicas.min == 1
    prod = load_one(spec_file, env="prod")
    assert prod.spec.compute.replicas.min == 2
    assert prod.spec.compute.replicas.max == 4  # merged, not replaced


def test_unknown_overlay_lists_known(spec_file: Path) -> None:
    with pytest.raises(InvalidSpec, match="environments in this file: prod"):
        load(spec_file, env="staging")


def test_overlay_error_points_into_overlay(tmp_path: Path, spec_file: Path) -> None:
    spec_file.write_text(spec_file.read_text().replace("replicas: {min: 2}", "replicas: {min: two}"))
    with pytest.raises(InvalidSpec) as info:
        load(spec_file, env="prod")
    assert info.value.problems[0].line == 21  # the overlay line, not the base one


def test_env_interpolation(spec: dict[str, Any]) -> None:
    spec["spec"]["versions"]["stable"]["model"]["uri"] = "s3://${BUCKET}/m1"
    spec["spec"]["versions"]["stable"]["env"] = {"LEVEL": "${LEVEL:-info}", "LIT": "$${NOT}"}
    d = load_one(spec, environ={"BUCKET": "prod-artifacts"})
    assert d.spec.versions["stable"].model.uri == "s3://prod-artifacts/m1"  # type: ignore[union-attr]
    assert d.spec.versions["stable"].env == {"LEVEL": "info", "LIT": "${NOT}"}


def test_missing_env_var_located(spec_file: Path) -> None:
    spec_file.write_text(
        spec_file.read_text().replace("s3://bucket/churn-v1", '"s3://${ARTIFACT_BUCKET}/v1"')
    )
    with pytest.raises(InvalidSpec) as info:
        load(spec_file, environ={})
    text = str(info.value)
    assert f"{spec_file}:9:" in text
    assert "ARTIFACT_BUCKET is not set" in text and "export ARTIFACT_BUCKET" in text


def test_target_precedence(spec: dict[str, Any]) -> None:
    spec["spec"]["target"] = "sagemaker"
    assert load_one(spec, environ={}).target == "sagemaker"
    assert load_one(spec, environ={"CLOUDSERVE_TARGET": "vertex"}).target == "vertex"
    assert load_one(spec, environ={"CLOUDSERVE_TARGET": "vertex"}, target="azureml").target == "azureml"


def test_unknown_target_env(spec: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpec, match="unknown target 'gcp'"):
        load(spec, environ={"CLOUDSERVE_TARGET": "gcp"})


@pytest.mark.parametrize(
    ("where", "value", "what"),
    [
        ("env", {"AWS_SECRET_ACCESS_KEY": "abc123abc123"}, "secret-looking value"),
        ("env", {"KEY_ID": "AKIAABCDEFGHIJKLMNOP"}, "AWS access key id"),
        (
            "env",
            {"CONN": "DefaultEndpointsProtocol=https;AccountKey=" + "a" * 40},
            "Azure storage account key",
        ),
    ],
)
def test_inline_secrets_refused(spec: dict[str, Any], where: str, value: dict[str, str], what: str) -> None:
    spec["spec"]["versions"]["stable"][where] = value
    with pytest.raises(InvalidSpec) as info:
        load(spec, environ={})
    text = str(info.value)
    assert what in text and "credential chain" in text
    for secret in value.values():
        assert secret not in text  # the error never echoes the secret


def test_secret_reference_allowed(spec: dict[str, Any]) -> None:
    spec["spec"]["versions"]["stable"]["env"] = {"API_TOKEN": "${API_TOKEN}"}
    d = load_one(spec, environ={"API_TOKEN": "xyz"})
    assert d.spec.versions["stable"].env["API_TOKEN"] == "xyz"


def test_python_objects(spec: dict[str, Any]) -> None:
    d = Deployment.model_validate(spec)
    assert load_one(d).name == "churn"
    assert [x.name for x in load([d, spec | {"metadata": {"name": "other"}}])] == ["churn", "other"]
