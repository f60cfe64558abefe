"""Issue 18 item 5: local state is per user, so two projects using one deployment name are
kept apart (the second is refused with the owning path), and destroy removes everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudserve import api
from cloudserve.errors import Conflict


def _project(folder: Path, model: Path) -> Path:
    folder.mkdir()
    spec = folder / "deploy.yaml"
    spec.write_text(
        "apiVersion: cloudserve/v1\nkind: Deployment\nmetadata: {name: shared-name}\n"
        f"spec:\n  target: local\n  versions:\n    stable: {{model: {{uri: {model}}}}}\n"
    )
    return spec


def test_a_second_project_with_the_same_name_is_refused_with_the_owning_path(
    tmp_path: Path, state_root: Path, models: dict[str, Any]
) -> None:
    first = _project(tmp_path / "checkout-a", models["a_path"])
    second = _project(tmp_path / "checkout-b", models["b_path"])
    api.apply(first, timeout=60)
    try:
        for verb in (api.plan, api.apply, api.status, api.destroy):
            with pytest.raises(Conflict) as refused:
                verb(second)
            message = str(refused.value)
            assert str(first.parent) in message and str(second.parent) in message, verb
            assert "targets.local.state_dir" in (refused.value.hint or "")
        # The first project's endpoint is untouched: it still answers with its own model.
        assert api.invoke(first, {"instances": [[5.1, 3.5, 1.4, 0.2]]}).body == {
            "predictions": models["a"].predict([[5.1, 3.5, 1.4, 0.2]]).tolist()
        }
    finally:
        api.destroy(first)
    assert not (state_root / "shared-name").exists()  # lock, logs, token: all gone
    api.apply(second, timeout=60)  # once freed, the name is the second project's
    try:
        assert api.status(second).exists
    finally:
        api.destroy(second)
    assert list(state_root.iterdir()) == []


def test_a_deployment_made_from_python_objects_is_not_claimed(
    tmp_path: Path, state_root: Path, models: dict[str, Any]
) -> None:
    """No spec file, no project: such a deployment records no owner (any caller manages it)."""
    document = api.load(_project(tmp_path / "p", models["a_path"]))[0].model_dump(mode="json")
    built = api.Deployment.model_validate(document)
    api.apply(built, timeout=60)
    try:
        assert not (state_root / "shared-name" / "project.json").exists()
        assert api.status(tmp_path / "p" / "deploy.yaml").exists
    finally:
        api.destroy(built)
