"""cloudserve: one provider-neutral spec, deployed to SageMaker, Vertex AI, Azure ML or locally.

The Python API mirrors the CLI verbs. Attributes are loaded lazily so that
``import cloudserve`` stays fast and never imports a cloud SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = {
    "load": "cloudserve.api",
    "validate": "cloudserve.api",
    "plan": "cloudserve.api",
    "apply": "cloudserve.api",
    "status": "cloudserve.api",
    "invoke": "cloudserve.api",
    "destroy": "cloudserve.api",
    "metrics": "cloudserve.api",
    "Deployment": "cloudserve.spec.models",
    "CloudServeError": "cloudserve.errors",
    "InvalidSpec": "cloudserve.errors",
    "RolloutFailed": "cloudserve.errors",
}

if TYPE_CHECKING:
    from cloudserve.api import apply as apply
    from cloudserve.api import destroy as destroy
    from cloudserve.api import invoke as invoke
    from cloudserve.api import load as load
    from cloudserve.api import metrics as metrics
    from cloudserve.api import plan as plan
    from cloudserve.api import status as status
    from cloudserve.api import validate as validate
    from cloudserve.errors import CloudServeError as CloudServeError
    from cloudserve.errors import InvalidSpec as InvalidSpec
    from cloudserve.errors import RolloutFailed as RolloutFailed
    from cloudserve.spec.models import Deployment as Deployment


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'cloudserve' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = sorted(_API)


def __dir__() -> list[str]:
    """The verbs and types, for dir() and tab completion (they load lazily)."""
    return [*__all__, "__version__"]
