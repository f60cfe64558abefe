"""Plan-time checks of each version's ``framework_version`` against what the serving
runtime accepts and what wrote its model (the rules are ``pins``; this module reads the
artifacts to apply them)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudserve.serving.pins import FRAMEWORK_PACKAGES, MAJOR_MINOR, RUNTIME_FLOORS, loads_safely, why_unsafe
from cloudserve.serving.written_with import written_with
from cloudserve.spec.models import Deployment


def framework_pin_problems(deployment: Deployment) -> list[str]:
    """One message per version whose framework_version is below what the runtime needs, or
    does not fit the version that wrote its model (``written_with_problems``)."""
    problems = []
    for name, version in deployment.spec.versions.items():
        model = version.model
        if model is None or version.image or not model.framework_version:
            continue
        floor = RUNTIME_FLOORS.get(model.framework)
        if floor is None:
            continue
        package, lowest = floor
        field = f"spec.versions.{name}.model.framework_version"
        match = MAJOR_MINOR.match(model.framework_version)
        if match is None:
            problems.append(f"{field}: {model.framework_version!r} is not a version such as '1.5'")
        elif (int(match[1]), int(match[2])) < lowest:
            problems.append(
                f"{field}: {model.framework_version!r} is older than cloudserve's serving runtime "
                f"supports ({package} >= {lowest[0]}.{lowest[1]}); save the model with a newer "
                f"{package}, or give the version an image of your own"
            )
    return problems + written_with_problems(deployment)


def written_with_problems(deployment: Deployment, names: Iterable[str] | None = None) -> list[str]:
    """Versions whose framework_version puts the model in a library version other than the
    one that wrote it, where that library says the load is unsafe:

    - scikit-learn warns ``InconsistentVersionWarning`` whenever an estimator is unpickled
      (joblib, pickle, skops) by any other version than wrote it (``BaseEstimator.__setstate__``
      in scikit-learn's sklearn/base.py): the series must contain the written version.
    - XGBoost keeps saved models loadable by *later* versions only (xgboost
      doc/tutorials/saving_model.rst, "backward compatibility"): the series must not be older.
    """
    from cloudserve.artifacts import is_remote

    problems = []
    for name in deployment.spec.versions if names is None else names:
        version = deployment.spec.versions[name]
        model = version.model
        if model is None or version.image or not model.framework_version or is_remote(model.uri):
            continue
        path = deployment.local_path(model.uri)
        if path is None:
            continue
        written = written_with(path, model)
        if written is None or loads_safely(model.framework, written, model.framework_version):
            continue
        package = FRAMEWORK_PACKAGES[model.framework]
        series = ".".join(written.split(".")[:2])
        problems.append(
            f"spec.versions.{name}.model.framework_version: {path.name} was written by {package} "
            f"{written}, but {model.framework_version!r} runs {package} {model.framework_version}.* "
            f'in the container, {why_unsafe(model.framework)}; set framework_version: "{series}" (or '
            f"leave it out to run {written}), or save the model again with {package} "
            f"{model.framework_version}"
        )
    return problems
