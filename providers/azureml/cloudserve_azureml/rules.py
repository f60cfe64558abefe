"""What Azure ML can do, the rules a spec must meet on it, and the calls each action costs.

All of this is answered at plan time, before any API call, from the spec alone.
"""

from __future__ import annotations

import re

from cloudserve.provider import Capability, DesiredEndpoint, Feature, Support

# Plan's own copies of Azure ML's rules (the emulator keeps its own in _emulator_state).
# Endpoint/deployment names: 3-32 letters, digits and single dashes, starting with a letter
# and ending with a letter or digit (azure-ai-ml EndpointConfigurations.NAME_REGEX_PATTERN;
# Azure ML doc "online endpoint name" rules).
_NAME = re.compile(r"^[a-zA-Z](-?[a-zA-Z0-9])*$")
_NAME_LENGTH = (3, 32)
# OnlineEndpointProperties.mirrorTraffic: values sum to at most 50 (REST API 2024-04-01).
MIRROR_MAX_TOTAL = 50
# Azure Monitor REST "Autoscale Settings", ScaleAction.cooldown: 1 minute to 1 week.
AUTOSCALE_SOURCE = "Azure Monitor autoscale ScaleAction.cooldown"
COOLDOWN_SECONDS = (60.0, 7 * 24 * 3600.0)
SAFE_ROLLOUT_DOC = "Azure ML doc 'Safe rollout for online endpoints'"
SKU_DOC = "Azure ML doc 'Managed online endpoints SKU list'"
# The VM sizes a managed online deployment can run on, with each one's GPU count (Microsoft
# Learn, reference-managed-online-endpoints-vm-sku-list, as of 2023-10-18; NV A10 sizes carry
# a fraction of one GPU). Matched without regard to case, as ARM matches SKU names.
_CPU_SIZES = {
    "D{}as_v4": (2, 4, 8, 16, 32, 48, 64, 96),
    "D{}a_v4": (2, 4, 8, 16, 32, 48, 64, 96),
    "DS{}_v2": (1, 2, 3, 4, 5),
    "E{}s_v3": (2, 4, 8, 16, 32, 48, 64),
    "F{}s_v2": (2, 4, 8, 16, 32, 48, 64, 72),
    "FX{}mds": (4, 12, 24, 36, 48),
    "L{}as_v3": (8, 16, 32, 48, 64, 80),
    "L{}s_v2": (8, 16, 32, 48, 64, 80),
    "L{}s_v3": (8, 16, 32, 48, 64, 80),
}
_GPU_SKUS = {
    "NC24ads_A100_v4": 1, "NC48ads_A100_v4": 2, "NC96ads_A100_v4": 4,
    "NC4as_T4_v3": 1, "NC8as_T4_v3": 1, "NC16as_T4_v3": 1, "NC64as_T4_v3": 4,
    "NC6s_v2": 1, "NC12s_v2": 2, "NC24s_v2": 4,
    "NC6s_v3": 1, "NC12s_v3": 2, "NC24s_v3": 4,
    "NC40ads_H100_v5": 1, "NC80adis_H100_v5": 2,
    "ND96amsr_A100_v4": 8, "ND96asr_v4": 8, "ND40rs_v2": 8,
    "ND96is_H100_v5": 8, "ND96isr_H100_v5": 8,
    "NV6ads_A10_v5": 1 / 6, "NV12ads_A10_v5": 1 / 3, "NV18ads_A10_v5": 1 / 2,
    "NV36ads_A10_v5": 1, "NV36adms_A10_v5": 1, "NV72ads_A10_v5": 2,
}  # fmt: skip
MANAGED_SKUS: dict[str, float] = {
    **{f"standard_{form.format(n)}".lower(): 0 for form, sizes in _CPU_SIZES.items() for n in sizes},
    **{f"standard_{name}".lower(): gpus for name, gpus in _GPU_SKUS.items()},
}
# Model references a deployment can take (Azure ML doc "Work with registered models",
# Supported paths): a local folder cloudserve registers, or a registered model in a registry.
# azureml://datastores/... and azureml://jobs/... are places to register a model from, not
# models a deployment can name; the short form azureml:<name>:<version> is read by the core
# as a local path.
_REGISTRY_MODEL = re.compile(r"^azureml://registries/[^/]+/models/[^/]+/versions/[^/]+$")
# Alert e-mails: "a limitation of 499 characters in total concat with comma separator" (REST
# NotificationSetting.emails, 2023-06-01-preview). The address form itself is not stated;
# plan refuses what is not name@domain.tld, the safe side.
EMAILS_MAX_CHARS = 499
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


def name_problem(kind: str, name: str) -> str | None:
    low, high = _NAME_LENGTH
    if not low <= len(name) <= high:
        return (
            f"the name for {kind} must be at least {low} and at most {high} characters long; "
            f"{name!r} has {len(name)}."
        )
    if not _NAME.match(name):
        return (
            f"the name for {kind} must start with a letter and hold only letters, digits and single "
            f"dashes (no '--'), ending with a letter or digit; {name!r} does not."
        )
    return None


CAPABILITIES: dict[Feature, Capability] = {
    Feature.TRAFFIC_SPLIT: Capability(Feature.TRAFFIC_SPLIT, Support.NATIVE, "endpoint traffic"),
    Feature.MIRROR: Capability(
        Feature.MIRROR, Support.NATIVE, f"endpoint mirror_traffic, at most {MIRROR_MAX_TOTAL}% in total"
    ),
    Feature.REPLICAS: Capability(Feature.REPLICAS, Support.NATIVE, "deployment instance_count"),
    Feature.AUTOSCALE: Capability(Feature.AUTOSCALE, Support.NATIVE, "Azure Monitor autoscale settings"),
    Feature.SERVERLESS: Capability(
        Feature.SERVERLESS,
        Support.UNSUPPORTED,
        "managed online deployments keep at least one instance; there is no scale to zero",
    ),
    Feature.ACCELERATOR: Capability(Feature.ACCELERATOR, Support.NATIVE, "GPU SKUs (NC-series)"),
    Feature.CAPTURE: Capability(
        Feature.CAPTURE, Support.NATIVE, "deployment data collector (payload logging of request/response)"
    ),
    Feature.DRIFT_MONITORING: Capability(
        Feature.DRIFT_MONITORING,
        Support.NATIVE,
        "an Azure ML monitor schedule with a data-drift signal per version over the deployment's "
        "collected model inputs (thresholds per feature type; per-feature thresholds become "
        "their own signals), alerting by e-mail",
    ),
    # Azure ML's "safe rollout" for managed online endpoints is a blue-green traffic split the
    # user moves by hand (Microsoft Learn, how-to-safely-rollout-online-endpoints): no steps,
    # bake time, metric gates or automatic rollback.
    Feature.ROLLOUT: Capability(
        Feature.ROLLOUT,
        Support.EMULATED,
        "Azure ML has no canary with metric gates for managed online endpoints (its safe rollout "
        "is a traffic split moved by hand): cloudserve moves the endpoint's traffic step by step "
        "and reads Azure Monitor for the gates",
    ),
}


def validate(desired: DesiredEndpoint) -> list[str]:
    """Azure ML's own limits on names, mirror share and instance counts."""
    problems = []
    endpoint = name_problem("an endpoint", desired.name)
    if endpoint:
        problems.append(f"metadata.name: {endpoint} (Azure ML online endpoint naming rules)")
    for vname in desired.versions:
        problem = name_problem("a deployment", vname)
        if problem:
            problems.append(
                f"spec.versions.{vname}: {problem} Each version becomes an Azure ML deployment "
                "of the same name."
            )
    mirrored = sorted(n for n, pct in desired.mirror.items() if pct > 0)
    if len(mirrored) > 1:
        problems.append(
            f"spec.mirror: Azure ML mirrors traffic to a single deployment only ({SAFE_ROLLOUT_DOC}); "
            f"the spec mirrors to {', '.join(mirrored)}."
        )
    total = sum(desired.mirror.values())
    if total > MIRROR_MAX_TOTAL:
        problems.append(
            f"spec.mirror: Azure ML mirrors at most {MIRROR_MAX_TOTAL}% of traffic in total "
            f"(mirror_traffic values must sum to at most {MIRROR_MAX_TOTAL}); the spec asks for {total}%."
        )
    problems += _tag_budget(desired)
    compute = desired.deployment.spec.compute
    if compute.autoscale is not None:
        for field in ("scale_out_cooldown", "scale_in_cooldown"):
            seconds = getattr(compute.autoscale, field)
            if not COOLDOWN_SECONDS[0] <= seconds <= COOLDOWN_SECONDS[1]:
                problems.append(
                    f"spec.compute.autoscale.{field}: {seconds:g}s; Azure Monitor autoscale cooldowns "
                    f"must be between PT1M and P1W ({AUTOSCALE_SOURCE})."
                )
    if compute.replicas.min < 1:
        problems.append(
            "spec.compute.replicas.min: Azure ML managed online deployments need at least 1 "
            "instance (no scale to zero)."
        )
    if compute.serverless is not None:
        problems.append("spec.compute.serverless: " + CAPABILITIES[Feature.SERVERLESS].reason)
    drift = desired.deployment.spec.monitoring.drift
    if drift is not None:
        from cloudserve_azureml.drift import recurrence

        try:
            recurrence(drift.schedule)
        except ValueError as exc:
            problems.append(f"spec.monitoring.drift.schedule: {exc} (an Azure ML RecurrenceTrigger)")
        if desired.baseline is None:
            problems.append(
                f"spec.monitoring.drift.baseline: {drift.baseline!r} is remote; cloudserve registers "
                "the baseline as an Azure ML data asset from a local CSV or Parquet file, so give its path"
            )
        alert = drift.alert
        if alert is not None and (alert.webhook or alert.channel):
            problems.append(
                "spec.monitoring.drift.alert: Azure ML monitor schedules alert by e-mail only "
                "(AlertNotification.emails); use alert.email for this target, or run "
                "`cloudserve monitor run --webhook` from your own scheduler"
            )
        emails = list(alert.email) if alert is not None else []
        bad = [e for e in emails if not _EMAIL.match(e)]
        if bad:
            problems.append(
                f"spec.monitoring.drift.alert.email: {bad[0]!r} is not an e-mail address (name@domain)"
            )
        if len(",".join(emails)) > EMAILS_MAX_CHARS:
            problems.append(
                f"spec.monitoring.drift.alert.email: the addresses take {len(','.join(emails))} "
                f"characters joined by commas; Azure ML allows {EMAILS_MAX_CHARS} "
                "(REST NotificationSetting.emails)"
            )
    problems += _compute_problems(desired)
    for name, version in desired.versions.items():
        model = version.spec.model
        if model is None or version.spec.image is not None or version.artifact is not None:
            continue
        if not _REGISTRY_MODEL.match(model.uri):
            problems.append(
                f"spec.versions.{name}.model.uri: {model.uri!r}: an Azure ML deployment serves a local "
                "model folder (cloudserve registers it) or a registered model "
                "azureml://registries/<registry>/models/<name>/versions/<version> "
                "(Azure ML doc 'Work with registered models', Supported paths)."
            )
    capture = desired.deployment.spec.capture
    if capture is not None and capture.destination is not None:
        problems.append(
            f"spec.capture.destination: {capture.destination!r}; Azure ML's data collector writes "
            "captured payloads to the workspace's default blob datastore (Azure ML doc 'Collect "
            "production data from models deployed for real-time inferencing'); cloudserve cannot "
            "send them elsewhere on this target, so omit destination"
        )
    return problems


def _compute_problems(desired: DesiredEndpoint) -> list[str]:
    """An explicit SKU must be one managed online endpoints run, and carry the GPU asked for."""
    compute = desired.deployment.spec.compute
    sku = compute.instance_type.get("azureml")
    if not sku:
        return []
    gpus = MANAGED_SKUS.get(sku.lower())
    if gpus is None:
        return [
            f"spec.compute.instance_type.azureml: {sku!r} is not a managed online endpoint VM size "
            f"({SKU_DOC})"
        ]
    if compute.accelerator is not None and gpus == 0:
        return [
            f"spec.compute.accelerator: {sku} (compute.instance_type.azureml) has no GPU, so the "
            f"asked {compute.accelerator.count}x {compute.accelerator.type} would be dropped; pick a "
            f"GPU size ({SKU_DOC}) or remove compute.accelerator"
        ]
    return []


_WS = "Microsoft.MachineLearningServices/workspaces"


def operations(action: str, desired: DesiredEndpoint, subject: str) -> list[str]:
    """The Azure REST calls behind each plan action, for `plan` to show."""
    ep = f"{_WS}/onlineEndpoints/{desired.name}"
    autoscale = desired.deployment.spec.compute.autoscale is not None

    drift = desired.deployment.spec.monitoring.drift is not None
    schedule = f"{_WS}/schedules/{desired.name}-drift"
    drift_calls = (
        [
            f"PUT {_WS}/data/{desired.name}-drift-baseline/versions/<hash> (MLTable; once per baseline)",
            f"PUT {schedule} (monitor schedule: data-drift signal per version)",
        ]
        if drift
        else [f"DELETE {schedule} (if any)"]
    )

    def version_calls(v: str) -> list[str]:
        calls = [
            f"PUT {_WS}/models/{desired.name}-{v}/versions/<config-hash> (upload to the datastore)",
            f"PUT {_WS}/environments/<name>/versions/<hash>",
            f"PUT {_WS}/codes/<hash>/versions/1 (upload scoring script)",
            f"PUT {ep}/deployments/{v}",
        ]
        if autoscale:
            calls.append(f"PUT Microsoft.Insights/autoscalesettings/{desired.name}-{v}-autoscale")
        return calls

    if action == "create_endpoint":
        calls = [f"PUT {ep}"]
        for v in desired.versions:
            calls += version_calls(v)
        return [*calls, f"PUT {ep} (traffic, mirror_traffic)", *(drift_calls if drift else [])]
    if action == "create_version":
        return version_calls(subject) + (drift_calls if drift else [])
    if action == "replace_version":
        return version_calls(subject)
    if action == "update_version":
        calls = [f"PUT {ep}/deployments/{subject} (instance_count)"]
        return calls + (
            [f"PUT Microsoft.Insights/autoscalesettings/{desired.name}-{subject}-autoscale"]
            if autoscale
            else []
        )
    if action == "delete_version":
        return [
            f"DELETE Microsoft.Insights/autoscalesettings/{desired.name}-{subject}-autoscale (if any)",
            f"DELETE {ep}/deployments/{subject}",
            *(drift_calls[1:] if drift else []),
        ]
    if action == "set_traffic":
        return [f"PUT {ep} (traffic, mirror_traffic)"]
    if action == "update_endpoint":
        return [f"PUT {ep} (tags)", f"PUT {ep}/deployments/<each> (data collector)", *drift_calls]
    if action == "delete_endpoint":
        return [
            f"DELETE {schedule} (if any)",
            "DELETE Microsoft.Insights/autoscalesettings/<each version> (if any)",
            f"DELETE {ep} (and its deployments)",
            f"archive {_WS}/models/{desired.name}-<version>",
        ]
    return []


# Azure resource tags: at most 50 name/value pairs per resource ("Use tags to organize your
# Azure resources", Limitations).
TAG_LIMIT = 50


def _tag_budget(desired: DesiredEndpoint) -> list[str]:
    from cloudserve.rollout.record import largest_record_tag_count

    record = largest_record_tag_count(tuple(desired.deployment.spec.versions))
    total = len(desired.tags) + 2 + record + 1  # + version keys, record, lease
    if total <= TAG_LIMIT:
        return []
    return [
        f"metadata.labels: labels plus cloudserve's own keys and the largest rollout record need "
        f"{total} tags; Azure allows {TAG_LIMIT} per resource (Azure resource tags limit); drop "
        f"{total - TAG_LIMIT} labels"
    ]
