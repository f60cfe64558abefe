"""Targets, discovered through the ``cloudserve.providers`` entry point group.

A provider module is imported only when its target is used, so `import cloudserve` and
`cloudserve validate` never pay for a cloud SDK.
"""

from __future__ import annotations

import difflib
from typing import Any

from cloudserve.errors import CloudServeError, TargetNotInstalled
from cloudserve.install import install_hint
from cloudserve.provider import INTERFACE_VERSION, Provider
from cloudserve.spec import targets

GROUP = targets.PROVIDERS_GROUP
KNOWN_TARGETS = targets.BUNDLED  # the bundled targets, with the distribution of each


class ProviderLoadError(CloudServeError):
    exit_code = 2


_entry_points = targets.provider_entry_points  # a module global, so tests can replace it


def installed_targets() -> list[str]:
    return sorted(_entry_points())


def provider_class(target: str) -> type[Provider]:
    """Import and check the provider for ``target``."""
    eps = _entry_points()
    if target not in eps:
        if target in KNOWN_TARGETS:
            package = KNOWN_TARGETS[target]
            raise TargetNotInstalled(
                f"target {target!r} is not installed",
                hint=install_hint(package),
            )
        close = difflib.get_close_matches(target, [*eps, *KNOWN_TARGETS], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TargetNotInstalled(
            f"unknown target {target!r}",
            hint=hint + f"installed targets: {', '.join(sorted(eps)) or 'none'}",
        )
    try:
        cls = eps[target].load()
    except ImportError as exc:
        dist = eps[target].dist
        package = KNOWN_TARGETS.get(target, dist.name if dist else target)
        raise TargetNotInstalled(
            f"target {target!r} failed to import: {exc}", hint=f"reinstall it: {install_hint(package)}"
        ) from exc
    _check(target, cls)
    return cls  # type: ignore[no-any-return]


def _check(target: str, cls: Any) -> None:
    where = f"entry point {target!r} ({_entry_points()[target].value})"
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ProviderLoadError(f"{where} is not a cloudserve.provider.Provider subclass")
    if getattr(cls, "name", None) != target:
        raise ProviderLoadError(
            f"{where} declares name {getattr(cls, 'name', None)!r}; it must be {target!r}"
        )
    if cls.interface_version != INTERFACE_VERSION:
        raise ProviderLoadError(
            f"{where} implements provider interface v{cls.interface_version}; this cloudserve "
            f"speaks v{INTERFACE_VERSION}",
            hint="upgrade the provider package and cloudserve together"
            + (
                "; a v1 provider moves to v2 with plan_note(desired, version) and native_rollout "
                "returning a NativePlan, keeping no state between plan and apply "
                "(docs/writing-a-target.md)"
                if cls.interface_version == 1
                else ""
            ),
        )
    abstract = getattr(cls, "__abstractmethods__", ())
    if abstract:
        raise ProviderLoadError(f"{where} does not implement: {', '.join(sorted(abstract))}")


def create_provider(target: str, settings: Any, *, offline: bool = False) -> Provider:
    return provider_class(target)(settings, offline=offline)
