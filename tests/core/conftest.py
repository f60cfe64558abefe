from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cloudserve.testing.fake import FakeCloud, FakeProvider
from cloudserve.testing.specs import EXAMPLE_SPEC as BASE
from cloudserve.testing.specs import EXAMPLE_YAML as SPEC_YAML


@pytest.fixture
def spec() -> dict[str, Any]:
    return copy.deepcopy(BASE)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "churn.yaml"
    path.write_text(SPEC_YAML)
    return path


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def provider(cloud: FakeCloud) -> FakeProvider:
    return FakeProvider(cloud=cloud)
