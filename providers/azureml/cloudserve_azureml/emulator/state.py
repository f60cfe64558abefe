"""State and rules of the Azure ML emulator: resources, blobs, operations, faults, metrics.

Kept apart from the HTTP layer (:mod:`._emulator_arm`) so that rules read as rules. Every
rule here mirrors a documented Azure ML constraint; the source is named beside each one.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Endpoint and deployment names: 3-32 characters, start with a letter, then letters,
# digits and hyphens, ending with a letter or digit. Source: azure-ai-ml
# EndpointConfigurations.NAME_REGEX_PATTERN / MIN_NAME_LENGTH / MAX_NAME_LENGTH and the
# "online endpoint name" rules in the Azure ML docs.
# Single dashes only: "a--b" is refused by the service (letters, digits, single dashes).
NAME_RE = re.compile(r"^[a-zA-Z](-?[a-zA-Z0-9])*$")
NAME_MIN, NAME_MAX = 3, 32
# "Percentage of traffic to be mirrored to each deployment ... Traffic values need to sum
# to utmost 50." (OnlineEndpointProperties.mirrorTraffic, REST API 2024-04-01).
MIRROR_MAX_TOTAL = 50
TRAFFIC_MAX_TOTAL = 100
# ARM tag limits, for every tracked resource (Microsoft Learn, "Use tags to organize your
# Azure resources", Limitations; REST TrackedResource.tags): at most 50 name/value pairs,
# names up to 512 characters, values up to 256, and names may not contain < > % & \ ? /.
TAGS_MAX = 50
TAG_NAME_MAX = 512
TAG_VALUE_MAX = 256
TAG_NAME_FORBIDDEN = frozenset("<>%&\\?/")
# The VM sizes managed online deployments accept (Microsoft Learn, "Managed online endpoints
# SKU list", the "VM Size Name" column, ms.date 2023-10-18); ARM compares them without case.
_SKU_COLUMN = """
    STANDARD_D2AS_V4 STANDARD_D4AS_V4 STANDARD_D8AS_V4 STANDARD_D16AS_V4 STANDARD_D32AS_V4
    STANDARD_D48AS_V4 STANDARD_D64AS_V4 STANDARD_D96AS_V4
    STANDARD_D2A_V4 STANDARD_D4A_V4 STANDARD_D8A_V4 STANDARD_D16A_V4 STANDARD_D32A_V4
    STANDARD_D48A_V4 STANDARD_D64A_V4 STANDARD_D96A_V4
    STANDARD_DS1_V2 STANDARD_DS2_V2 STANDARD_DS3_V2 STANDARD_DS4_V2 STANDARD_DS5_V2
    STANDARD_E2S_V3 STANDARD_E4S_V3 STANDARD_E8S_V3 STANDARD_E16S_V3 STANDARD_E32S_V3
    STANDARD_E48S_V3 STANDARD_E64S_V3
    STANDARD_F2S_V2 STANDARD_F4S_V2 STANDARD_F8S_V2 STANDARD_F16S_V2 STANDARD_F32S_V2
    STANDARD_F48S_V2 STANDARD_F64S_V2 STANDARD_F72S_V2
    STANDARD_FX4MDS STANDARD_FX12MDS STANDARD_FX24MDS STANDARD_FX36MDS STANDARD_FX48MDS
    STANDARD_L8AS_V3 STANDARD_L16AS_V3 STANDARD_L32AS_V3 STANDARD_L48AS_V3 STANDARD_L64AS_V3
    STANDARD_L80AS_V3
    STANDARD_L8S_V2 STANDARD_L16S_V2 STANDARD_L32S_V2 STANDARD_L48S_V2 STANDARD_L64S_V2
    STANDARD_L80S_V2
    STANDARD_L8S_V3 STANDARD_L16S_V3 STANDARD_L32S_V3 STANDARD_L48S_V3 STANDARD_L64S_V3
    STANDARD_L80S_V3
    STANDARD_NC24ADS_A100_V4 STANDARD_NC48ADS_A100_V4 STANDARD_NC96ADS_A100_V4
    STANDARD_NC4AS_T4_V3 STANDARD_NC8AS_T4_V3 STANDARD_NC16AS_T4_V3 STANDARD_NC64AS_T4_V3
    STANDARD_NC6S_V2 STANDARD_NC12S_V2 STANDARD_NC24S_V2
    STANDARD_NC6S_V3 STANDARD_NC12S_V3 STANDARD_NC24S_V3
    STANDARD_NC40ADS_H100_V5 STANDARD_NC80ADIS_H100_V5
    STANDARD_ND96AMSR_A100_V4 STANDARD_ND96ASR_V4 STANDARD_ND40RS_V2
    STANDARD_ND96IS_H100_V5 STANDARD_ND96ISR_H100_V5
    STANDARD_NV6ADS_A10_V5 STANDARD_NV12ADS_A10_V5 STANDARD_NV18ADS_A10_V5
    STANDARD_NV36ADS_A10_V5 STANDARD_NV36ADMS_A10_V5 STANDARD_NV72ADS_A10_V5
"""
MANAGED_ONLINE_SKUS = frozenset(name.lower() for name in _SKU_COLUMN.split())
# A deployment's instance count travels as sku.capacity. The REST Sku model sets no minimum and
# the docs call the count required without a floor; a managed online deployment has no scale
# to zero, so the emulator refuses a count below 1 (the safe side).
INSTANCES_MIN = 1
# What a deployment's `model` may name: a model version of this workspace by ARM id, or a
# registered model in a registry (Microsoft Learn, "Work with registered models", Supported
# paths: azureml://registries/<registry>/models/<name>/versions/<version>).
MODEL_REF_RE = re.compile(
    r"^(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices"
    r"/workspaces/[^/]+/models/[^/]+/versions/[^/]+"
    r"|azureml://registries/[^/]+/models/[^/]+/versions/[^/]+)$",
    re.IGNORECASE,
)


class EmulatedError(Exception):
    """An ARM error reply: status, code, message (and Retry-After for throttling)."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def name_problem(kind: str, name: str) -> str | None:
    """The Azure rule a name breaks, or None."""
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return (
            f"The name for {kind} must be at least {NAME_MIN} and at most {NAME_MAX} "
            f"characters long; {name!r} has {len(name)}."
        )
    if not NAME_RE.match(name):
        return (
            f"The name for {kind} must start with a letter, contain only letters, digits "
            f"and single hyphens, and end with a letter or digit; {name!r} does not."
        )
    return None


def tag_problem(tags: Any) -> str | None:
    """The ARM tag rule ``tags`` breaks, or None."""
    if tags is None:
        return None
    if not isinstance(tags, dict):
        return "Tags must be an object of name/value strings."
    if len(tags) > TAGS_MAX:
        return f"A resource can have at most {TAGS_MAX} tags; the request has {len(tags)}."
    for name, value in tags.items():
        if not name or len(name) > TAG_NAME_MAX:
            return f"Tag name {name[:40]!r} must have 1 to {TAG_NAME_MAX} characters; it has {len(name)}."
        bad = sorted(set(name) & TAG_NAME_FORBIDDEN)
        if bad:
            return (
                f"Tag name {name!r} contains {''.join(bad)!r}; tag names cannot contain <, >, %, &, \\, ?, /."
            )
        if not isinstance(value, str):
            return f"The value of tag {name!r} must be a string."
        if len(value) > TAG_VALUE_MAX:
            return (
                f"The value of tag {name!r} has {len(value)} characters; at most {TAG_VALUE_MAX} are allowed."
            )
    return None


def spelled(value: Any, spellings: tuple[str, ...]) -> Any:
    """``value`` in the service's spelling: ARM matches enum values in any letter case and
    answers them as the REST API spells them."""
    if isinstance(value, str):
        for spelling in spellings:
            if spelling.lower() == value.lower():
                return spelling
    return value


def version_key(api_version: str) -> tuple[str, int]:
    """Orders api-versions: by date, a preview before the stable release of the same date."""
    return api_version[:10], 0 if "preview" in api_version else 1


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def system_data(created: dict[str, Any] | None = None) -> dict[str, Any]:
    stamp = now_iso()
    base = dict(created or {"createdAt": stamp, "createdBy": "emulator", "createdByType": "User"})
    base.update(lastModifiedAt=stamp, lastModifiedBy="emulator", lastModifiedByType="User")
    return base


@dataclass
class Operation:
    """An Azure-AsyncOperation: InProgress for ``polls_left`` polls, then it settles."""

    id: str
    polls_left: int
    finish: Callable[[], None]
    error: dict[str, Any] | None = None
    status: str = "InProgress"

    def poll(self) -> dict[str, Any]:
        if self.status == "InProgress":
            if self.polls_left > 0:
                self.polls_left -= 1
            if self.polls_left == 0:
                self.finish()
                self.status = "Failed" if self.error else "Succeeded"
        body: dict[str, Any] = {"id": self.id, "name": self.id, "status": self.status}
        if self.error:
            body["error"] = self.error
        return body


@dataclass
class Fault:
    """One injected failure, matched by HTTP method and a regex over the ARM path."""

    method: str
    path_re: re.Pattern[str]
    status: int
    code: str
    message: str
    retry_after: float | None = None
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in (method, "*") and bool(self.path_re.search(path))


@dataclass
class MetricPoint:
    """One scored request (or an injected datum) for Azure Monitor's metrics API."""

    endpoint: str
    deployment: str
    at: float
    status_code: int
    latency_ms: float


@dataclass
class EmulatorState:
    """Everything the emulated cloud holds. Keys of ``resources`` are lowercased ARM paths
    (ARM matches paths case-insensitively)."""

    subscription_id: str
    resource_group: str
    workspace: str
    location: str
    storage_account: str
    container: str
    lro_polls: int = 1
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    failing_deployments: dict[str, str] = field(default_factory=dict)
    metric_points: list[MetricPoint] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- paths ---------------------------------------------------------------------------
    @property
    def workspace_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    def endpoint_path(self, endpoint: str) -> str:
        return f"{self.workspace_path}/onlineEndpoints/{endpoint}"

    def get(self, path: str) -> dict[str, Any] | None:
        return self.resources.get(path.lower())

    def put(self, path: str, resource: dict[str, Any]) -> None:
        self.resources[path.lower()] = resource

    def children(self, parent: str) -> list[dict[str, Any]]:
        """Direct children of ``parent`` (one path segment pair below it)."""
        prefix = parent.lower().rstrip("/") + "/"
        depth = prefix.count("/")
        return [
            r for k, r in sorted(self.resources.items()) if k.startswith(prefix) and k.count("/") == depth
        ]

    def delete_tree(self, path: str) -> None:
        key = path.lower()
        for k in [k for k in self.resources if k == key or k.startswith(key + "/")]:
            del self.resources[k]

    # --- operations and faults --------------------------------------------------------------
    def start_operation(self, finish: Callable[[], None], error: dict[str, Any] | None = None) -> Operation:
        op = Operation(id=str(uuid.uuid4()), polls_left=self.lro_polls, finish=finish, error=error)
        self.operations[op.id] = op
        if op.polls_left <= 0:
            op.poll()
        return op

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                return fault
        return None

    # --- metrics ---------------------------------------------------------------------------
    def record(self, endpoint: str, deployment: str, status: int, latency_ms: float) -> None:
        self.metric_points.append(MetricPoint(endpoint, deployment, time.time(), status, latency_ms))
