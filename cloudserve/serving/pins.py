"""Which ``framework_version`` pins cloudserve's serving runtime can be installed beside.

SageMaker and Azure ML install the runtime in their container together with the model's
own library at the spec's ``framework_version`` (``scikit-learn==1.5.*``). The runtime's
``serve`` extra needs scikit-learn >= 1.4 and XGBoost >= 2.0, so an older pin cannot be
installed with it, and the container would fail at start, minutes after the apply. Those
targets check the pins at plan time instead, with this module (no SDK, no numpy).
"""

from __future__ import annotations

import re

from cloudserve.spec.models import Deployment, ModelSpec

#: framework -> (package, lowest version the ``serve`` extra accepts; see pyproject.toml).
RUNTIME_FLOORS: dict[str, tuple[str, tuple[int, int]]] = {
    "sklearn": ("scikit-learn", (1, 4)),
    "xgboost": ("xgboost", (2, 0)),
}
#: framework -> the library its models are saved with.
FRAMEWORK_PACKAGES = {framework: package for framework, (package, _) in RUNTIME_FLOORS.items()}
_MAJOR_MINOR = re.compile(r"^(\d+)\.(\d+)")


def framework_pin(model: ModelSpec) -> str | None:
    """The requirement pinning a model's library at its framework_version (``scikit-learn==1.5.*``)."""
    package = FRAMEWORK_PACKAGES.get(model.framework)
    if package is None or not model.framework_version:
        return None
    return f"{package}=={model.framework_version}.*"


def framework_pin_problems(deployment: Deployment) -> list[str]:
    """One message per version whose framework_version is below what the runtime needs."""
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
    return problems
