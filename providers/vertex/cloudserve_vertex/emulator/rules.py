"""The Vertex AI rules the emulator enforces, each with where it comes from.

Written apart from the adapter's own checks (``translate``, ``validation``, ``catalog``):
nothing here is imported from them, so one wrong rule cannot pass both sides of a test.
Sources are Google's: the Vertex AI v1 discovery document (``aiplatform.v1.json``, field
descriptions, as on https://cloud.google.com/vertex-ai/docs/reference/rest), the label
requirements its ``labels`` fields link to, and the compute pages named at each table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

# Project ids: 6-30 characters, lowercase letters, digits and hyphens, starting with a
# letter and not ending with a hyphen ("Creating and managing projects", project ID
# requirements); resource names may carry the id or the number.
PROJECT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
PROJECT_NUMBER_RE = re.compile(r"^[0-9]{1,20}$")
# endpoints.create ``endpointId``: a letter first -> up to 63 of [a-z0-9-], ending in a
# letter or digit; a digit first -> up to 9 digits, no leading zero.
ENDPOINT_ID_RE = re.compile(r"^(?:[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?|[1-9][0-9]{0,8})$")
# DeployedModel.id: "1-10 characters, and valid characters are /[0-9]/".
DEPLOYED_MODEL_ID_RE = re.compile(r"^[0-9]{1,10}$")
# UploadModelRequest.modelId: up to 63 of [a-z0-9_-]; "The first character cannot be a
# number or hyphen."
MODEL_ID_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")

# Endpoint / Model / ModelDeploymentMonitoringJob ``displayName``: "can be up to 128
# characters long and can consist of any UTF-8 characters". DeployedModel.displayName
# documents no limit, so none is checked for it.
DISPLAY_NAME_CHARS = 128

# Labels: https://cloud.google.com/resource-manager/docs/creating-managing-labels#requirements
# (the page the ``labels`` fields link to; also "Requirements for labels" in the Vertex AI
# docs): at most 64 labels; keys 1-63 characters, values 0-63; only lowercase letters,
# numeric characters, underscores and dashes, international characters allowed; a key
# starts with a lowercase letter or an international character. In Unicode classes, as
# other Google APIs spell the same rule: letters \p{Ll} \p{Lo}, numerals \p{N}; modifier
# letters and combining marks are taken as part of international text (カテゴリー, हिंदी).
# (The ``labels`` field text itself says 64 characters; the linked requirements say 63.)
LABELS_PER_RESOURCE = 64
LABEL_CHARS = 63
LABEL_FIRST = frozenset({"Ll", "Lo", "Lm"})
LABEL_REST = LABEL_FIRST | {"Mn", "Mc", "Nd", "Nl", "No"}

# AutoscalingMetricSpec.metricName, "Supported metrics: For Online Prediction: ..."
# (aiplatform.v1.json, GoogleCloudAiplatformV1AutoscalingMetricSpec).
ONLINE_AUTOSCALING_METRICS = frozenset(
    {
        "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle",
        "aiplatform.googleapis.com/prediction/online/cpu/utilization",
        "aiplatform.googleapis.com/prediction/online/request_count",
        "pubsub.googleapis.com/subscription/num_undelivered_messages",
        "prometheus.googleapis.com/vertex_dcgm_fi_dev_gpu_util",
        "prometheus.googleapis.com/vertex_vllm_gpu_cache_usage_perc",
        "prometheus.googleapis.com/vertex_vllm_num_requests_waiting",
    }
)
# AutoscalingMetricSpec.target: "target resource utilization in percentage (1% - 100%)":
# checked for the two utilization metrics, whose unit is a percentage.
PERCENT_METRICS = frozenset(
    {
        "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle",
        "aiplatform.googleapis.com/prediction/online/cpu/utilization",
    }
)

# Machine types for online prediction: "Configure compute resources for prediction",
# Machine types (https://cloud.google.com/vertex-ai/docs/predictions/configure-compute),
# E2 and N1 series tables: family -> the vCPU counts listed.
SIZED_MACHINES = {
    "e2-standard": (2, 4, 8, 16, 32),
    "e2-highmem": (2, 4, 8, 16),
    "e2-highcpu": (2, 4, 8, 16, 32),
    "n1-standard": (2, 4, 8, 16, 32),
    "n1-highmem": (2, 4, 8, 16, 32),
    "n1-highcpu": (4, 8, 16, 32),
}
# Accelerator-optimized types come with their GPUs (same page, A2 and G2 series; GPU
# counts from Compute Engine "GPU machine types", https://cloud.google.com/compute/docs/gpus).
BUNDLED_GPUS = {
    **{f"g2-standard-{n}": ("NVIDIA_L4", 1) for n in (4, 8, 12, 16, 32)},
    "g2-standard-24": ("NVIDIA_L4", 2),
    "g2-standard-48": ("NVIDIA_L4", 4),
    **{f"a2-highgpu-{n}g": ("NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)},
}
# GPUs an N1 machine type takes, and how many (Compute Engine "GPU machine types", N1
# general-purpose; configure-compute#gpus for prediction).
N1_GPUS = {
    "NVIDIA_TESLA_T4": (1, 2, 4),
    "NVIDIA_TESLA_V100": (1, 2, 4, 8),
    "NVIDIA_TESLA_P100": (1, 2, 4),
    "NVIDIA_TESLA_P4": (1, 2, 4),
}


class RuleError(Exception):
    """A request the real service would refuse: (HTTP status, google.rpc status, message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> RuleError:
    return RuleError(400, "INVALID_ARGUMENT", message)


def check_display_name(value: str, what: str) -> None:
    if not value:
        raise invalid(f"{what}.display_name is required.")
    if len(value) > DISPLAY_NAME_CHARS:
        raise invalid(
            f"{what}.display_name must be at most {DISPLAY_NAME_CHARS} characters; got {len(value)}."
        )


def _label_char(char: str) -> bool:
    return char in "_-" or unicodedata.category(char) in LABEL_REST


def _label_key_ok(key: str) -> bool:
    return (
        0 < len(key) <= LABEL_CHARS
        and unicodedata.category(key[0]) in LABEL_FIRST
        and all(map(_label_char, key))
    )


def check_labels(labels: Mapping[str, str], what: str) -> None:
    problems = []
    if len(labels) > LABELS_PER_RESOURCE:
        problems.append(f"{what}: {len(labels)} labels; at most {LABELS_PER_RESOURCE} are allowed")
    for key, value in labels.items():
        if not _label_key_ok(key):
            problems.append(
                f"{what}: label key {key!r} must be 1-{LABEL_CHARS} lowercase letters, digits, "
                "'_' or '-', starting with a lowercase letter"
            )
        if len(value) > LABEL_CHARS or not all(map(_label_char, value)):
            problems.append(
                f"{what}: label {key}={value!r}: values use only lowercase letters, digits, "
                f"'_' or '-' (at most {LABEL_CHARS} characters)"
            )
    if problems:
        raise invalid("; ".join(problems))


def check_traffic(split: Mapping[str, int], deployed_ids: set[str], allow_new: bool = False) -> None:
    """Endpoint.trafficSplit: "The traffic percentage values must add up to 100, or map
    must be empty"; keys are DeployedModel ids (DeployModelRequest.trafficSplit: "0" is
    the model being deployed by this call)."""
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


def check_machine(machine_type: str, accelerator: str | None, count: int) -> None:
    """MachineSpec: the type from the prediction tables; an N1 type takes the GPUs listed
    for N1; an accelerator-optimized type only its own GPU, "accelerator_count from 1 to N
    for machine with N GPUs" (MachineSpec.acceleratorCount)."""
    family, _, size = machine_type.rpartition("-")
    bundled = BUNDLED_GPUS.get(machine_type)
    if bundled is None and not (size.isdigit() and int(size) in SIZED_MACHINES.get(family, ())):
        raise invalid(f"Machine type {machine_type!r} is not supported for online prediction.")
    if not accelerator:
        return
    if bundled is not None:
        if accelerator != bundled[0] or not 1 <= count <= bundled[1]:
            raise invalid(
                f"Machine type {machine_type} comes with {bundled[1]}x {bundled[0]}; "
                f"{count}x {accelerator} cannot be requested on it."
            )
        return
    if not family.startswith("n1-") or accelerator not in N1_GPUS:
        raise invalid(f"Accelerator {accelerator} cannot be attached to machine type {machine_type}.")
    if count not in N1_GPUS[accelerator]:
        raise invalid(f"accelerator_count {count} is not allowed for {accelerator}.")


def check_dedicated_resources(resources: object) -> None:
    machine = resources.machine_spec  # type: ignore[attr-defined]
    accel = machine.accelerator_type.name if machine.accelerator_type else None
    check_machine(
        machine.machine_type,
        None if accel == "ACCELERATOR_TYPE_UNSPECIFIED" else accel,
        machine.accelerator_count,
    )
    min_r = resources.min_replica_count  # type: ignore[attr-defined]
    max_r = resources.max_replica_count  # type: ignore[attr-defined]
    # DedicatedResources.minReplicaCount: "This value must be greater than or equal to 1."
    if min_r < 1:
        raise invalid("dedicated_resources.min_replica_count must be at least 1.")
    # maxReplicaCount defaults to minReplicaCount; a maximum below the minimum means nothing.
    if max_r and max_r < min_r:
        raise invalid("dedicated_resources.max_replica_count must not be less than min_replica_count.")
    names = [m.metric_name for m in resources.autoscaling_metric_specs]  # type: ignore[attr-defined]
    if len(names) != len(set(names)):  # autoscalingMetricSpecs: "At most one entry is allowed per metric."
        raise invalid("autoscaling_metric_specs has more than one entry for a metric.")
    for metric in resources.autoscaling_metric_specs:  # type: ignore[attr-defined]
        if metric.metric_name not in ONLINE_AUTOSCALING_METRICS:
            raise invalid(f"Unsupported autoscaling metric {metric.metric_name!r}.")
        if metric.metric_name in PERCENT_METRICS and not 1 <= metric.target <= 100:
            raise invalid("autoscaling_metric_specs.target must be between 1 and 100 (percent).")


# Endpoint.network: "Format: projects/{project}/global/networks/{network}. Where {project}
# is a project number, as in 12345, and {network} is network name" (discovery document);
# network names: "[a-z]([-a-z0-9]*[a-z0-9])?", at most 63 (Compute Engine networks.insert).
NETWORK_RE = re.compile(r"^projects/[0-9]+/global/networks/[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
# BigQueryDestination.outputUri: "Accepted forms: bq://projectId or bq://projectId.bqDatasetId
# or bq://projectId.bqDatasetId.bqTableId", up to 2000 characters. Dataset and table ids:
# letters, digits and underscores (BigQuery "Creating datasets" / "Creating tables").
BIGQUERY_URI_RE = re.compile(r"^bq://[a-z][a-z0-9-]{4,28}[a-z0-9](?:\.[A-Za-z0-9_]+){0,2}$")
BIGQUERY_URI_CHARS = 2000


def check_network(network: str) -> None:
    if network and not NETWORK_RE.match(network):
        raise invalid(
            f"Invalid network {network!r}: expected projects/{{project number}}/global/networks/{{network}}."
        )


def check_logging_config(config: object) -> None:
    """PredictRequestResponseLoggingConfig: samplingRate is "a fraction in range(0,1]";
    the destination is a BigQuery URI in one of the accepted forms."""
    if not config.enabled:  # type: ignore[attr-defined]
        return
    rate = config.sampling_rate  # type: ignore[attr-defined]
    if not 0 < rate <= 1:
        raise invalid(f"sampling_rate {rate} must be in range (0, 1].")
    uri = config.bigquery_destination.output_uri  # type: ignore[attr-defined]
    if len(uri) > BIGQUERY_URI_CHARS or not BIGQUERY_URI_RE.match(uri):
        raise invalid(
            f"bigquery_destination.output_uri {uri!r} must be bq://projectId[.datasetId[.tableId]]."
        )


def check_artifact_uri(uri: str) -> None:
    """Model.artifactUri: the Cloud Storage directory of the artifacts ("Import models to
    Vertex AI": "You must store your model artifacts in a Cloud Storage bucket")."""
    if uri and not uri.startswith("gs://"):
        raise invalid(f"Model.artifact_uri {uri!r} must be a Cloud Storage (gs://) URI.")


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
