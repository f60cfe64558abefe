"""Entry-point discovery, lazy import, validation at load, and helpful errors."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from cloudserve import registry
from cloudserve.errors import TargetNotInstalled
from cloudserve.spec import targets
from cloudserve.testing.fake import FakeProvider


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> dict[str, EntryPoint]:
    eps: dict[str, EntryPoint] = {}
    targets._groups.cache_clear()
    monkeypatch.setattr(registry, "_entry_points", lambda: eps)
    return eps


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=registry.GROUP)


class NotAProvider:
    name = "fake"


class WrongName(FakeProvider):
    name = "other"


class OldInterface(FakeProvider):
    interface_version = 0


class InterfaceV1(FakeProvider):
    interface_version = 1


def test_loads_and_checks(entry_points: dict[str, EntryPoint]) -> None:
    entry_points["fake"] = _ep("fake", "cloudserve.testing.fake:FakeProvider")
    assert registry.provider_class("fake") is FakeProvider
    assert registry.installed_targets() == ["fake"]


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ("NotAProvider", "not a cloudserve.provider.Provider subclass"),
        ("WrongName", "declares name 'other'; it must be 'fake'"),
        ("OldInterface", "implements provider interface v0"),
        ("InterfaceV1", "implements provider interface v1; this cloudserve speaks v2"),
    ],
)
def test_rejects_bad_providers(entry_points: dict[str, EntryPoint], attr: str, message: str) -> None:
    entry_points["fake"] = _ep("fake", f"{__name__}:{attr}")
    with pytest.raises(registry.ProviderLoadError, match=message):
        registry.provider_class("fake")


def test_known_but_missing_names_package(entry_points: dict[str, EntryPoint]) -> None:
    with pytest.raises(TargetNotInstalled) as info:
        registry.provider_class("vertex")
    assert (
        info.value.hint
        == "pip install 'cloudserve-vertex' (from a clone of cloudserve: pip install './providers/vertex')"
    )


def test_unknown_lists_installed(entry_points: dict[str, EntryPoint]) -> None:
    entry_points["fake"] = _ep("fake", "cloudserve.testing.fake:FakeProvider")
    with pytest.raises(TargetNotInstalled) as info:
        registry.provider_class("sagemkaer")
    assert "did you mean 'sagemaker'" in str(info.value.hint)
    assert "installed targets: fake" in str(info.value.hint)


def test_import_error_is_explained(entry_points: dict[str, EntryPoint]) -> None:
    entry_points["vertex"] = _ep("vertex", "cloudserve_vertex_missing.provider:VertexProvider")
    with pytest.raises(TargetNotInstalled, match="failed to import"):
        registry.provider_class("vertex")


def test_import_cloudserve_imports_no_sdk() -> None:
    # Compared with a bare interpreter: namespace-package .pth files create empty
    # `google` modules at start-up, which cost nothing and are not an SDK import.
    code = (
        "import sys; before=set(sys.modules);"
        "import cloudserve, cloudserve.api, cloudserve.planner, cloudserve.registry, cloudserve.cli;"
        "new=set(sys.modules)-before;"
        "heavy=[m for m in new if m.split('.')[0] in "
        "('boto3','botocore','sagemaker','google','azure','moto','sklearn','uvicorn','numpy')];"
        "print(','.join(sorted(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_entry_points_are_real() -> None:
    targets._groups.cache_clear()
    assert "local" in registry.installed_targets()


def _unused(*_: Any) -> None: ...


def test_a_v1_plugin_is_told_how_to_move_to_v2(entry_points: dict[str, EntryPoint]) -> None:
    entry_points["fake"] = _ep("fake", f"{__name__}:InterfaceV1")
    with pytest.raises(registry.ProviderLoadError) as refused:
        registry.provider_class("fake")
    assert "plan_note(desired, version)" in (refused.value.hint or "")
