"""Where each exchange's models come from: the generated package for its api-version.

Microsoft.MachineLearningServices: the per-api-version packages that azure-ai-ml generated
from Azure/azure-rest-api-specs and shipped as ``azure/ai/ml/_restclient/v<api_version>``
up to 1.34.1 (``scripts/test-envs.sh`` keeps those folders of that wheel): autorest/msrest
packages (``v2023_04_01_preview``) or TypeSpec ones (``v2024_10_01_preview_tsp``). For an
api-version with no such package that the installed azure-ai-ml still sends, its own
``arm_ml_service`` client (the 2025-12-01 models it serialises every request with); any
other api-version has no models, and fails. Microsoft.Insights: azure-mgmt-monitor, whose
operation groups are each generated for one api-version.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cloudserve_azureml.emulator.wire._routes import mls_api_versions, monitor_api_versions

Kind = Literal["msrest", "tsp"]
_PARENT = "_cloudserve_azureml_rest_models"
_PRIMITIVES = {
    "str",
    "int",
    "long",
    "float",
    "bool",
    "duration",
    "iso-8601",
    "rfc-1123",
    "object",
    "bytearray",
}


@dataclass(frozen=True)
class Source:
    kind: Kind
    models: types.ModuleType
    operations: types.ModuleType | None
    label: str


def _load(package: str) -> tuple[types.ModuleType, types.ModuleType]:
    models = importlib.import_module(f"{package}.models")
    operations = importlib.import_module(f"{package}.operations")
    return models, operations


@functools.cache
def versioned_packages(root: Path) -> dict[str, str]:
    """api-version -> importable package name, for each ``v<date>[_tsp]`` folder in
    ``root`` (an ``azure/ai/ml/_restclient`` folder), under a private parent package."""
    if _PARENT not in sys.modules:
        parent = types.ModuleType(_PARENT)
        parent.__path__ = [str(root)]
        sys.modules[_PARENT] = parent
    out: dict[str, str] = {}
    for folder in sorted(root.glob("v20*")):
        match = re.fullmatch(r"v(\d{4})_(\d{2})_(\d{2})(_preview)?(_tsp)?", folder.name)
        if match and (folder / "models").is_dir():
            year, month, day, preview, _ = match.groups()
            out[f"{year}-{month}-{day}{'-preview' if preview else ''}"] = f"{_PARENT}.{folder.name}"
    return out


@functools.cache
def mls_source(api_version: str, root: Path | None) -> Source | str:
    """The models for a Microsoft.MachineLearningServices api-version, or why there are none."""
    package = versioned_packages(root).get(api_version) if root else None
    if package:
        models, operations = _load(package)
        kind: Kind = "tsp" if package.endswith("_tsp") else "msrest"
        return Source(
            kind, models, operations, f"azure-ai-ml 1.34.1 _restclient/{package.rsplit('.', 1)[-1]}"
        )
    if api_version in mls_api_versions():
        models, operations = _load("azure.ai.ml._restclient.arm_ml_service")
        return Source("tsp", models, operations, "azure-ai-ml arm_ml_service (2025-12-01 models)")
    return (
        f"api-version {api_version!r}: no generated models (none in {root}, and azure-ai-ml sends only "
        f"{', '.join(sorted(mls_api_versions()))})"
    )


@functools.cache
def monitor_source(api_version: str, group: str) -> Source | str:
    known = monitor_api_versions(group)
    if api_version not in known:
        generated = ", ".join(sorted(known))
        return f"api-version {api_version!r}: azure-mgmt-monitor's {group} is generated for {generated}"
    models, operations = _load("azure.mgmt.monitor")
    return Source("msrest", models, operations, f"azure-mgmt-monitor {group}")


def lro_source() -> Source:
    from cloudserve_azureml.emulator.wire import _lro

    return Source("tsp", _lro, None, "ARM common-types OperationStatusResult")


@functools.cache
def msrest_models(source: Source, operation: str) -> tuple[str | None, str | None]:
    """The request and response model names an msrest operation (de)serialises, read from
    its generated code (names differ between api-versions: ``OnlineEndpointData`` in
    2022-02-01-preview, ``OnlineEndpoint`` later)."""
    group, method = operation.split(".")
    code = inspect.getsource(getattr(getattr(source.operations, group), method))
    request = re.search(r"_serialize\.body\(\s*\w+,\s*['\"](\w+)['\"]", code)
    responses = [m for m in re.findall(r"_deserialize\(\s*['\"](\w+)['\"]", code) if m not in _PRIMITIVES]
    return (request.group(1) if request else None), (responses[0] if responses else None)
