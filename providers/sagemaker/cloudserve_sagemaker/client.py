"""The only module that imports boto3, and only when a client is first needed.

``import cloudserve_sagemaker.provider`` must stay cheap (``cloudserve validate`` never
pays for an SDK), so boto3 is imported inside :meth:`AwsClients.session`. Every call goes
through :meth:`AwsClients.call`, which translates botocore's exceptions into neutral ones
and counts calls (the rollout benchmarks report API calls per canary).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from cloudserve_sagemaker.errors import aws_errors

SERVICES = ("sagemaker", "sagemaker-runtime", "s3", "application-autoscaling", "cloudwatch", "scheduler")


class AwsClients:
    """Lazily built boto3 clients sharing one session (standard AWS credential chain)."""

    def __init__(self, region: str | None, profile: str | None = None) -> None:
        self.region = region
        self.profile = profile
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self.calls: Counter[str] = Counter()
        self._immutable: dict[str, dict[str, Any]] = {}

    def session(self) -> Any:
        if self._session is None:
            self._session = _shared_session(self.profile, self.region)
        return self._session

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            # Standard retry mode backs off on throttling and 5xx inside botocore; the
            # core retries the neutral Throttled/Unavailable on top. AWS_RETRY_MODE and
            # AWS_MAX_ATTEMPTS in the environment still win, as users expect.
            retries: dict[str, Any] = {}
            if "AWS_RETRY_MODE" not in os.environ:
                retries["mode"] = "standard"
            config = Config(retries=retries, user_agent_extra="cloudserve")
            with aws_errors(f"connect to {service}"):
                self._clients[service] = self.session().client(service, config=config)
        return self._clients[service]

    @property
    def region_name(self) -> str:
        return str(self.client("sagemaker").meta.region_name)

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Call ``operation`` (snake_case) on ``service``; errors come out neutral."""
        client = self.client(service)
        self.calls[f"{service}:{operation}"] += 1
        with aws_errors(_pascal(operation)):
            result: dict[str, Any] = getattr(client, operation)(**params)
        return result

    def call_immutable(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """:meth:`call` for a read of something SageMaker never changes in place (an endpoint
        config, a Model and its tags, both named by content here): answered once per
        provider. A rollout polls the endpoint every few seconds; this keeps each poll to
        the reads of what can change."""
        key = json.dumps([service, operation, params], sort_keys=True, default=str)
        if key not in self._immutable:
            self._immutable[key] = self.call(service, operation, **params)
        return self._immutable[key]

    def close(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "close", None)
            if close is not None:
                close()
        self._clients.clear()


_SESSIONS: dict[tuple[str | None, str | None], Any] = {}


def _shared_session(profile: str | None, region: str | None) -> Any:
    """One boto3 session per profile and region in a process: loading the SageMaker
    service model takes over a second, and a session caches it for all its clients."""
    key = (profile, region)
    if key not in _SESSIONS:
        import boto3

        _SESSIONS[key] = boto3.session.Session(profile_name=profile, region_name=region)
    return _SESSIONS[key]


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))
