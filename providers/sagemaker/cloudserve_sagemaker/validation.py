"""SageMaker's own rules, checked at plan time before any API call.

The spec is portable; these are the places where SageMaker says no: an execution role
and a bucket are needed, a shadow variant pairs with exactly one live variant, real-time
variants run at least one instance, serverless endpoints take no GPU, capture or
autoscaling, and tag values use a restricted alphabet.
"""

from __future__ import annotations

import re

from cloudserve.artifacts import is_remote
from cloudserve.provider import DesiredEndpoint
from cloudserve_sagemaker.settings import SageMakerSettings

MAX_PRODUCTION_VARIANTS = 10
_TAG_VALUE_EXTRA = set("_.:/=+-@")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")


def tag_value_ok(value: str) -> bool:
    """AWS tag values: letters, digits, spaces and _ . : / = + - @ (Unicode letters allowed)."""
    return len(value) <= 256 and all(c.isalnum() or c.isspace() or c in _TAG_VALUE_EXTRA for c in value)


def validate_desired(desired: DesiredEndpoint, settings: SageMakerSettings) -> list[str]:
    spec = desired.deployment.spec
    problems: list[str] = []
    if not settings.role_arn:
        problems.append(
            "targets.sagemaker.role_arn is required: the execution role SageMaker assumes to serve the model"
        )
    elif not _ROLE_ARN.match(settings.role_arn):
        problems.append(
            f"targets.sagemaker.role_arn {settings.role_arn!r} is not an IAM role ARN "
            f"(arn:aws:iam::<account>:role/<name>)"
        )
    problems += _offline_rules(desired, settings)
    local_models = [n for n, v in spec.versions.items() if v.model is not None and not is_remote(v.model.uri)]
    for name, version in spec.versions.items():
        if (
            version.model is not None
            and is_remote(version.model.uri)
            and not version.model.uri.startswith("s3://")
        ):
            problems.append(
                f"versions.{name}.model.uri: SageMaker reads models from s3:// or a local path, not "
                f"{version.model.uri!r}"
            )
    if local_models and not settings.bucket:
        problems.append(
            f"targets.sagemaker.bucket is required to stage local models ({', '.join(local_models)})"
        )
    if spec.capture is not None and spec.capture.destination is None and not settings.bucket:
        problems.append("capture needs capture.destination (s3://...) or targets.sagemaker.bucket")
    if (
        spec.capture is not None
        and spec.capture.destination
        and not spec.capture.destination.startswith("s3://")
    ):
        problems.append(
            f"capture.destination must be an s3:// URI on SageMaker, not {spec.capture.destination!r}"
        )
    problems += _variant_rules(desired)
    problems += _compute_rules(desired, settings)
    problems += _tag_budget(desired)
    for key, value in desired.tags.items():
        if not tag_value_ok(value):
            problems.append(
                f"label {key}={value!r}: AWS tag values allow letters, digits, spaces and _ . : / = + - @"
            )
    return problems


def _offline_rules(desired: DesiredEndpoint, settings: SageMakerSettings) -> list[str]:
    """An offline archive is one cloudserve builds: an s3:// model.tar.gz is the user's own,
    and its container would still install from an index."""
    if not settings.offline:
        return []
    return [
        f"spec.versions.{name}.model.uri: targets.sagemaker.offline carries the container's "
        f"wheels in the model.tar.gz cloudserve builds, but {version.model.uri!r} is an archive "
        "of your own; give a local model path, or set the version's image"
        for name, version in desired.deployment.spec.versions.items()
        if version.model is not None and not version.image and version.model.uri.startswith("s3://")
    ]


def _variant_rules(desired: DesiredEndpoint) -> list[str]:
    problems = []
    mirrored = [n for n, p in desired.mirror.items() if p > 0]
    live = [n for n, p in desired.traffic.items() if p > 0]
    if mirrored:
        others = set(desired.versions) - set(mirrored) - set(live)
        if len(mirrored) > 1 or len(live) != 1 or others:
            problems.append(
                "SageMaker mirrors through a shadow variant, which pairs exactly one live version "
                f"with one shadow version; this spec has live {live}, mirrored {mirrored}"
                + (f" and idle {sorted(others)}" if others else "")
            )
    production = len(desired.versions) - len(mirrored)
    if production > MAX_PRODUCTION_VARIANTS:
        problems.append(
            f"SageMaker endpoints hold at most {MAX_PRODUCTION_VARIANTS} production variants; this spec has "
            f"{production}"
        )
    return problems


def _compute_rules(desired: DesiredEndpoint, settings: SageMakerSettings) -> list[str]:
    compute = desired.deployment.spec.compute
    problems = []
    explicit = compute.instance_type.get("sagemaker")
    if explicit and not _INSTANCE_TYPE.match(explicit):
        problems.append(
            f"compute.instance_type.sagemaker {explicit!r} is not a SageMaker instance type (e.g. "
            f"ml.c5.xlarge)"
        )
    if compute.serverless is not None:
        if compute.accelerator is not None:
            problems.append(
                "compute.accelerator: SageMaker serverless inference has no GPUs; drop compute.accelerator "
                f"or compute.serverless ({SERVERLESS_DOC})"
            )
        if compute.autoscale is not None or compute.replicas.min > 1 or compute.replicas.maximum > 1:
            problems.append(
                "SageMaker serverless endpoints scale by max_concurrency: drop compute.replicas/autoscale"
            )
        problems += _serverless_exclusions(desired, settings)
        return problems
    if compute.replicas.min < 1:
        problems.append(
            "SageMaker real-time variants run at least one instance (replicas.min >= 1); "
            "use compute.serverless to scale to zero"
        )
    if (
        compute.autoscale is not None
        and compute.autoscale.metric == "gpu_utilization"
        and compute.accelerator is None
    ):
        problems.append("autoscale on gpu_utilization needs compute.accelerator")
    if compute.autoscale is not None and compute.autoscale.metric == "cpu_utilization":
        problems += _cpu_target_rule(compute, explicit)
    return problems


# AWS doc "Serverless Inference" > "Feature exclusions"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions)
# and ProductionVariantServerlessConfig.MemorySizeInMB (1024-6144 MB in 1 GB steps).
SERVERLESS_DOC = "AWS doc 'Serverless Inference' > 'Feature exclusions'"
SERVERLESS_MEMORY_MIN, SERVERLESS_MEMORY_MAX, SERVERLESS_MEMORY_STEP = 1024, 6144, 1024


def _serverless_exclusions(desired: DesiredEndpoint, settings: SageMakerSettings) -> list[str]:
    spec = desired.deployment.spec
    serverless = spec.compute.serverless
    assert serverless is not None
    problems = []
    memory = serverless.memory
    if not SERVERLESS_MEMORY_MIN <= memory <= SERVERLESS_MEMORY_MAX or memory % SERVERLESS_MEMORY_STEP:
        problems.append(
            f"compute.serverless.memory {memory:g} MiB: SageMaker serverless memory is 1024-6144 MB in "
            f"1024 MB steps (ProductionVariantServerlessConfig.MemorySizeInMB, {SERVERLESS_DOC})"
        )
    if spec.capture is not None:
        problems.append(
            f"capture: SageMaker serverless endpoints do not support data capture ({SERVERLESS_DOC})"
        )
    if len(spec.versions) > 1 or any(p > 0 for p in spec.mirror.values()):
        problems.append(
            f"versions/traffic/mirror: SageMaker serverless endpoints take one production variant, no "
            f"traffic split or shadow variant; this spec has {len(spec.versions)} versions ({SERVERLESS_DOC})"
        )
    if spec.rollout.strategy != "all_at_once":
        problems.append(
            f"rollout.strategy {spec.rollout.strategy}: a canary or linear rollout would add a second "
            f"production variant, which SageMaker serverless endpoints exclude ({SERVERLESS_DOC})"
        )
    if settings.vpc is not None:
        problems.append(
            f"targets.sagemaker.vpc: SageMaker serverless endpoints exclude VPC configuration "
            f"({SERVERLESS_DOC})"
        )
    if settings.kms_key_id:
        problems.append(
            f"targets.sagemaker.kms_key_id: SageMaker serverless endpoints exclude a KMS key "
            f"({SERVERLESS_DOC})"
        )
    if settings.native_monitoring and spec.monitoring.drift is not None:
        problems.append(
            f"targets.sagemaker.native_monitoring: SageMaker Model Monitor does not cover serverless "
            f"endpoints ({SERVERLESS_DOC})"
        )
    return problems


def _cpu_target_rule(compute: object, explicit: str | None) -> list[str]:
    """SageMaker's CPUUtilization for an endpoint variant is summed over cores: 0-100% times
    the instance's vCPUs (AWS doc "Monitor Amazon SageMaker with Amazon CloudWatch",
    endpoint invocation/instance metrics). A portable 0-100 target would mean a different
    load on every multi-vCPU instance, and the read-back could not tell, so plan refuses."""
    from cloudserve.errors import InvalidSpec
    from cloudserve_sagemaker.catalog import load_catalog

    catalog = load_catalog()
    try:
        instance = catalog.get(explicit) if explicit else catalog.smallest_fit(compute)  # type: ignore[arg-type]
    except InvalidSpec:
        return []
    if instance is None or instance.vcpu <= 1:
        return []
    return [
        f"compute.autoscale.metric cpu_utilization: SageMaker's CPUUtilization is summed over "
        f"cores (0-{100 * instance.vcpu:g}% on {instance.name}, {instance.vcpu:g} vCPUs), so a "
        f"0-100 target would not mean what it says (AWS doc 'Monitor Amazon SageMaker with "
        f"Amazon CloudWatch'); use requests_per_replica or a 1-vCPU instance"
    ]


# SageMaker AddTags / CreateModel / CreateEndpoint Tags: at most 50 (botocore service
# model, TagList max 50).
MAX_TAGS = 50


def _tag_budget(desired: DesiredEndpoint) -> list[str]:
    """Labels plus cloudserve's own keys plus the largest rollout record (every version
    in both splits, all new, the longest reason) plus the lease must fit in 50 tags."""
    from cloudserve.rollout.record import largest_record_tag_count
    from cloudserve_sagemaker import translate as tr

    record = largest_record_tag_count(tuple(desired.deployment.spec.versions))
    version_keys = 2  # cloudserve-version, cloudserve-config on models and configs
    total = len(tr.endpoint_tags(desired)) + version_keys + record + 1  # + lease
    if total <= MAX_TAGS:
        return []
    return [
        f"metadata.labels: {len(desired.deployment.metadata.labels)} labels plus cloudserve's own keys "
        f"and the largest rollout "
        f"record need {total} tags; SageMaker allows {MAX_TAGS} per resource (Tags max 50 in "
        f"botocore's SageMaker service model); drop {total - MAX_TAGS} labels"
    ]
