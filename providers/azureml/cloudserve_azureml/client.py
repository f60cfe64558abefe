"""The only module that imports the Azure SDKs, and only when a client is first used.

``azure.ai.ml`` costs seconds to import, so `import cloudserve_azureml` and `cloudserve
validate` never pay for it. Credentials come from DefaultAzureCredential (environment,
workload identity, managed identity, Azure CLI, ...); tests swap the factory for the
emulator's credential through :func:`set_credential_factory`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudserve_azureml.settings import AzureMLSettings

_credential_factory: Callable[[], Any] | None = None


def set_credential_factory(factory: Callable[[], Any] | None) -> None:
    """Use ``factory()`` instead of DefaultAzureCredential (None restores the default)."""
    global _credential_factory
    _credential_factory = factory


def default_credential() -> Any:
    if _credential_factory is not None:
        return _credential_factory()
    import logging

    from azure.identity import DefaultAzureCredential

    # azure-identity logs the whole chain's failure (a dozen lines) as a WARNING before it
    # raises the same text; the raised error is what cloudserve reports, in one line.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    return DefaultAzureCredential()


def _quiet_polling() -> None:
    """azure-ai-ml's AzureMLPolling prints a '.' to stdout on every poll, from a background
    thread; that would corrupt `--output json`. Its operations modules bind the class by
    name, so point those names at plain ARMPolling (same behaviour, no printing)."""
    from azure.ai.ml.operations import (
        _online_deployment_operations,
        _online_endpoint_operations,
        _schedule_operations,
    )
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    for module in (_online_deployment_operations, _online_endpoint_operations, _schedule_operations):
        module.AzureMLPolling = ARMPolling  # type: ignore[attr-defined]


def _fast_experimental_classes() -> None:
    """azure-ai-ml decides whether to warn about an experimental class (DataCollector,
    DeploymentCollection, the monitoring entities, ...) by walking the whole call stack with
    source lookups (``inspect.stack()``) on every construction: ~0.2 s each, paid several
    times per deployment on every observe. The check only silences a warning, so skip it."""
    from azure.ai.ml._utils import _experimental

    _experimental._should_skip_warning = lambda: True


class AzureClients:
    """MLClient, the Azure Monitor client and an HTTP session, built on first use."""

    def __init__(self, settings: AzureMLSettings) -> None:
        self.settings = settings
        self._ml: Any = None
        self._monitor: Any = None
        self._session: Any = None
        self._credential: Any = None

    def _require(self) -> tuple[str, str, str]:
        from cloudserve.errors import InvalidSpec

        s = self.settings
        missing = [k for k in ("subscription_id", "resource_group", "workspace") if not getattr(s, k)]
        if missing:
            raise InvalidSpec(
                f"targets.azureml needs {', '.join(missing)}",
                hint="set them in the spec's targets.azureml block",
            )
        return s.subscription_id, s.resource_group, s.workspace  # type: ignore[return-value]

    @property
    def credential(self) -> Any:
        if self._credential is None:
            self._credential = default_credential()
        return self._credential

    @property
    def ml(self) -> Any:
        if self._ml is None:
            sub, group, workspace = self._require()
            from azure.ai.ml import MLClient

            _quiet_polling()
            _fast_experimental_classes()
            self._ml = MLClient(self.credential, sub, group, workspace, show_progress=False)
        return self._ml

    @property
    def monitor(self) -> Any:
        if self._monitor is None:
            sub, _, _ = self._require()
            from azure.mgmt.monitor import MonitorManagementClient

            self._monitor = MonitorManagementClient(self.credential, sub)
        return self._monitor

    @property
    def session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def entities(self) -> Any:
        """The azure.ai.ml.entities module (for translate.py, which must not import it)."""
        from azure.ai.ml import entities

        return entities

    def close(self) -> None:
        for client in (self._ml, self._monitor, self._session):
            close = getattr(client, "close", None)
            if callable(close):
                close()
        self._ml = self._monitor = self._session = None
