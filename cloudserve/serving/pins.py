"""Which ``framework_version`` pins cloudserve's serving runtime can be installed beside.

SageMaker and Azure ML install the runtime in their container together with the model's
own library at the spec's ``framework_version`` (``scikit-learn==1.5.*``). The runtime's
``serve`` extra needs scikit-learn >= 1.4 and XGBoost >= 2.0, so an older pin cannot be
installed with it, and the container would fail at start, minutes after the apply. Those
targets check the pins at plan time instead, with this module (no SDK, no numpy).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cloudserve.spec.models import Deployment, ModelSpec

#: framework -> (package, lowest version the ``serve`` extra accepts; see pyproject.toml).
RUNTIME_FLOORS: dict[str, tuple[str, tuple[int, int]]] = {
    "sklearn": ("scikit-learn", (1, 4)),
    "xgboost": ("xgboost", (2, 0)),
}
#: framework -> the library its models are saved with.
FRAMEWORK_PACKAGES = {framework: package for framework, (package, _) in RUNTIME_FLOORS.items()}
_MAJOR_MINOR = re.compile(r"^(\d+)\.(\d+)")


def framework_pin(model: ModelSpec, written: str | None = None) -> str | None:
    """The requirement for a model's library in its container.

    ``written`` is the version the artifact records (``written_with``). Without a
    framework_version the container gets exactly that version; with one that it falls in
    (``1.5`` and 1.5.2) it is narrowed to it, because scikit-learn warns on any difference,
    patch releases included. Otherwise the framework_version's series (``scikit-learn==1.5.*``).
    """
    package = FRAMEWORK_PACKAGES.get(model.framework)
    if package is None:
        return None
    wanted = model.framework_version
    if written and (not wanted or _in_series(written, wanted)):
        return f"{package}=={written}"
    return f"{package}=={wanted}.*" if wanted else None


def _in_series(version: str, series: str) -> bool:
    return version == series or version.startswith(series + ".")


def _major_minor(version: str) -> tuple[int, int] | None:
    match = _MAJOR_MINOR.match(version)
    return (int(match[1]), int(match[2])) if match else None


def written_with_problems(deployment: Deployment, names: Iterable[str] | None = None) -> list[str]:
    """Versions whose framework_version puts the model in a library version other than the
    one that wrote it, where that library says the load is unsafe:

    - scikit-learn warns ``InconsistentVersionWarning`` whenever an estimator is unpickled
      (joblib, pickle, skops) by any other version than wrote it (``BaseEstimator.__setstate__``
      in scikit-learn's sklearn/base.py): the series must contain the written version.
    - XGBoost keeps saved models loadable by *later* versions only (xgboost
      doc/tutorials/saving_model.rst, "backward compatibility"): the series must not be older.
    """
    from cloudserve.artifacts import is_remote, resolve_local
    from cloudserve.desired import base_dir_of
    from cloudserve.serving.written_with import written_with

    problems = []
    for name in deployment.spec.versions if names is None else names:
        version = deployment.spec.versions[name]
        model = version.model
        if model is None or version.image or not model.framework_version or is_remote(model.uri):
            continue
        path = resolve_local(model.uri, base_dir_of(deployment))
        written = written_with(path, model)
        if written is None or _compatible(model.framework, written, model.framework_version):
            continue
        package = FRAMEWORK_PACKAGES[model.framework]
        series = ".".join(written.split(".")[:2])
        problems.append(
            f"spec.versions.{name}.model.framework_version: {path.name} was written by {package} "
            f"{written}, but {model.framework_version!r} runs {package} {model.framework_version}.* "
            f'in the container, {_why(model.framework)}; set framework_version: "{series}" (or '
            f"leave it out to run {written}), or save the model again with {package} "
            f"{model.framework_version}"
        )
    return problems


def _compatible(framework: str, written: str, series: str) -> bool:
    if framework == "sklearn":
        return _in_series(written, series)
    ours, theirs = _major_minor(series), _major_minor(written)
    return ours is None or theirs is None or ours >= theirs


def _why(framework: str) -> str:
    if framework == "sklearn":
        return "and scikit-learn warns that an estimator loaded by another version may break or mispredict"
    return "and XGBoost does not promise that an older version loads a newer model"


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
        match = _MAJOR_MINOR.match(model.framework_version)
        if match is None:
            problems.append(f"{field}: {model.framework_version!r} is not a version such as '1.5'")
        elif (int(match[1]), int(match[2])) < lowest:
            problems.append(
                f"{field}: {model.framework_version!r} is older than cloudserve's serving runtime "
                f"supports ({package} >= {lowest[0]}.{lowest[1]}); save the model with a newer "
                f"{package}, or give the version an image of your own"
            )
    return problems + written_with_problems(deployment)
