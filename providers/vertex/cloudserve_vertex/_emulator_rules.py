"""The Vertex AI rules the emulator enforces, each with where it comes from.

Sources: the Vertex AI v1 REST reference (Endpoint, Model, DeployedModel,
CreateEndpointRequest, DeployModelRequest, UndeployModelRequest field documentation, as
reproduced in the SDK's ``aiplatform_v1`` type docstrings), the Resource Manager label
requirements the ``labels`` fields link to, and "Configure compute resources for
prediction" for machine types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cloudserve_vertex import catalog
from cloudserve_vertex.translate import AUTOSCALE_METRICS, DISPLAY_NAME_MAX, label_problems

# Project ids: 6-30 characters, lowercase letters, digits and hyphens, starting with a
# letter and not ending with a hyphen; resource names may carry the id or the number.
PROJECT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
PROJECT_NUMBER_RE = re.compile(r"^[0-9]{1,20}$")
# CreateEndpointRequest.endpoint_id: a letter first -> up to 63 of [a-z0-9-], ending in a
# letter or digit; a digit first -> up to 9 digits, no leading zero.
ENDPOINT_ID_RE = re.compile(r"^(?:[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?|[1-9][0-9]{0,8})$")
# DeployedModel.id: 1-10 characters of [0-9].
DEPLOYED_MODEL_ID_RE = re.compile(r"^[0-9]{1,10}$")
# UploadModelRequest.model_id: up to 63 of [a-z0-9_-], not starting with a digit or hyphen.
MODEL_ID_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")


class RuleError(Exception):
    """A request the real service would refuse: (HTTP status, google.rpc status, message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> RuleError:
    return RuleError(400, "INVALID_ARGUMENT", message)


def check_display_name(value: str, what: str, required: bool = True) -> None:
    if required and not value:
        raise invalid(f"{what}.display_name is required.")
    if len(value) > DISPLAY_NAME_MAX:
        raise invalid(f"{what}.display_name must be at most {DISPLAY_NAME_MAX} characters; got {len(value)}.")


def check_labels(labels: Mapping[str, str], what: str) -> None:
    problems = label_problems(labels, what)
    if problems:
        raise invalid("; ".join(problems))


def check_traffic(split: Mapping[str, int], deployed_ids: set[str], allow_new: bool = False) -> None:
    """Values add up to 100, or the map is empty; keys name deployed models ("0" = the one
    being deployed by this DeployModel call)."""
    if not split:
        return
    known = deployed_ids | ({"0"} if allow_new else set())
    unknown = sorted(set(split) - known)
    if unknown:
        raise invalid(
            f"traffic_split names DeployedModel id(s) {unknown} that are not deployed on the Endpoint."
        )
    if any(v < 0 or v > 100 for v in split.values()):
        raise invalid("traffic_split values must be between 0 and 100.")
    total = sum(split.values())
    if total != 100:
        raise invalid(f"The traffic split must add up to 100; it adds up to {total}.")


def check_dedicated_resources(resources: object) -> None:
    machine = resources.machine_spec  # type: ignore[attr-defined]
    known = catalog.machine_types()
    if machine.machine_type not in known:
        raise invalid(f"Machine type {machine.machine_type!r} is not supported for online prediction.")
    accel = machine.accelerator_type.name if machine.accelerator_type else None
    if accel == "ACCELERATOR_TYPE_UNSPECIFIED":
        accel = None
    spec = known[machine.machine_type]
    if accel and spec.bundled_accelerator is None:
        attachable = catalog.data()["attachable_accelerators"].get(accel)
        if attachable is None or spec.family not in attachable["families"]:
            raise invalid(f"Accelerator {accel} cannot be attached to machine type {machine.machine_type}.")
        if machine.accelerator_count not in attachable["counts"]:
            raise invalid(f"accelerator_count {machine.accelerator_count} is not allowed for {accel}.")
    min_r = resources.min_replica_count  # type: ignore[attr-defined]
    max_r = resources.max_replica_count  # type: ignore[attr-defined]
    if min_r < 1:
        raise invalid("dedicated_resources.min_replica_count must be at least 1.")
    if max_r and max_r < min_r:
        raise invalid("dedicated_resources.max_replica_count must not be less than min_replica_count.")
    for metric in resources.autoscaling_metric_specs:  # type: ignore[attr-defined]
        if metric.metric_name not in AUTOSCALE_METRICS.values():
            raise invalid(f"Unsupported autoscaling metric {metric.metric_name!r}.")
        percent = "utilization" in metric.metric_name or "duty_cycle" in metric.metric_name
        if percent and not 1 <= metric.target <= 100:
            raise invalid("autoscaling_metric_specs.target must be between 1 and 100 (percent).")


def check_private_endpoint(network: str, deployed_ids: set[str], split: Mapping[str, int]) -> None:
    """Vertex doc "Use private endpoints", Limitations: a private endpoint (Endpoint.network
    set) serves one model and does not support traffic splitting."""
    if not network:
        return
    if deployed_ids:
        raise invalid(
            "Private Endpoint (network set) supports only one DeployedModel; undeploy the existing one first."
        )
    if len([v for v in split.values() if v]) > 1:
        raise invalid("Traffic split is not supported on a private Endpoint.")
