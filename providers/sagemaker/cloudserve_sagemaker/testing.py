"""An offline SageMaker for tests: moto, plus what moto lacks, behind the real boto3.

Use it in your own tests of code that deploys with cloudserve::

    from cloudserve_sagemaker.testing import SageMakerEmulator

    def test_my_pipeline(tmp_path):
        with SageMakerEmulator() as aws:          # moto's mock_aws, patched
            aws.create_bucket("artifacts")
            ...  # cloudserve apply / the Python API, unchanged
            aws.settle()                          # finish every pending state change

What it adds to moto 5.2.5 (all through moto's own request dispatch, with state on
moto's SageMaker backend so moto's reset clears it):

- Operations moto lacks: UpdateEndpoint (with DeploymentConfig and auto-rollback
  alarms) and the monitoring-schedule calls (Create, Describe,
  Update, Delete, List, Start, Stop). ``ADDED_OPERATIONS`` lists them; a test fails once
  moto ships its own, so ours can be dropped.
- Real state transitions: Creating -> InService, Updating -> InService, and
  Updating -> RollingBack -> InService (old config restored) when an alarm named in
  AutoRollbackConfiguration is in ALARM. An endpoint moves one step per
  ``describes_per_transition`` DescribeEndpoint calls (default 1; 0 settles on the first
  describe), or at once with :meth:`settle`, so tests never sleep.
- Real rules: every max length, name pattern and enum in the SageMaker service model
  (endpoint, model, config and variant names up to 63 characters of letters, digits and
  hyphens), plus unique variant names, weights summing above 0, one shadow with one
  production variant, instance counts of at least 1, no update while one is in progress,
  no duplicate names.
- EventBridge Scheduler (moto's, with the rules it lacks: name, expression, flexible
  window, universal targets whose Input must be a valid request of the target API);
  :meth:`fire_schedule` invokes a schedule's target now.
- Faults: :meth:`fail_next` (throttling, 5xx, any error code, N times, per operation) and
  :meth:`fail_endpoint` (the next create stays Creating, then ends Failed with your
  FailureReason; the next update rolls back with it).
- Data plane: InvokeEndpoint loads the staged model.tar.gz from moto's S3 with
  cloudserve's serving runtime and answers real predictions, honouring variant weights,
  TargetVariant and shadow copies, and records per-variant CloudWatch metrics; GetMetricData
  answers percentile statistics (p50, p99), which moto does not. :meth:`put_variant_metrics`
  injects metrics (e.g. a failing canary).

botocore's client-side parameter validation stays on. AWS_MAX_ATTEMPTS defaults to 1 inside
the emulator so an injected fault reaches the caller at once (pass ``botocore_retries=True``
to keep botocore's own retries).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from cloudserve_sagemaker.emulator import operations as ops
from cloudserve_sagemaker.emulator.operations import ADDED_OPERATIONS

__all__ = ["ADDED_OPERATIONS", "SageMakerEmulator"]

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class SageMakerEmulator:
    """Context manager: moto's ``mock_aws`` with the SageMaker additions installed."""

    account = "123456789012"

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        describes_per_transition: int = 1,
        botocore_retries: bool = False,
        server: bool = False,
    ) -> None:
        self.region = region
        self.describes_per_transition = describes_per_transition
        self.botocore_retries = botocore_retries
        self.server = server
        self._mock: Any = None
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.endpoint_url: str | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> SageMakerEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> SageMakerEmulator:
        from moto import mock_aws

        from cloudserve_sagemaker.emulator import patches as _patches

        env = dict(_FAKE_ENV, AWS_DEFAULT_REGION=self.region)
        if not self.botocore_retries:
            env["AWS_MAX_ATTEMPTS"] = "1"
        for key, value in env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        _patches.install()
        self._mock = mock_aws()
        self._mock.start()
        if self.server:
            self._start_server()
        self.state.describes_per_transition = self.describes_per_transition
        return self

    def _start_server(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._saved_env.setdefault("AWS_ENDPOINT_URL", os.environ.get("AWS_ENDPOINT_URL"))
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url

    def stop(self) -> None:
        from cloudserve_sagemaker.emulator import patches as _patches

        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        _patches.uninstall()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    # --- state ------------------------------------------------------------------------------
    @property
    def backend(self) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[self.account][self.region]

    @property
    def state(self) -> ops.EmulatorState:
        return ops.state_of(self.backend)

    @property
    def calls(self) -> Counter[str]:
        """SageMaker API calls received, by operation name (for API-call budgets)."""
        return self.state.calls

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def create_bucket(self, name: str) -> None:
        self.client("s3").create_bucket(Bucket=name)

    def fire_schedule(self, name: str, group: str = "default") -> dict[str, Any]:
        """Run an EventBridge Scheduler schedule's universal target once, now, as the
        scheduler would (context attributes substituted); returns the request and reply."""
        from cloudserve_sagemaker.emulator.scheduler import fire

        schedule = self.client("scheduler").get_schedule(Name=name, GroupName=group)
        return fire(schedule, self.client)

    def settle(self) -> None:
        """Finish every pending transition now (alarms still roll updates back)."""
        for name in list(self.state.transitions):
            ops.advance(self.backend, name)
            if name in self.state.transitions:
                ops.advance(self.backend, name, force=True)

    def status(self, endpoint: str) -> str:
        return str(self.backend.endpoints[endpoint].endpoint_status)

    # --- faults -------------------------------------------------------------------------------
    def fail_next(
        self,
        operation: str = "*",
        *,
        code: str = "ThrottlingException",
        status: int = 400,
        times: int = 1,
        message: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``operation`` (PascalCase, or "*") fail with ``code``."""
        text = message or ("Rate exceeded" if "Throttl" in code else f"injected {code}")
        self.state.faults.append(ops.Fault(operation, code, status, text, times))

    def fail_endpoint(
        self,
        name: str,
        reason: str = "The primary container for production variant failed the ping health check.",
    ) -> None:
        """The next create of ``name`` stays Creating, then ends Failed with ``reason``; the
        next update instead rolls back to the previous config with ``reason``."""
        self.state.doomed[name] = reason

    def set_alarm(
        self,
        name: str,
        state: str = "ALARM",
        reason: str = "injected",
        endpoint: str = "any-endpoint",
        variant: str = "any-variant",
    ) -> None:
        """Create (if needed) and set a CloudWatch alarm, e.g. one named in AutoRollbackConfiguration.
        A new alarm watches ``variant``'s Invocation5XXErrors on ``endpoint``."""
        cloudwatch = self.client("cloudwatch")
        if not cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                MetricName="Invocation5XXErrors",
                Namespace="AWS/SageMaker",
                Dimensions=[
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1.0,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)

    def put_variant_metrics(
        self,
        endpoint: str,
        variant: str,
        *,
        invocations: float,
        errors_4xx: float = 0,
        errors_5xx: float = 0,
        latencies_ms: list[float] | None = None,
    ) -> None:
        """Record SageMaker's per-variant metrics as if ``invocations`` requests were served."""
        from cloudserve_sagemaker.emulator.runtime import record

        record(
            self.account,
            self.region,
            endpoint,
            variant,
            invocations=invocations,
            errors_4xx=errors_4xx,
            errors_5xx=errors_5xx,
            latencies_us=[ms * 1000.0 for ms in latencies_ms or []],
        )
