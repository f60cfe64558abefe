"""The SageMaker write steps the provider composes: stage, model, config, update, scale, clean.

Each step is idempotent where SageMaker allows it (content-addressed names make a repeat
a no-op), so the core can retry any of them after a throttle or a crash. Cleanup only
ever touches resources tagged as this deployment's, so destroy removes what cloudserve
created and nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from cloudserve.artifacts import is_remote
from cloudserve.errors import AlreadyExists, InvalidSpec, NotFound
from cloudserve.provider import DesiredEndpoint, DesiredVersion, Scaling
from cloudserve.serving.wheels import fetch_wheels
from cloudserve_sagemaker import staging
from cloudserve_sagemaker import translate as tr
from cloudserve_sagemaker.client import AwsClients
from cloudserve_sagemaker.native import NativeRollout, alarm_prefix, alarm_request
from cloudserve_sagemaker.settings import SageMakerSettings


class Deployer:
    def __init__(self, aws: AwsClients, settings: SageMakerSettings) -> None:
        self.aws = aws
        self.settings = settings

    # --- artifacts and models ---------------------------------------------------------
    def stage(self, desired: DesiredEndpoint, version: DesiredVersion) -> str | None:
        """The ModelDataUrl for a version: an s3:// uri as is, a local path packed and staged."""
        model = version.spec.model
        if model is None:
            return None
        if model.uri.startswith("s3://"):
            return model.uri
        if is_remote(model.uri):
            raise InvalidSpec(
                f"version {version.name!r}: SageMaker reads models from s3:// or a local path, not "
                f"{model.uri!r}"
            )
        source = version.artifact
        assert source is not None  # not remote; plan refused a path that does not exist
        bucket = self._bucket()
        offline = self.settings.offline
        key = staging.content_key(self.settings.prefix, source, model, offline)
        try:
            self.aws.call("s3", "head_object", Bucket=bucket, Key=key)
        except NotFound:
            wheels = fetch_wheels(staging.offline_pins(model, source)) if offline else None
            body = staging.pack_model(source, model, wheels)
            self.aws.call(
                "s3", "put_object", Bucket=bucket, Key=key, Body=body, ContentType="application/gzip"
            )
        return f"s3://{bucket}/{key}"

    def _bucket(self) -> str:
        if not self.settings.bucket:
            raise InvalidSpec("targets.sagemaker.bucket is required to stage local models and captures")
        return self.settings.bucket

    def image_for(self, version: DesiredVersion) -> tuple[str, bool]:
        """(image URI, whether it is a prebuilt framework container running the shim)."""
        if version.spec.image:
            return version.spec.image, False
        from cloudserve_sagemaker.images import runtime_image

        return runtime_image(self.aws.region_name, version.instance_type), True

    def ensure_model(self, desired: DesiredEndpoint, version: DesiredVersion) -> str:
        name = tr.model_name(desired.name, version.name, version.config_hash)
        image, framework = self.image_for(version)
        request = tr.model_request(
            name=name,
            role_arn=self.settings.role_arn or "",
            image=image,
            model_data_url=self.stage(desired, version),
            environment=tr.container_environment(version, self.aws.region_name, framework),
            tags=tr.version_tags(desired, version),
            vpc=self.settings.vpc,
        )
        try:
            self.aws.call("sagemaker", "describe_model", ModelName=name)
            return name  # content-addressed: the same name is the same model
        except NotFound:
            pass
        with contextlib.suppress(AlreadyExists):
            self.aws.call("sagemaker", "create_model", **request)
        return name

    # --- endpoint configs and the endpoint ------------------------------------------
    def put_config(
        self,
        endpoint: str,
        production: list[dict[str, Any]],
        shadow: list[dict[str, Any]],
        capture: dict[str, Any] | None,
        tags: Mapping[str, str],
    ) -> str:
        request = tr.endpoint_config_request(
            endpoint, production, shadow, capture, tags, self.settings.kms_key_id
        )
        name = str(request["EndpointConfigName"])
        try:
            self.aws.call("sagemaker", "describe_endpoint_config", EndpointConfigName=name)
            return name
        except NotFound:
            pass
        with contextlib.suppress(AlreadyExists):
            self.aws.call("sagemaker", "create_endpoint_config", **request)
        return name

    def capture_destination(self, endpoint: str) -> str:
        bucket = self.settings.bucket or "unset-bucket"
        return f"s3://{bucket}/{self.settings.prefix.strip('/')}/capture/{endpoint}"

    # --- autoscaling -------------------------------------------------------------------
    def register_scaling(
        self,
        desired_tags: Mapping[str, str],
        endpoint: str,
        variant: str,
        scaling: Scaling,
        cooldowns: tuple[float, float],
        existing: bool = False,
    ) -> None:
        """Make a variant's scaling match; ``existing`` says a target is registered now."""
        if not tr.needs_scalable_target(scaling):
            if existing:
                self.deregister_scaling(endpoint, [variant])
            return
        self.aws.call(
            "application-autoscaling",
            "register_scalable_target",
            **tr.scalable_target_request(endpoint, variant, scaling, desired_tags),
        )
        if scaling.autoscale_metric:
            request = tr.scaling_policy_request(endpoint, variant, scaling, *cooldowns)
            self.aws.call("application-autoscaling", "put_scaling_policy", **request)
        elif existing:
            self._delete_policy(endpoint, variant)

    def _delete_policy(self, endpoint: str, variant: str) -> None:
        with contextlib.suppress(NotFound):
            self.aws.call(
                "application-autoscaling",
                "delete_scaling_policy",
                PolicyName=tr.policy_name(endpoint, variant),
                ServiceNamespace="sagemaker",
                ResourceId=tr.resource_id(endpoint, variant),
                ScalableDimension=tr.SCALABLE_DIMENSION,
            )

    def deregister_scaling(self, endpoint: str, variants: Iterable[str]) -> None:
        """Policies first, then the target: the order Application Auto Scaling requires."""
        for variant in variants:
            self._delete_policy(endpoint, variant)
            with contextlib.suppress(NotFound):
                self.aws.call(
                    "application-autoscaling",
                    "deregister_scalable_target",
                    ServiceNamespace="sagemaker",
                    ResourceId=tr.resource_id(endpoint, variant),
                    ScalableDimension=tr.SCALABLE_DIMENSION,
                )

    # --- cleanup -------------------------------------------------------------------------
    def owned_configs(self, endpoint: str) -> list[str]:
        found = self.aws.call("sagemaker", "list_endpoint_configs", NameContains=endpoint, MaxResults=100)
        names = [c["EndpointConfigName"] for c in found.get("EndpointConfigs", [])]
        return [n for n in names if self._owned(n, "endpoint_config", endpoint)]

    def owned_models(self, endpoint: str) -> list[str]:
        found = self.aws.call("sagemaker", "list_models", NameContains=endpoint, MaxResults=100)
        names = [m["ModelName"] for m in found.get("Models", [])]
        return [n for n in names if self._owned(n, "model", endpoint)]

    def _owned(self, name: str, kind: str, endpoint: str) -> bool:
        try:
            if kind == "model":
                arn = self.aws.call("sagemaker", "describe_model", ModelName=name)["ModelArn"]
            else:
                arn = self.aws.call("sagemaker", "describe_endpoint_config", EndpointConfigName=name)[
                    "EndpointConfigArn"
                ]
            tags = tr.tags_dict(self.aws.call("sagemaker", "list_tags", ResourceArn=arn).get("Tags"))
        except NotFound:
            return False
        return tr.is_owned(tags, endpoint)

    def collect_garbage(self, endpoint: str, keep_config: str | None, keep_models: Iterable[str]) -> None:
        """Delete this deployment's configs and models no longer in use (configs first)."""
        keep = set(keep_models)
        for config in self.owned_configs(endpoint):
            if config != keep_config:
                self._delete("delete_endpoint_config", EndpointConfigName=config)
        for model in self.owned_models(endpoint):
            if model not in keep:
                self._delete("delete_model", ModelName=model)

    def _delete(self, operation: str, **params: Any) -> None:
        with contextlib.suppress(NotFound):
            self.aws.call("sagemaker", operation, **params)

    # --- deployment guardrails: one CloudWatch alarm per rollout gate -----------------------
    def put_alarms(
        self, endpoint: str, native: NativeRollout, config_name: str, tags: Mapping[str, str]
    ) -> list[str]:
        """The auto-rollback alarms for a native rollout, on the new config's fleet."""
        names = []
        for index in range(len(native.gates)):
            request = alarm_request(endpoint, native, config_name, index, tags)
            self.aws.call("cloudwatch", "put_metric_alarm", **request)
            names.append(request["AlarmName"])
        return names

    def delete_alarms(self, names: list[str]) -> None:
        if names:  # DeleteAlarms ignores names that do not exist
            self.aws.call("cloudwatch", "delete_alarms", AlarmNames=names)

    def delete_alarms_of(self, endpoint: str) -> None:
        """Every gate alarm a rollout of ``endpoint`` left behind (a process killed mid-way)."""
        found = self.aws.call("cloudwatch", "describe_alarms", AlarmNamePrefix=alarm_prefix(endpoint))
        self.delete_alarms([a["AlarmName"] for a in found.get("MetricAlarms", [])])
