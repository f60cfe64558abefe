"""The only module that imports Google SDKs, and only when first used.

Vertex AI is reached through the low-level ``google.cloud.aiplatform_v1`` service clients
with ``transport="rest"`` (about 2 s to import, against 4 s for the high-level SDK, and
JSON over ``requests``, which an offline emulator can answer). Cloud Storage uploads and
Cloud Monitoring reads are two plain REST calls each, made with google-auth's
``AuthorizedSession`` rather than two more client libraries.

Credentials come from Application Default Credentials. ``CLOUDSERVE_VERTEX_ENDPOINT``
(set by :mod:`cloudserve_vertex.testing`) points all three APIs at one base URL and uses
anonymous credentials, for the emulator.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from cloudserve.errors import InvalidSpec
from cloudserve_vertex.errors import translated
from cloudserve_vertex.settings import VertexSettings

ENDPOINT_ENV = "CLOUDSERVE_VERTEX_ENDPOINT"
STORAGE_URL = "https://storage.googleapis.com"
MONITORING_URL = "https://monitoring.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
HTTP_TIMEOUT = 60.0


def v1() -> Any:
    """``google.cloud.aiplatform_v1``, imported on first use."""
    from google.cloud import aiplatform_v1

    return aiplatform_v1


class VertexClient:
    """Thin, typed access to the calls the provider makes; errors become neutral."""

    def __init__(self, settings: VertexSettings) -> None:
        self.settings = settings
        self.location = settings.location
        self.emulator = os.environ.get(ENDPOINT_ENV) or None

    # --- plumbing -----------------------------------------------------------------------
    @cached_property
    def _credentials_and_project(self) -> tuple[Any, str | None]:
        if self.emulator:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials(), None  # type: ignore[no-untyped-call]
        import google.auth

        creds, project = google.auth.default(scopes=SCOPES)
        return creds, project

    @property
    def credentials(self) -> Any:
        return self._credentials_and_project[0]

    @cached_property
    def project(self) -> str:
        project = self.settings.project or self._credentials_and_project[1]
        if not project:
            raise InvalidSpec(
                "no Google Cloud project: set targets.vertex.project",
                hint="or configure Application Default Credentials with a project",
                target="vertex",
            )
        return project

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def _api_endpoint(self) -> str:
        return self.emulator or f"{self.location}-aiplatform.googleapis.com"

    def _service(self, cls_name: str) -> Any:
        from google.api_core.client_options import ClientOptions

        cls = getattr(v1(), cls_name)
        return cls(
            credentials=self.credentials,
            transport="rest",
            client_options=ClientOptions(api_endpoint=self._api_endpoint()),
        )

    @cached_property
    def endpoints(self) -> Any:
        return self._service("EndpointServiceClient")

    @cached_property
    def models(self) -> Any:
        return self._service("ModelServiceClient")

    @cached_property
    def predictions(self) -> Any:
        return self._service("PredictionServiceClient")

    @cached_property
    def jobs(self) -> Any:
        return self._service("JobServiceClient")

    @cached_property
    def session(self) -> Any:
        from google.auth.transport.requests import AuthorizedSession

        return AuthorizedSession(self.credentials)  # type: ignore[no-untyped-call]

    def _http(self, method: str, url: str, **kw: Any) -> Any:
        from google.api_core import exceptions as gexc

        response = self.session.request(method, url, timeout=HTTP_TIMEOUT, **kw)
        if response.status_code >= 400:
            raise gexc.from_http_response(response)  # type: ignore[no-untyped-call]
        return response

    def endpoint_name(self, endpoint_id: str) -> str:
        return f"{self.parent}/endpoints/{endpoint_id}"

    # --- Vertex AI ----------------------------------------------------------------------
    @translated("get endpoint")
    def get_endpoint(self, name: str) -> Any:
        return self.endpoints.get_endpoint(name=name)

    @translated("create endpoint")
    def create_endpoint(self, endpoint: Any, endpoint_id: str) -> Any:
        return self.endpoints.create_endpoint(parent=self.parent, endpoint=endpoint, endpoint_id=endpoint_id)

    @translated("update endpoint")
    def update_endpoint(self, endpoint: Any, paths: list[str]) -> Any:
        from google.protobuf import field_mask_pb2

        mask = field_mask_pb2.FieldMask(paths=paths)
        return self.endpoints.update_endpoint(endpoint=endpoint, update_mask=mask)

    @translated("delete endpoint")
    def delete_endpoint(self, name: str) -> Any:
        return self.endpoints.delete_endpoint(name=name)

    @translated("deploy model")
    def deploy_model(self, endpoint: str, deployed: Any, traffic: dict[str, int] | None) -> Any:
        return self.endpoints.deploy_model(
            endpoint=endpoint, deployed_model=deployed, traffic_split=traffic or {}
        )

    @translated("undeploy model")
    def undeploy_model(self, endpoint: str, deployed_model_id: str, traffic: dict[str, int] | None) -> Any:
        return self.endpoints.undeploy_model(
            endpoint=endpoint, deployed_model_id=deployed_model_id, traffic_split=traffic or {}
        )

    @translated("mutate deployed model")
    def mutate_deployed_model(self, endpoint: str, deployed: Any, paths: list[str]) -> Any:
        from google.protobuf import field_mask_pb2

        return self.endpoints.mutate_deployed_model(
            endpoint=endpoint, deployed_model=deployed, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )

    @translated("upload model")
    def upload_model(self, model: Any) -> Any:
        return self.models.upload_model(parent=self.parent, model=model)

    @translated("get model")
    def get_model(self, name: str) -> Any:
        return self.models.get_model(name=name)

    @translated("list endpoints")
    def list_endpoint_ids(self) -> list[str]:
        """The id (last path segment) of every endpoint in the project and location."""
        request = v1().ListEndpointsRequest(parent=self.parent)
        return [e.name.rsplit("/", 1)[-1] for e in self.endpoints.list_endpoints(request=request)]

    @translated("list models")
    def list_models(self, label_filter: dict[str, str]) -> list[Any]:
        expr = " AND ".join(f'labels.{k}="{v}"' for k, v in sorted(label_filter.items()))
        request = v1().ListModelsRequest(parent=self.parent, filter=expr)
        return list(self.models.list_models(request=request))

    @translated("delete model")
    def delete_model(self, name: str) -> Any:
        return self.models.delete_model(name=name)

    @translated("predict")
    def predict(self, endpoint: str, instances: list[Any], parameters: Any = None) -> Any:
        return self.predictions.predict(endpoint=endpoint, instances=instances, parameters=parameters)

    # --- model deployment monitoring jobs (JobService) -------------------------------------
    @translated("create monitoring job")
    def create_monitoring_job(self, job: Any) -> Any:
        return self.jobs.create_model_deployment_monitoring_job(
            parent=self.parent, model_deployment_monitoring_job=job
        )

    @translated("list monitoring jobs")
    def list_monitoring_jobs(self, label_filter: dict[str, str]) -> list[Any]:
        expr = " AND ".join(f'labels.{k}="{v}"' for k, v in sorted(label_filter.items()))
        request = v1().ListModelDeploymentMonitoringJobsRequest(parent=self.parent, filter=expr)
        return list(self.jobs.list_model_deployment_monitoring_jobs(request=request))

    @translated("update monitoring job")
    def update_monitoring_job(self, job: Any, paths: list[str]) -> Any:
        from google.protobuf import field_mask_pb2

        return self.jobs.update_model_deployment_monitoring_job(
            model_deployment_monitoring_job=job, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )

    @translated("delete monitoring job")
    def delete_monitoring_job(self, name: str) -> Any:
        return self.jobs.delete_model_deployment_monitoring_job(name=name)

    # --- Cloud Storage (JSON API) --------------------------------------------------------
    def _storage(self) -> str:
        return self.emulator or STORAGE_URL

    @translated("check staged artifact")
    def object_exists(self, bucket: str, name: str) -> bool:
        from google.api_core import exceptions as gexc

        quoted = urllib.parse.quote(name, safe="")
        try:
            self._http("GET", f"{self._storage()}/storage/v1/b/{bucket}/o/{quoted}")
        except gexc.NotFound:
            return False
        return True

    @translated("stage artifact")
    def upload_object(self, bucket: str, name: str, data: bytes) -> None:
        self._http(
            "POST",
            f"{self._storage()}/upload/storage/v1/b/{bucket}/o",
            params={"uploadType": "media", "name": name},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )

    # --- Cloud Monitoring ----------------------------------------------------------------
    @translated("read metrics")
    def time_series(self, params: Mapping[str, str | list[str]]) -> list[dict[str, Any]]:
        base = self.emulator or MONITORING_URL
        url = f"{base}/v3/projects/{self.project}/timeSeries"
        series: list[dict[str, Any]] = []
        query: dict[str, str | list[str]] = dict(params)
        while True:
            body = self._http("GET", url, params=query).json()
            series.extend(body.get("timeSeries", []))
            token = body.get("nextPageToken")
            if not token:
                return series
            query["pageToken"] = token

    def close(self) -> None:
        for attr in ("endpoints", "models", "predictions", "jobs"):
            client = self.__dict__.pop(attr, None)
            if client is not None:
                client.transport.close()
        session = self.__dict__.pop("session", None)
        if session is not None:
            session.close()
