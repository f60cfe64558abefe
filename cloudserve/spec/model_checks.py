"""Checks on a version's model that need its files: what loading them would run.

They run when a spec is loaded (validate, plan and apply, on every target), so an
artifact the runtime would refuse never reaches a cloud. The serving runtime applies the
same rules again when it loads (``cloudserve.serving.loaders``), inside every container:
both ask the loaders' own detection, so the two cannot disagree on what a file is.
"""

from __future__ import annotations

from cloudserve.artifacts import is_remote
from cloudserve.errors import SpecProblem
from cloudserve.spec.located import located
from cloudserve.spec.models import Deployment


def model_problems(deployment: Deployment) -> list[SpecProblem]:
    """Handlers that leave their model folder, and pickles loaded without trust_pickle."""
    from cloudserve.serving.loaders import LoaderError, handler_outside, runs_code

    problems = []
    for name, version in deployment.spec.versions.items():
        model = version.model
        if model is None or is_remote(model.uri):
            continue  # remote artifacts are judged by name in ModelSpec, and again at load
        root = deployment.local_path(model.uri)
        if root is None or not root.exists():
            continue  # plan reports missing artifacts
        folder = root if root.is_dir() else root.parent
        field = f"spec.versions.{name}.model"
        if model.handler and handler_outside(folder / model.handler, folder):
            problems.append(
                located(
                    deployment,
                    f"{field}.handler",
                    f"{model.handler} resolves to {(folder / model.handler).resolve()}, outside "
                    f"the model folder {folder}",
                    hint="a handler ships with its model: move the file (not a symlink to it) "
                    "into the model's folder",
                )
            )
        if model.trust_pickle:
            continue
        try:
            why = runs_code(root, model)
        except LoaderError:
            continue  # an unreadable or ambiguous artifact is the loader's error, at plan/load
        if why:
            problems.append(
                located(
                    deployment,
                    field,
                    f"{why}: unpickling it runs code from the file",
                    hint="set trust_pickle: true if you built it yourself, or save the model "
                    "with skops (scikit-learn) or XGBoost's save_model (JSON/UBJ)",
                )
            )
    return problems
