"""The SageMaker target: the Provider the core drives, over real-time endpoints.

Importing this module imports no SDK (boto3 loads on the first API call, the sagemaker
SDK only to look up a framework image). One deployment is one SageMaker endpoint; each
version is a production variant of the same name backed by its own Model; a traffic
change moves variant weights in place (UpdateEndpointWeightsAndCapacities), anything else
rolls a new endpoint config out with UpdateEndpoint. Every write returns an Operation
that polls DescribeEndpoint and finishes the follow-up steps (autoscaling, cleanup) once
the endpoint is back in service.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from cloudserve.errors import CloudServeError, Conflict, DeploymentFailed, NotFound
from cloudserve.provider import (
    CallbackOperation,
    Capability,
    DesiredEndpoint,
    DesiredVersion,
    Done,
    EndpointState,
    Feature,
    InvokeResult,
    NativePlan,
    Operation,
    PlanNote,
    Provider,
    VersionMetrics,
    coerce_settings,
)
from cloudserve.serving.pin_check import framework_pin_problems
from cloudserve.spec.models import Deployment
from cloudserve.tags import is_rollout_bookkeeping
from cloudserve_sagemaker import translate as tr
from cloudserve_sagemaker.catalog import load_catalog
from cloudserve_sagemaker.client import AwsClients
from cloudserve_sagemaker.declared import OPERATIONS, declared_capabilities, priced_note
from cloudserve_sagemaker.deploy import Deployer
from cloudserve_sagemaker.drift import DriftMonitor, describe_mode, drift_problems, plan_calls
from cloudserve_sagemaker.images import missing_sdk_problems
from cloudserve_sagemaker.live import (
    LiveEndpoint,
    capture_key,
    config_tags_of,
    cooldowns_of,
    read_live,
    to_state,
)
from cloudserve_sagemaker.metrics import read_metrics
from cloudserve_sagemaker.native import (
    NativeRollout,
    deployment_config,
    plan_native,
    rollback_error,
    rollback_record,
)
from cloudserve_sagemaker.settings import SageMakerSettings
from cloudserve_sagemaker.staging import start_note
from cloudserve_sagemaker.validation import validate_desired


class SageMakerProvider(Provider):
    name = "sagemaker"

    def __init__(self, settings: Any, *, offline: bool = False) -> None:
        settings = coerce_settings(SageMakerSettings, settings)
        super().__init__(settings, offline=offline)
        self.aws = AwsClients(settings.region, settings.profile)
        self.deployer = Deployer(self.aws, settings)
        self.monitor = DriftMonitor(self.aws, settings)
        self._arns: dict[str, str] = {}  # endpoint name -> ARN (an ARN is derived from the name)

    # --- what the target can do ---------------------------------------------------------
    def capabilities(self) -> Mapping[Feature, Capability]:
        return declared_capabilities(self.settings.native_monitoring)

    def validate(self, desired: DesiredEndpoint) -> list[str]:
        return [
            *validate_desired(desired, self.settings),
            *framework_pin_problems(desired.deployment),
            *drift_problems(desired, self.settings),
            *missing_sdk_problems(desired),
        ]

    def resolve_instance_type(self, deployment: Deployment) -> str | None:
        compute = deployment.spec.compute
        if compute.serverless is not None:
            return None
        explicit = compute.instance_type.get("sagemaker")
        return explicit or load_catalog().smallest_fit(compute).name

    def plan_note(self, desired: DesiredEndpoint, version: DesiredVersion) -> PlanNote:
        note = priced_note(version)
        start = None if version.spec.image else start_note(version.spec.model, self.settings.offline)
        return replace(note, notes=(*note.notes, start)) if start else note

    def operations(self, action: str, desired: DesiredEndpoint, subject: str) -> list[str]:
        ops = list(OPERATIONS.get(action, []))
        if action == "create_endpoint" and any(
            tr.needs_scalable_target(v.scaling) for v in desired.versions.values()
        ):
            ops.append("application-autoscaling:RegisterScalableTarget + PutScalingPolicy")
        if action in ("create_endpoint", "update_endpoint") and desired.monitoring_hash:
            ops += [f"drift: {describe_mode(self.settings)}", *plan_calls(self.settings)]
        return ops

    def native_rollout(
        self, desired: DesiredEndpoint, observed: EndpointState, actions: list[str]
    ) -> NativePlan | None:
        """SageMaker's guardrails carry the rollout when the change is one live version's new
        model and the spec's steps and gates map onto them exactly (see :mod:`.native`);
        ``replace_version`` then sends that DeploymentConfig, found on ``desired.native``."""
        native = plan_native(desired, observed, actions)
        return None if isinstance(native, str) else NativePlan(native.describe(), native)

    # --- read ---------------------------------------------------------------------------
    def list_endpoints(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:  # ListEndpoints pages at most 100 a call
            page = self.aws.call(
                "sagemaker", "list_endpoints", MaxResults=100, **({"NextToken": token} if token else {})
            )
            names += [e["EndpointName"] for e in page.get("Endpoints", [])]
            token = page.get("NextToken")
            if not token:
                return names

    def observe(self, name: str) -> EndpointState | None:
        live = read_live(self.aws, name)
        if live is None:
            return None
        state = to_state(live, self.aws.region_name)
        state.monitoring_hash = self._monitoring_hash(live)
        return state

    def _monitoring_hash(self, live: LiveEndpoint) -> str | None:
        """The drift schedule's hash as the schedule itself records it. The endpoint's tag
        only says one was made (no lookup for endpoints without drift monitoring); a
        schedule deleted outside cloudserve reads as None, so plan shows the change."""
        if live.tags.get(tr.MONITORING_TAG) is None:
            return None
        return self.monitor.observed_hash(live.name)

    def _live(self, name: str) -> LiveEndpoint:
        live = read_live(self.aws, name)
        if live is None:
            raise NotFound(f"SageMaker endpoint {name!r} does not exist", target=self.name)
        return live

    # --- waiting ------------------------------------------------------------------------
    def _wait(
        self,
        name: str,
        description: str,
        expect_config: str | None,
        then: Callable[[], None] | None = None,
        rolled_back: Callable[[str], CloudServeError] | None = None,
    ) -> Operation:
        """Poll DescribeEndpoint; run ``then`` once when in service on the expected config.
        Back in service on another config means SageMaker rolled the update back: the error
        is ``rolled_back(reason)`` when given (a native rollout), else DeploymentFailed."""
        state = {"done": False}

        def check() -> bool:
            if state["done"]:
                return True
            ep = self.aws.call("sagemaker", "describe_endpoint", EndpointName=name)
            status = ep["EndpointStatus"]
            if status == "Failed" or status == "UpdateRollbackFailed":
                raise DeploymentFailed(
                    f"SageMaker endpoint {name!r} is {status}: "
                    f"{ep.get('FailureReason') or 'no reason given'}",
                    target=self.name,
                )
            if status != "InService":
                return False
            if expect_config and ep["EndpointConfigName"] != expect_config:
                if rolled_back is not None:
                    raise rolled_back(ep.get("FailureReason") or "no reason given")
                raise DeploymentFailed(
                    f"SageMaker rolled the update of {name!r} back: "
                    f"{ep.get('FailureReason') or 'no reason given'}",
                    target=self.name,
                )
            if then is not None:
                then()
            state["done"] = True
            return True

        return CallbackOperation(description, check)

    # --- write ------------------------------------------------------------------------------
    def _cooldowns(self, desired: DesiredEndpoint) -> tuple[float, float]:
        auto = desired.deployment.spec.compute.autoscale
        return (auto.scale_in_cooldown, auto.scale_out_cooldown) if auto else (300.0, 60.0)

    def _register_all(
        self, desired: DesiredEndpoint, names: list[str] | None = None, existing: set[str] | None = None
    ) -> None:
        for version in desired.versions.values():
            if desired.deployment.spec.compute.serverless is None and (
                names is None or version.name in names
            ):
                self.deployer.register_scaling(
                    tr.config_tags(desired),
                    desired.name,
                    version.name,
                    version.scaling,
                    self._cooldowns(desired),
                    existing=version.name in (existing or set()),
                )

    def create_endpoint(self, desired: DesiredEndpoint) -> Operation:
        models = {v.name: self.deployer.ensure_model(desired, v) for v in desired.versions.values()}
        production, shadow = tr.variant_sets(desired, models, desired.traffic, desired.mirror)
        capture = tr.data_capture_config(
            desired.deployment.spec.capture, self.deployer.capture_destination(desired.name)
        )
        config = self.deployer.put_config(desired.name, production, shadow, capture, tr.config_tags(desired))
        self.aws.call(
            "sagemaker",
            "create_endpoint",
            EndpointName=desired.name,
            EndpointConfigName=config,
            Tags=tr.aws_tags(tr.endpoint_tags(desired)),
        )

        def then() -> None:
            self._register_all(desired)
            if desired.monitoring_hash:
                self.monitor.ensure(desired)

        return self._wait(desired.name, f"create SageMaker endpoint {desired.name}", config, then)

    def _roll_config(
        self,
        desired: DesiredEndpoint,
        live: LiveEndpoint,
        production: list[dict[str, Any]],
        shadow: list[dict[str, Any]],
        capture: dict[str, Any] | None,
        description: str,
        native: NativeRollout | None = None,
    ) -> Operation:
        """New endpoint config + UpdateEndpoint, with scaling re-registered afterwards.

        Application Auto Scaling must let go of an endpoint's variants before
        UpdateEndpoint changes them, so targets are deregistered first and restored
        (from the spec) once the endpoint is back in service; then unused configs and
        models of this deployment are deleted.
        """
        config = self.deployer.put_config(desired.name, production, shadow, capture, tr.config_tags(desired))
        if config == live.config_name:
            return Done(description + " (no change)")
        self.deployer.deregister_scaling(desired.name, list(live.targets))
        extra: dict[str, Any] = {}
        alarms: list[str] = []
        if native is not None:  # SageMaker's guardrails carry this rollout
            alarms = self.deployer.put_alarms(desired.name, native, config, tr.config_tags(desired))
            extra["DeploymentConfig"] = deployment_config(native, alarms)
        self.aws.call(
            "sagemaker", "update_endpoint", EndpointName=desired.name, EndpointConfigName=config, **extra
        )
        models = [v["ModelName"] for v in production + shadow]
        keep = {v["VariantName"] for v in production}

        def finish() -> None:
            self._register_all(desired, [n for n in desired.versions if n in keep])
            self.deployer.collect_garbage(desired.name, config, models)
            self.deployer.delete_alarms(alarms)

        def rolled_back(reason: str) -> CloudServeError:
            """SageMaker restored the old fleet: restore its scaling, drop what the update
            made, and record the outcome on the endpoint as a client-side rollback would."""
            assert native is not None
            self.deployer.delete_alarms(alarms)
            self._restore_scaling(live)
            self.deployer.collect_garbage(
                live.name, live.config_name, [v["ModelName"] for v in live.variants]
            )
            previous = to_state(live, self.aws.region_name).traffic
            self.write_tags(live.name, rollback_record(desired, previous, reason).to_tags())
            return rollback_error(desired, native, previous, alarms, reason)

        return self._wait(
            desired.name, description, config, finish, rolled_back if native is not None else None
        )

    def _rebuild(
        self, desired: DesiredEndpoint, live: LiveEndpoint, swap: Mapping[str, DesiredVersion], drop: set[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The live variants with some rebuilt from the spec (same weight) and some dropped."""

        def rebuilt(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = []
            for variant in variants:
                name = variant["VariantName"]
                if name in drop:
                    continue
                if name in swap:
                    model = self.deployer.ensure_model(desired, swap[name])
                    out.append(
                        tr.production_variant(
                            desired, swap[name], model, variant.get("InitialVariantWeight", 0.0)
                        )
                    )
                else:
                    out.append(dict(variant))
            return out

        return rebuilt(live.production), rebuilt(live.shadow)

    def create_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        live = self._live(desired.name)
        production, shadow = self._rebuild(desired, live, {}, set())
        model = self.deployer.ensure_model(desired, version)
        production.append(tr.production_variant(desired, version, model, 0.0))
        return self._roll_config(
            desired, live, production, shadow, live.capture, f"add version {version.name} to {desired.name}"
        )

    def replace_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        live = self._live(desired.name)
        production, shadow = self._rebuild(desired, live, {version.name: version}, set())
        planned = desired.native.private if desired.native is not None else None
        native = planned if isinstance(planned, NativeRollout) and planned.version == version.name else None
        return self._roll_config(
            desired,
            live,
            production,
            shadow,
            live.capture,
            f"replace version {version.name} of {desired.name}"
            + (" with SageMaker's deployment guardrails" if native else ""),
            native,
        )

    def delete_version(self, desired: DesiredEndpoint, name: str) -> Operation:
        live = self._live(desired.name)
        production, shadow = self._rebuild(desired, live, {}, {name})
        if not production:
            raise Conflict(
                f"cannot delete {name!r}: it is the endpoint's last live version", target=self.name
            )
        return self._roll_config(
            desired, live, production, shadow, live.capture, f"delete version {name} of {desired.name}"
        )

    def update_version(self, desired: DesiredEndpoint, version: DesiredVersion) -> Operation:
        live = self._live(desired.name)
        variant = next((v for v in live.production if v["VariantName"] == version.name), None)
        if variant is None:
            raise NotFound(
                f"version {version.name!r} is not a live variant of {desired.name!r}", target=self.name
            )
        count = max(version.scaling.min, 1)
        if (
            "InstanceType" in variant
            and not tr.needs_scalable_target(version.scaling)
            and variant.get("InitialInstanceCount") != count
        ):
            self.aws.call(
                "sagemaker",
                "update_endpoint_weights_and_capacities",
                EndpointName=desired.name,
                DesiredWeightsAndCapacities=[{"VariantName": version.name, "DesiredInstanceCount": count}],
            )
        self._register_all(desired, [version.name], set(live.targets))
        return self._wait(desired.name, f"scale version {version.name} of {desired.name}", None)

    def set_traffic(self, name: str, traffic: Mapping[str, int], mirror: Mapping[str, int]) -> Operation:
        live = self._live(name)
        current = to_state(live, self.aws.region_name)
        wanted_mirror = {k: v for k, v in mirror.items() if v > 0}
        if wanted_mirror != {k: v for k, v in current.mirror.items() if v > 0}:
            return self._set_mirror(live, traffic, wanted_mirror)
        updates = [
            {"VariantName": v["VariantName"], "DesiredWeight": float(traffic.get(v["VariantName"], 0))}
            for v in live.production
        ]
        if all(current.traffic.get(k, 0) == v for k, v in traffic.items()):
            return Done(f"traffic of {name} already {dict(traffic)}")
        self.aws.call(
            "sagemaker",
            "update_endpoint_weights_and_capacities",
            EndpointName=name,
            DesiredWeightsAndCapacities=updates,
        )
        return self._wait(name, f"set traffic of {name} to {dict(traffic)}", None)

    def _set_mirror(
        self, live: LiveEndpoint, traffic: Mapping[str, int], mirror: Mapping[str, int]
    ) -> Operation:
        """Moving a version into or out of the shadow slot needs a new endpoint config."""
        production, shadow = [], []
        for variant in live.variants:
            variant = dict(variant)
            name = variant["VariantName"]
            if mirror.get(name, 0) > 0:
                variant["InitialVariantWeight"] = float(mirror[name])
                shadow.append(variant)
            else:
                variant["InitialVariantWeight"] = float(traffic.get(name, 0))
                production.append(variant)
        config = self.deployer.put_config(live.name, production, shadow, live.capture, config_tags_of(live))
        self.deployer.deregister_scaling(live.name, list(live.targets))
        self.aws.call("sagemaker", "update_endpoint", EndpointName=live.name, EndpointConfigName=config)
        kept = {v["VariantName"] for v in production}

        def finish() -> None:
            self._restore_scaling(live, kept)
            self.deployer.collect_garbage(live.name, config, [v["ModelName"] for v in production + shadow])

        return self._wait(live.name, f"set mirror of {live.name} to {dict(mirror)}", config, finish)

    def _restore_scaling(self, live: LiveEndpoint, variants: set[str] | None = None) -> None:
        """Register the scaling ``live`` had again (after an update released it)."""
        cooldowns = cooldowns_of(live)
        for variant in live.production:
            name = variant["VariantName"]
            if name in live.targets and (variants is None or name in variants):
                self.deployer.register_scaling(
                    config_tags_of(live),
                    live.name,
                    name,
                    live.scaling(variant),
                    cooldowns.get(name, (300.0, 60.0)),
                )

    def update_endpoint(self, desired: DesiredEndpoint) -> Operation:
        live = self._live(desired.name)
        if self._monitoring_hash(live) != desired.monitoring_hash:
            self.monitor.ensure(desired)  # before the tag that says it exists
        self._sync_tags(live, tr.endpoint_tags(desired))
        capture = tr.data_capture_config(
            desired.deployment.spec.capture, self.deployer.capture_destination(desired.name)
        )
        if capture_key(capture) != capture_key(live.capture):
            return self._roll_config(
                desired, live, live.production, live.shadow, capture, f"update capture of {desired.name}"
            )
        return Done(f"update {desired.name}")

    def _sync_tags(self, live: LiveEndpoint, wanted: Mapping[str, str]) -> None:
        # The rollout record spans several keys (-steps, -from, -why, ...): all stay.
        stale = [
            k
            for k in live.tags
            if k not in wanted and not is_rollout_bookkeeping(k) and not k.startswith("aws:")
        ]
        changed = {k: v for k, v in wanted.items() if live.tags.get(k) != v}
        if stale:
            self.aws.call("sagemaker", "delete_tags", ResourceArn=live.arn, TagKeys=stale)
        if changed:
            self.aws.call("sagemaker", "add_tags", ResourceArn=live.arn, Tags=tr.aws_tags(changed))

    def read_tags(self, name: str) -> dict[str, str] | None:
        """One ListTags (the ARN is remembered): what a rollout polls during a bake, where
        observe() would also describe the endpoint and its scaling."""
        arn = self._arns.get(name)
        try:
            if arn is None:
                arn = self.aws.call("sagemaker", "describe_endpoint", EndpointName=name)["EndpointArn"]
                self._arns[name] = arn
            # A resource holds at most 50 user tags (plus aws: ones): one page of 100 covers them.
            found = self.aws.call("sagemaker", "list_tags", ResourceArn=arn, MaxResults=100)["Tags"]
        except NotFound:
            self._arns.pop(name, None)
            return None
        return {t["Key"]: t["Value"] for t in found}

    def write_tags(self, name: str, tags: Mapping[str, str | None]) -> None:
        """AddTags overwrites a key in place, so a rollout record or lease renewal costs one
        call (two when keys are also removed); the ARN is remembered per endpoint name."""
        arn = self._arns.get(name)
        if arn is None:
            arn = self.aws.call("sagemaker", "describe_endpoint", EndpointName=name)["EndpointArn"]
            self._arns[name] = arn
        remove = [k for k, v in tags.items() if v is None]
        put = {k: v for k, v in tags.items() if v is not None}
        if remove:
            self.aws.call("sagemaker", "delete_tags", ResourceArn=arn, TagKeys=remove)
        if put:
            self.aws.call("sagemaker", "add_tags", ResourceArn=arn, Tags=tr.aws_tags(put))

    def delete_endpoint(self, name: str) -> Operation:
        live = read_live(self.aws, name, with_details=False)
        if live is None:
            return Done(f"{name} does not exist")
        if not tr.is_owned(live.tags, name):
            raise Conflict(
                f"SageMaker endpoint {name!r} was not created by cloudserve; not deleting it",
                target=self.name,
            )
        self.monitor.remove(name)  # the schedule first: it would start jobs on a dead endpoint
        self.deployer.deregister_scaling(name, [v["VariantName"] for v in live.production])
        self.aws.call("sagemaker", "delete_endpoint", EndpointName=name)
        self._arns.pop(name, None)

        def gone() -> bool:
            try:
                self.aws.call("sagemaker", "describe_endpoint", EndpointName=name)
                return False
            except NotFound:
                self.deployer.collect_garbage(name, None, [])
                self.deployer.delete_alarms_of(name)
                return True

        return CallbackOperation(f"delete SageMaker endpoint {name}", gone)

    # --- data plane -----------------------------------------------------------------------
    def invoke(self, name: str, payload: Any, *, version: str | None = None) -> InvokeResult:
        params: dict[str, Any] = {
            "EndpointName": name,
            "Body": json.dumps(payload).encode(),
            "ContentType": "application/json",
            "Accept": "application/json",
        }
        if version:
            params["TargetVariant"] = version
        start = time.perf_counter()
        response = self.aws.call("sagemaker-runtime", "invoke_endpoint", **params)
        latency = (time.perf_counter() - start) * 1000.0
        raw = response["Body"].read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        return InvokeResult(body=body, version=response.get("InvokedProductionVariant"), latency_ms=latency)

    def metrics(self, name: str, versions: list[str], window_seconds: float) -> dict[str, VersionMetrics]:
        return read_metrics(self.aws, name, versions, window_seconds)

    def close(self) -> None:
        self.aws.close()
