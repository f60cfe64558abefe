"""What the SageMaker target declares before any API call: its capabilities, the calls each
planned action implies, and the instance type and price each version costs."""

from __future__ import annotations

from collections.abc import Mapping

from cloudserve.provider import Capability, DesiredVersion, Feature, PlanNote, Support
from cloudserve_sagemaker.catalog import load_catalog

OPERATIONS = {
    "create_endpoint": [
        "s3:PutObject (staged model.tar.gz)",
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
    ],
    "create_version": ["sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:UpdateEndpoint"],
    "replace_version": [
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        "cloudwatch:PutMetricAlarm per gate (native rollout only)",
        "sagemaker:UpdateEndpoint (with DeploymentConfig when the rollout is native)",
        "sagemaker:DeleteModel (old)",
    ],
    "update_version": [
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
    ],
    "delete_version": ["sagemaker:CreateEndpointConfig", "sagemaker:UpdateEndpoint", "sagemaker:DeleteModel"],
    "set_traffic": ["sagemaker:UpdateEndpointWeightsAndCapacities"],
    "update_endpoint": [
        "sagemaker:AddTags/DeleteTags",
        "sagemaker:CreateEndpointConfig + UpdateEndpoint (capture)",
    ],
    "delete_endpoint": [
        "scheduler:DeleteSchedule / sagemaker:DeleteMonitoringSchedule + "
        "DeleteDataQualityJobDefinition (drift schedule, if any)",
        "application-autoscaling:DeregisterScalableTarget",
        "sagemaker:DeleteEndpoint",
        "sagemaker:DeleteEndpointConfig",
        "sagemaker:DeleteModel",
    ],
}


#: AWS's notice, on every Model Monitor page of the SageMaker developer guide:
#: "Amazon SageMaker Model Monitor is no longer open to new customers. Existing customers
#: can continue to use the service as normal." (model-monitor-availability-change)
MODEL_MONITOR_CLOSED = (
    "AWS documents that SageMaker Model Monitor is no longer open to new customers "
    "(model-monitor-availability-change)"
)


def drift_capability(native_monitoring: bool) -> Capability:
    if native_monitoring:
        return Capability(
            Feature.DRIFT_MONITORING,
            Support.NATIVE,
            "native_monitoring: true: a SageMaker Model Monitor schedule (DataQuality job "
            "definition) runs cloudserve's drift engine over each interval's capture; needs an "
            "account that still has Model Monitor",
        )
    return Capability(
        Feature.DRIFT_MONITORING,
        Support.EMULATED,
        f"{MODEL_MONITOR_CLOSED}, so EventBridge Scheduler starts a SageMaker processing job "
        "running cloudserve's drift engine over the capture location each interval "
        "(native_monitoring: true uses a Model Monitor schedule instead)",
    )


def declared_capabilities(native_monitoring: bool = False) -> Mapping[Feature, Capability]:
    c = Capability
    return {
        Feature.TRAFFIC_SPLIT: c(Feature.TRAFFIC_SPLIT, Support.NATIVE, "production variant weights"),
        Feature.MIRROR: c(Feature.MIRROR, Support.NATIVE, "shadow variants; one live version and one shadow"),
        Feature.REPLICAS: c(Feature.REPLICAS, Support.NATIVE, "production variant InitialInstanceCount"),
        Feature.AUTOSCALE: c(Feature.AUTOSCALE, Support.NATIVE, "Application Auto Scaling target tracking"),
        Feature.SERVERLESS: c(
            Feature.SERVERLESS, Support.NATIVE, "serverless inference (no GPU, no capture)"
        ),
        Feature.ACCELERATOR: c(Feature.ACCELERATOR, Support.NATIVE, "GPU instance types from the catalog"),
        Feature.CAPTURE: c(Feature.CAPTURE, Support.NATIVE, "DataCaptureConfig to S3"),
        Feature.DRIFT_MONITORING: drift_capability(native_monitoring),
        Feature.ROLLOUT: c(
            Feature.ROLLOUT,
            Support.EMULATED,
            "traffic between versions moves in cloudserve's steps and gates; a new model for one "
            "live version rolls out with SageMaker's deployment guardrails when they fit",
        ),
    }


def priced_note(version: DesiredVersion) -> PlanNote:
    catalog = load_catalog()
    if version.instance_type is None:
        return PlanNote(notes=("serverless: billed per request duration",))
    entry = catalog.get(version.instance_type)
    price = entry.hourly_usd if entry else None  # per instance; the core multiplies
    note = (
        f"price: {catalog.region} on-demand, catalog of {catalog.as_of}"
        if entry
        else "price unknown: not in the catalog"
    )
    return PlanNote(instance_type=version.instance_type, hourly_price_usd=price, notes=(note,))
