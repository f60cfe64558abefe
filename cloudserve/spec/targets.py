"""Which targets exist, and the settings model each one owns for its ``targets.<name>`` block.

Targets are discovered through entry points, so a target from another distribution can be
named in a spec exactly as the bundled ones are:

- ``cloudserve.providers``: ``name = "package.module:ProviderClass"`` (loaded by
  :mod:`cloudserve.registry` only when the target is used);
- ``cloudserve.settings``: ``name = "package.settings:SettingsClass"``, a
  :class:`TargetSettings` subclass in a module that imports nothing but pydantic and the
  core, because every spec that writes ``targets.<name>`` loads it (``cloudserve validate``
  stays fast and needs no cloud SDK). A target without settings omits it.

Only entry-point metadata is read here; no provider module is imported.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Protocol, Self

from cloudserve.spec.base import StrictModel

PROVIDERS_GROUP = "cloudserve.providers"
SETTINGS_GROUP = "cloudserve.settings"

# The targets this repository ships, with the distribution that provides each: named in hints
# when one is not installed, and covered by the published JSON Schema.
BUNDLED: dict[str, str] = {
    "local": "cloudserve[serve]",
    "sagemaker": "cloudserve-sagemaker",
    "vertex": "cloudserve-vertex",
    "azureml": "cloudserve-azureml",
}
# An entry-point name usable as a YAML key and an environment value.
TARGET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class _HasTargets(Protocol):  # a Deployment (not imported: the spec models import this module)
    def target_settings(self, target: str | None = None) -> Any: ...


class TargetSettings(StrictModel):
    """Base of every target's settings model (the ``targets.<name>`` block of a spec)."""

    target: ClassVar[str]  # the entry-point name of the target these settings configure

    def version_fields(self) -> dict[str, Any]:
        """Settings that are part of what every version runs (a target-wide serving image),
        so changing one redeploys each version. Most settings are not."""
        return {}

    @classmethod
    def of(cls, deployment: _HasTargets) -> Self:
        """This target's settings in ``deployment``: its block, or the defaults."""
        settings = deployment.target_settings(cls.target)
        if not isinstance(settings, cls):
            raise TypeError(
                f"targets.{cls.target} holds {type(settings).__name__}, not {cls.__name__}: "
                f"two installed distributions declare the target {cls.target!r}"
            )
        return settings


@cache
def _groups() -> tuple[dict[str, EntryPoint], dict[str, EntryPoint]]:
    found = entry_points()  # one scan of the installed metadata for both groups
    return (
        {ep.name: ep for ep in found.select(group=PROVIDERS_GROUP)},
        {ep.name: ep for ep in found.select(group=SETTINGS_GROUP)},
    )


def provider_entry_points() -> dict[str, EntryPoint]:
    return _groups()[0]


def installed() -> list[str]:
    """The installed targets, sorted."""
    return sorted(provider_entry_points())


def known() -> list[str]:
    """Every target a spec may name: the installed ones and the bundled ones (which plan then
    asks to install)."""
    return sorted({*provider_entry_points(), *BUNDLED})


def unknown_target_message(name: object, where: str) -> str:
    """'unknown target' with a did-you-mean and the choices, for every place a target is named."""
    choices = known()
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{where}: unknown target {name!r}{hint} Targets: {', '.join(choices)}"


def check_target_name(name: str, where: str) -> str:
    if name not in known():
        raise ValueError(unknown_target_message(name, where))
    return name


@cache
def settings_model(target: str) -> type[TargetSettings] | None:
    """The settings model ``target`` declares; None when it is not installed or has none."""
    ep = _groups()[1].get(target)
    if ep is None:
        return None
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, TargetSettings)):
        raise TypeError(
            f"entry point {SETTINGS_GROUP} {target!r} ({ep.value}) is not a TargetSettings subclass"
        )
    if getattr(cls, "target", None) != target:
        raise TypeError(
            f"entry point {SETTINGS_GROUP} {target!r} ({ep.value}) declares target "
            f"{getattr(cls, 'target', None)!r}; it must be {target!r}"
        )
    return cls


def default_settings(target: str) -> TargetSettings | None:
    model = settings_model(target)
    return model() if model is not None else None


def validate_blocks(blocks: dict[str, Any]) -> dict[str, Any]:
    """Each ``targets.<name>`` block validated by its target's settings model, every problem at
    once with its full location (``targets.vertex.projct``). A block for a bundled target that
    is not installed is kept as written: it is checked once the target is installed."""
    from pydantic import ValidationError
    from pydantic_core import InitErrorDetails, PydanticCustomError

    out: dict[str, Any] = {}
    errors: list[InitErrorDetails] = []
    for name, block in blocks.items():
        if name not in known():
            error = PydanticCustomError("unknown_target", unknown_target_message(name, "targets"))
            errors.append({"type": error, "loc": (name,), "input": block})
            continue
        model = settings_model(name)
        if model is None:
            if name in provider_entry_points() and block:
                error = PydanticCustomError("no_settings", f"target {name!r} takes no settings")
                errors.append({"type": error, "loc": (name,), "input": block})
            out[name] = block
            continue
        if isinstance(block, model):
            out[name] = block
            continue
        try:
            out[name] = model.model_validate(block if block is not None else {})
        except ValidationError as exc:
            # Re-raised under targets.<name>, each with its own type and message (the loader's
            # did-you-mean reads the type), whatever custom types the target's model raises.
            errors += [
                {
                    "type": PydanticCustomError(err["type"], err["msg"]),
                    "loc": (name, *err["loc"]),
                    "input": err["input"],
                }
                for err in exc.errors(include_url=False)
            ]
    if errors:
        raise ValidationError.from_exception_data("targets", errors)
    return out
