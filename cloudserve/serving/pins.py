"""Which ``framework_version`` pins cloudserve's serving runtime can be installed beside.

SageMaker and Azure ML install the runtime in their container together with the model's
own library at the spec's ``framework_version`` (``scikit-learn==1.5.*``). The runtime's
``serve`` extra needs scikit-learn >= 1.4 and XGBoost >= 2.0, so an older pin cannot be
installed with it, and the container would fail at start, minutes after the apply. Those
targets check the pins at plan time instead (``pin_check``, with these rules; no SDK, no numpy).
"""

from __future__ import annotations

import re

from cloudserve.spec.models import ModelSpec

#: framework -> (package, lowest version the ``serve`` extra accepts; see pyproject.toml).
RUNTIME_FLOORS: dict[str, tuple[str, tuple[int, int]]] = {
    "sklearn": ("scikit-learn", (1, 4)),
    "xgboost": ("xgboost", (2, 0)),
}
#: framework -> the library its models are saved with.
FRAMEWORK_PACKAGES = {framework: package for framework, (package, _) in RUNTIME_FLOORS.items()}
MAJOR_MINOR = re.compile(r"^(\d+)\.(\d+)")


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


def major_minor(version: str) -> tuple[int, int] | None:
    match = MAJOR_MINOR.match(version)
    return (int(match[1]), int(match[2])) if match else None


def loads_safely(framework: str, written: str, series: str) -> bool:
    if framework == "sklearn":
        return _in_series(written, series)
    ours, theirs = major_minor(series), major_minor(written)
    return ours is None or theirs is None or ours >= theirs


def why_unsafe(framework: str) -> str:
    if framework == "sklearn":
        return "and scikit-learn warns that an estimator loaded by another version may break or mispredict"
    return "and XGBoost does not promise that an older version loads a newer model"
