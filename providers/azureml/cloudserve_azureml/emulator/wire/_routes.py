"""Which model each ARM exchange the emulator serves is checked against, and which
api-versions the installed SDKs send.

Each route names the SDK operation it mirrors; ``tests/test_wire.py`` checks that the named
operation's source really (de)serialises the listed models and accepts exactly the listed
status codes, so the table cannot drift from the installed SDK. A response model written
``[X]`` is an ARM page, ``{"value": [X, ...], "nextLink": "..."}``; ``None`` means no body.
Model names are arm_ml_service's; an msrest package's own names for the same operation
are read from its generated code (``_sources.msrest_models``).
"""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass, field
from typing import Literal

Family = Literal["mls", "monitor", "lro"]

_WS = (
    r"/subscriptions/[^/]+/resourceGroups/[^/]+"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
)
_AUTOSCALE = (
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Insights/autoscalesettings/[^/]+"
)
_ONE = r"/[^/]+"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    family: Family
    operation: str  # "<Operations class>.<method>" in the SDK this exchange comes from
    request: str | None
    responses: dict[int, str | None]
    body_optional: bool = False
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(f"^{self.path}$", re.IGNORECASE))


def _crud(prefix: str, ops: str, model: str, *, lro: bool = False) -> list[Route]:
    """GET page, GET, PUT, DELETE of one ARM collection, as its Operations class has them."""
    put = "_create_or_update_initial" if lro else "create_or_update"
    delete = "_delete_initial" if lro else "delete"
    return [
        Route("GET", prefix, "mls", f"{ops}.list", None, {200: f"[{model}]"}),
        Route("GET", prefix + _ONE, "mls", f"{ops}.get", None, {200: model}),
        Route("PUT", prefix + _ONE, "mls", f"{ops}.{put}", model, {200: model, 201: model}),
        Route(
            "DELETE",
            prefix + _ONE,
            "mls",
            f"{ops}.{delete}",
            None,
            {200: None, 202: None, 204: None} if lro else {200: None, 204: None},
        ),
    ]


def _assets() -> list[Route]:
    out: list[Route] = []
    for kind, noun, version in (
        ("models", "Model", "ModelVersion"),
        ("environments", "Environment", "EnvironmentVersion"),
        ("codes", "Code", "CodeVersion"),
        ("data", "Data", "DataVersionBase"),
    ):
        containers = f"{noun}ContainersOperations"
        versions = f"{noun}VersionsOperations" if noun != "Data" else "DataVersionsOperations"
        out += _crud(f"{_WS}/{kind}", containers, f"{noun}Container")
        out += _crud(f"{_WS}/{kind}{_ONE}/versions", versions, version)
    out.append(
        Route(
            "POST",
            f"{_WS}/codes{_ONE}/versions{_ONE}/startPendingUpload",
            "mls",
            "CodeVersionsOperations.create_or_get_start_pending_upload",
            "PendingUploadRequestDto",
            {200: "PendingUploadResponseDto"},
        )
    )
    return out


_ENDPOINT = f"{_WS}/onlineEndpoints{_ONE}"
_DEPLOYMENTS = f"{_ENDPOINT}/deployments"

ROUTES: tuple[Route, ...] = (
    Route("GET", _WS, "mls", "WorkspacesOperations.get", None, {200: "Workspace"}),
    Route("GET", f"{_WS}/datastores", "mls", "DatastoresOperations.list", None, {200: "[Datastore]"}),
    Route("GET", f"{_WS}/datastores{_ONE}", "mls", "DatastoresOperations.get", None, {200: "Datastore"}),
    Route(
        "POST",
        f"{_WS}/datastores{_ONE}/listSecrets",
        "mls",
        "DatastoresOperations.list_secrets",
        "SecretExpiry",
        {200: "DatastoreSecrets"},
        body_optional=True,  # list_secrets(body: Optional[SecretExpiry])
    ),
    *_crud(f"{_WS}/onlineEndpoints", "OnlineEndpointsOperations", "OnlineEndpoint", lro=True),
    Route(
        "PATCH",
        _ENDPOINT,
        "mls",
        "OnlineEndpointsOperations._update_initial",
        "PartialMinimalTrackedResourceWithIdentity",
        {200: "OnlineEndpoint", 202: None},
    ),
    Route(
        "POST",
        f"{_ENDPOINT}/listKeys",
        "mls",
        "OnlineEndpointsOperations.list_keys",
        None,
        {200: "EndpointAuthKeys"},
    ),
    Route(
        "POST",
        f"{_ENDPOINT}/token",
        "mls",
        "OnlineEndpointsOperations.get_token",
        None,
        {200: "EndpointAuthToken"},
    ),
    *_crud(_DEPLOYMENTS, "OnlineDeploymentsOperations", "OnlineDeployment", lro=True),
    Route(
        "PATCH",
        f"{_DEPLOYMENTS}{_ONE}",
        "mls",
        "OnlineDeploymentsOperations._update_initial",
        "PartialMinimalTrackedResourceWithSku",
        {200: "OnlineDeployment", 202: None},
    ),
    *_assets(),
    *_crud(f"{_WS}/schedules", "SchedulesOperations", "Schedule", lro=True),
    # Azure-AsyncOperation / Location polls: ARM's operation status, not an MLS model
    # (checked against ARM common-types' OperationStatusResult in _lro.py).
    Route(
        "GET",
        r"/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/locations/[^/]+"
        r"/mfeOperation(?:sStatus|Results)/[^/]+",
        "lro",
        "ARMPolling",
        None,
        {200: "OperationStatusResult"},
    ),
    Route(
        "GET",
        _AUTOSCALE,
        "monitor",
        "AutoscaleSettingsOperations.get",
        None,
        {200: "AutoscaleSettingResource"},
    ),
    Route(
        "PUT",
        _AUTOSCALE,
        "monitor",
        "AutoscaleSettingsOperations.create_or_update",
        "AutoscaleSettingResource",
        {200: "AutoscaleSettingResource", 201: "AutoscaleSettingResource"},
    ),
    Route(
        "DELETE", _AUTOSCALE, "monitor", "AutoscaleSettingsOperations.delete", None, {200: None, 204: None}
    ),
    Route(
        "GET",
        r"/subscriptions/.+/providers/Microsoft\.Insights/metrics",
        "monitor",
        "MetricsOperations.list",
        None,
        {200: "Response"},
    ),
)

# The error body each family's SDK reads (the model its operations pass to failsafe
# deserialisation). Metrics List's is flat ({"code", "message"}), unlike ARM's envelope.
ERROR_MODELS = {
    "mls": "ErrorResponse",
    "lro": "ErrorResponse",
    "AutoscaleSettingsOperations": "AutoscaleErrorResponse",
    "MetricsOperations": "ErrorResponseAutoGenerated4",
}


# What azure-ai-ml itself sends that its models do not allow (not the adapter's doing, and
# the service takes it): (operation, problem it causes, evidence). Such a request problem is
# recorded as accepted rather than failed; anything else the SDK sends must match.
SDK_DEPARTURES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "CodeVersionsOperations.create_or_update",
        re.compile(r"^request\.properties\.properties\.hash_version: expected str, got number"),
        "azure-ai-ml 1.35.2 entities/_assets/_artifacts/code.py:116 puts get_content_hash_version(), "
        "an int, into the string-valued CodeVersion properties (operations/_code_operations.py:142 "
        "writes str() of it)",
    ),
)


def sdk_departure(operation: str, problem: str) -> str | None:
    for op, pattern, evidence in SDK_DEPARTURES:
        if op == operation and pattern.search(problem):
            return evidence
    return None


def route_for(method: str, path: str) -> Route | None:
    for route in ROUTES:
        if route.method == method and route.pattern.match(path):
            return route
    return None


@functools.cache
def mls_api_versions() -> frozenset[str]:
    """Every api-version azure-ai-ml hands its ARM client: the ``ServiceClient<date>``
    partials in ``azure.ai.ml._ml_client`` (all of them the same ``arm_ml_service`` client
    and models) and that client's own default."""
    from azure.ai.ml import _ml_client
    from azure.ai.ml._restclient.arm_ml_service._configuration import (
        MachineLearningServicesMgmtClientConfiguration,
    )

    found = {
        value.keywords["api_version"]
        for value in vars(_ml_client).values()
        if isinstance(value, functools.partial) and "api_version" in value.keywords
    }
    default = MachineLearningServicesMgmtClientConfiguration(credential=object(), subscription_id="-")  # type: ignore[arg-type]
    return frozenset({*found, default.api_version})


@functools.cache
def monitor_api_versions(operations: str) -> frozenset[str]:
    """The api-version(s) azure-mgmt-monitor's request builders for ``operations`` send
    (each operation group of that package is generated for one api-version)."""
    from azure.mgmt.monitor import operations as ops

    module = inspect.getmodule(getattr(ops, operations))
    source = inspect.getsource(module) if module else ""
    return frozenset(re.findall(r'_params\.pop\("api-version", "([^"]+)"\)', source))
