"""The prebuilt SageMaker serving image cloudserve's runtime runs in, looked up with the sagemaker SDK.

The SDK is the authority on which image URI a container version has in which region
(its account ids differ per region), so it earns its place here, and only here: it is an
optional extra (``cloudserve-sagemaker[images]``), imported lazily (about 3 s cold), and
each answer is cached. A version with its own ``image`` never needs it.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from typing import Any

from cloudserve.errors import InvalidSpec, TargetNotInstalled
from cloudserve.install import install_hint
from cloudserve.provider import DesiredEndpoint

# Every model runs in one prebuilt image: cloudserve's runtime (code/requirements.txt)
# installs its own scikit-learn, XGBoost and the rest, so what the image must supply is a
# Python the runtime installs on (>= 3.11). sagemaker-scikit-learn 1.4-2-py312 runs Python
# 3.12; 1.2-1 and older run 3.9 or less, where pip refuses the runtime
# (aws/sagemaker-scikit-learn-container, docker/*/base/Dockerfile.cpu).
RUNTIME_CONTAINER = ("sklearn", "1.4-2-py312")


def _image_uris() -> Any:
    try:
        from sagemaker.core import image_uris  # sagemaker >= 3
    except ImportError:
        try:
            from sagemaker import image_uris  # sagemaker 2.x
        except ImportError as exc:
            raise TargetNotInstalled(
                "finding the SageMaker framework container image needs the sagemaker SDK",
                hint=f"{install_hint('cloudserve-sagemaker[images]')}, or set the version's "
                "image to a serving image URI",
            ) from exc
    return image_uris


def missing_sdk_problems(desired: DesiredEndpoint) -> list[str]:
    """Plan-time: versions that need the prebuilt image lookup when the SDK is absent, so
    `plan --offline` and `validate --target sagemaker` say so instead of apply failing."""
    if importlib.util.find_spec("sagemaker") is not None:
        return []
    needing = [name for name, v in desired.versions.items() if not v.spec.image]
    if desired.monitoring_hash:
        needing.append("(the drift job)")
    if not needing:
        return []
    return [
        f"spec.versions: {', '.join(needing)} run in SageMaker's prebuilt scikit-learn image, "
        "whose URI is looked up with the sagemaker SDK, which is not installed: "
        f"{install_hint('cloudserve-sagemaker[images]')}, or set each version's image"
    ]


@cache
def runtime_image(region: str, instance_type: str | None) -> str:
    """The prebuilt image cloudserve's runtime runs in, e.g. sagemaker-scikit-learn:1.4-2-py312-cpu-py3."""
    container, version = RUNTIME_CONTAINER
    try:
        return str(
            _image_uris().retrieve(
                container,
                region=region,
                version=version,
                instance_type=instance_type or "ml.m5.large",
                image_scope="inference",
            )
        )
    except ValueError as exc:
        raise InvalidSpec(
            f"no SageMaker {container} {version} serving image in {region}",
            hint=f"{exc}; or set the version's image to a serving image URI",
        ) from exc
