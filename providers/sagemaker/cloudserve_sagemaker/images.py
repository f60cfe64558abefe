"""Prebuilt SageMaker framework serving-container images, looked up with the sagemaker SDK.

The SDK is the authority on which image serves which framework version in which region
(its account ids differ per region), so it earns its place here, and only here: it is an
optional extra (``cloudserve-sagemaker[images]``), imported lazily (about 3 s cold), and
each answer is cached. A version with its own ``image`` never needs it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cloudserve.errors import InvalidSpec, TargetNotInstalled

# Frameworks whose models run in the scikit-learn container with cloudserve's shim: the
# shim installs cloudserve's runtime, which loads skops, joblib, MLflow and handlers.
_CONTAINER_FOR = {"sklearn": "sklearn", "xgboost": "xgboost", "mlflow": "sklearn", "custom": "sklearn"}
_DEFAULT_VERSION = {"sklearn": "1.2-1", "xgboost": "1.7-1"}


def _image_uris() -> Any:
    try:
        from sagemaker.core import image_uris  # sagemaker >= 3
    except ImportError:
        try:
            from sagemaker import image_uris  # sagemaker 2.x
        except ImportError as exc:
            raise TargetNotInstalled(
                "finding the SageMaker framework container image needs the sagemaker SDK",
                hint="pip install 'cloudserve-sagemaker[images]', or set the version's "
                "image to a serving image URI",
            ) from exc
    return image_uris


def _candidates(container: str, version: str | None) -> list[str]:
    if not version:
        return [_DEFAULT_VERSION[container]]
    return [version, f"{version}-1", f"{version}-2"]


@cache
def framework_image(framework: str, version: str | None, region: str, instance_type: str | None) -> str:
    """The serving image for a framework model, e.g. sagemaker-scikit-learn:1.2-1-cpu-py3."""
    container = _CONTAINER_FOR[framework]
    if framework != container:
        version = None  # the framework version names the model's library, not this container
    uris = _image_uris()
    problems = []
    for candidate in _candidates(container, version):
        try:
            return str(
                uris.retrieve(
                    container,
                    region=region,
                    version=candidate,
                    instance_type=instance_type or "ml.m5.large",
                    image_scope="inference",
                )
            )
        except ValueError as exc:
            problems.append(str(exc))
    raise InvalidSpec(
        f"no SageMaker {container} serving image for framework_version {version!r} in {region}",
        hint=problems[-1] if problems else None,
    )
