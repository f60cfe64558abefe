"""An offline Azure ML emulator for your own tests, driven by the real azure-ai-ml client.

It intercepts HTTP inside the test process (with the `responses` library) at
``https://management.azure.com`` (ARM: workspace, datastores, online endpoints and
deployments, models, environments, code assets, long-running operations, autoscale
settings, Azure Monitor metrics), at the workspace's blob storage host (asset uploads) and
at ``https://<endpoint>.<region>.inference.ml.azure.com`` (scoring). Scoring runs the
uploaded scoring script over the uploaded model, so predictions are real. Requests to
127.0.0.1 pass through; anything else fails, so a test can never reach the network.

Usage::

    from cloudserve_azureml.testing import AzureMLEmulator

    with AzureMLEmulator() as azure:
        spec.targets["azureml"] = azure.settings()  # subscription, group, workspace
        ...  # cloudserve apply / the Python API / AzureMLProvider, as in production
        azure.throttle(times=2, retry_after=0.01)    # the next two ARM calls get 429
        azure.fail_deployment("candidate", "ImagePullFailure: ...")
        azure.record_requests("churn", "candidate", 100, status=500)   # feed metrics

The emulator enforces Azure ML's rules (endpoint/deployment names, traffic totals, mirror
at most 50%, traffic only to existing deployments, no deleting a deployment that still
takes traffic, immutable asset versions) and answers with Azure's error shapes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any, ClassVar

from cloudserve_azureml.emulator.arm import ArmRouter, WireCheck, error_reply
from cloudserve_azureml.emulator.blob import BlobStore
from cloudserve_azureml.emulator.state import EmulatedError, EmulatorState, Fault

__all__ = ["AzureMLEmulator", "EmulatorCredential"]


class EmulatorCredential:
    """A TokenCredential that never leaves the process."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("emulated-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("emulated-token", int(time.time()) + 3600)

    def close(self) -> None:
        return None


def _mltable_schema(request: Any) -> tuple[int, dict[str, str], str]:
    """A minimal stand-in for the published MLTable schema (only ``paths`` is required), so
    the client's validation of an MLTable file runs offline."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["paths"],
        "properties": {"paths": {"type": "array", "minItems": 1}, "transformations": {"type": "array"}},
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(schema)


class AzureMLEmulator:
    """A stateful Azure ML workspace in memory. Use as a context manager.

    ``wire_check`` is called with every ARM exchange (method, url, request body, status,
    response body); ``default_wire_check`` is used when none is given, so a test suite can
    check every emulator it creates (this provider's tests install
    ``cloudserve_azureml.emulator.wire.WireChecker`` there)."""

    default_wire_check: ClassVar[WireCheck | None] = None

    def __init__(
        self,
        *,
        subscription_id: str = "00000000-0000-0000-0000-000000000001",
        resource_group: str = "cloudserve-rg",
        workspace: str = "cloudserve-ws",
        location: str = "eastus",
        lro_polls: int = 1,
        seed: int = 0,
        wire_check: WireCheck | None = None,
    ) -> None:
        self.state = EmulatorState(
            subscription_id=subscription_id,
            resource_group=resource_group,
            workspace=workspace,
            location=location,
            storage_account="cloudserveemulated",
            container="azureml-blobstore-emulated",
            lro_polls=lro_polls,
        )
        self.credential = EmulatorCredential()
        self._router = ArmRouter(self.state, wire_check or type(self).default_wire_check)
        self._blobs = BlobStore(self.state)
        self._random = random.Random(seed)
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._loaded: dict[str, Any] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> AzureMLEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        import responses

        from cloudserve_azureml import client

        self._saved_env = {k: os.environ.get(k) for k in ("AZUREML_CURRENT_CLOUD",)}
        self._tmp = tempfile.TemporaryDirectory(prefix="cloudserve-azureml-emu-")
        mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        for method in ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"):
            mock.add_callback(method, re.compile(r"https://management\.azure\.com/.*"), callback=self._router)
            mock.add_callback(
                method,
                re.compile(rf"https://{self.state.storage_account}\.blob\.core\.windows\.net/.*"),
                callback=self._blobs,
            )
        mock.add_callback(
            "POST", re.compile(r"https://[^/]+\.inference\.ml\.azure\.com/score.*"), callback=self._score
        )
        # azure-ai-ml fetches the MLTable JSON schema when it registers an mltable asset.
        mock.add_callback(
            "GET", re.compile(r"https://azuremlschemas(prod)?\.azureedge\.net/.*"), callback=_mltable_schema
        )
        mock.add_passthru(re.compile(r"https?://(127\.0\.0\.1|localhost)[:/].*"))
        mock.start()
        self._mock = mock
        client.set_credential_factory(lambda: self.credential)

    def stop(self) -> None:
        from cloudserve_azureml import client

        client.set_credential_factory(None)
        if self._mock is not None:
            self._mock.stop()
            self._mock.reset()
            self._mock = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- what tests configure ----------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        """The ``targets.azureml`` block pointing at this workspace."""
        s = self.state
        return {
            "subscription_id": s.subscription_id,
            "resource_group": s.resource_group,
            "workspace": s.workspace,
        }

    def inject_fault(
        self,
        status: int,
        *,
        method: str = "*",
        path: str = ".*",
        code: str | None = None,
        message: str = "injected fault",
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` ARM requests matching ``method`` and ``path`` (a regex) fail."""
        default = {
            429: "TooManyRequests",
            500: "InternalServerError",
            503: "ServiceUnavailable",
            409: "Conflict",
            403: "AuthorizationFailed",
        }.get(status, "Error")
        self.state.faults.append(
            Fault(
                method.upper(),
                re.compile(path, re.IGNORECASE),
                status,
                code or default,
                message,
                retry_after,
                times,
            )
        )

    def throttle(
        self, *, times: int = 1, retry_after: float = 0.01, method: str = "*", path: str = ".*"
    ) -> None:
        self.inject_fault(
            429,
            method=method,
            path=path,
            retry_after=retry_after,
            times=times,
            message="Rate limit is exceeded. Try again later.",
        )

    def fail_deployment(self, name: str, reason: str) -> None:
        """The next create/update of deployment ``name`` ends with provisioning Failed."""
        self.state.failing_deployments[name] = reason

    def record_requests(
        self, endpoint: str, deployment: str, count: int, *, status: int = 200, latency_ms: float = 10.0
    ) -> None:
        """Add requests to the metrics store, as if they had been scored just now."""
        for _ in range(count):
            self.state.record(endpoint, deployment, status, latency_ms)

    # --- what tests inspect -------------------------------------------------------------------
    @property
    def calls(self) -> list[tuple[str, str]]:
        return self.state.calls

    def resource_ids(self) -> list[str]:
        return [r["id"] for r in self.state.resources.values()]

    def endpoint(self, name: str) -> dict[str, Any] | None:
        return self.state.get(self.state.endpoint_path(name))

    def deployment(self, endpoint: str, name: str) -> dict[str, Any] | None:
        return self.state.get(f"{self.state.endpoint_path(endpoint)}/deployments/{name}")

    def autoscale_settings(self) -> list[dict[str, Any]]:
        return [r for r in self.state.resources.values() if r["type"].endswith("autoscaleSettings")]

    # --- scoring ------------------------------------------------------------------------------
    def _score(self, request: Any) -> tuple[int, dict[str, str], str]:
        host = re.match(r"https://([^.]+)\.", request.url)
        endpoint = host.group(1) if host else ""
        with self.state.lock:
            ep = self.endpoint(endpoint)
            if ep is None:
                return error_reply(EmulatedError(404, "EndpointNotFound", f"No endpoint {endpoint!r}."))
            auth = request.headers.get("Authorization", "")
            if auth not in (
                "Bearer emulated-primary-key",
                "Bearer emulated-secondary-key",
                "Bearer emulated-token",
            ):
                return error_reply(EmulatedError(401, "Unauthorized", "Invalid or missing key."))
            props = ep["properties"]
            chosen = request.headers.get("azureml-model-deployment") or self._route(
                props.get("traffic") or {}
            )
            if not chosen or self.deployment(endpoint, chosen) is None:
                return error_reply(
                    EmulatedError(
                        404,
                        "DeploymentNotFound",
                        f"No valid deployments to route to for endpoint {endpoint!r}.",
                    )
                )
            mirrors = (
                []
                if request.headers.get("azureml-model-deployment")
                else [
                    d
                    for d, pct in (props.get("mirrorTraffic") or {}).items()
                    if self._random.random() * 100 < pct
                ]
            )
        reply = self._score_on(endpoint, chosen, request.body)
        for mirror in mirrors:
            self._score_on(endpoint, mirror, request.body)
        return reply

    def _route(self, traffic: dict[str, int]) -> str | None:
        roll = self._random.random() * 100
        for name, pct in sorted(traffic.items()):
            if roll < pct:
                return name
            roll -= pct
        return None

    def _score_on(self, endpoint: str, name: str, body: Any) -> tuple[int, dict[str, str], str]:
        started = time.perf_counter()
        headers = {
            "Content-Type": "application/json",
            "azureml-model-deployment": name,
            "x-request-id": "emulated-score",
        }
        try:
            script, model = self._runtime(endpoint, name)
            # As azureml-inference-server-http does (server/routes.py): run(body) per request;
            # a Response it returns goes out as it is, anything else as JSON with a 200.
            script._model = model  # type: ignore[attr-defined]  # what init() sets from AZUREML_MODEL_DIR
            raw = body or "null"
            answer = script.run(raw.decode() if isinstance(raw, bytes) else raw)
            if hasattr(answer, "status_code") and hasattr(answer, "get_data"):
                status, text = answer.status_code, answer.get_data(as_text=True)
            else:
                status, text = 200, json.dumps(answer)
        except Exception as exc:  # the inference server answers 500 for any scoring failure
            status, text = 500, json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        self.state.record(endpoint, name, status, (time.perf_counter() - started) * 1000)
        return status, headers, text

    def _runtime(self, endpoint: str, name: str) -> tuple[types.ModuleType, Any]:
        """The deployment's scoring script and loaded model, from the uploaded blobs."""
        _provide_server_api()
        with self.state.lock:
            dep = self.deployment(endpoint, name)
            if dep is None or dep["properties"].get("provisioningState") != "Succeeded":
                raise RuntimeError(f"deployment {name!r} is not ready")
            key = f"{dep['id']}@{dep['systemData']['lastModifiedAt']}"
            if key in self._loaded:
                return self._loaded[key]  # type: ignore[no-any-return]
            props = dep["properties"]
            code = self.state.get((props.get("codeConfiguration") or {}).get("codeId") or "")
            model = self.state.get(props.get("model") or "")
            if code is None or model is None:
                raise NotImplementedError("the emulator scores only model + scoring-script deployments")
            root = Path(self._tmp.name if self._tmp else tempfile.mkdtemp()) / re.sub(r"\W", "_", key)
            code_dir = self._materialize(code["properties"]["codeUri"], root / "code")
            model_root = root / "model"
            self._materialize(model["properties"]["modelUri"], model_root, keep_last=True)
            script_name = props["codeConfiguration"]["scoringScript"]
            spec = importlib.util.spec_from_file_location(
                f"_emulated_score_{len(self._loaded)}", code_dir / script_name
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            env = dict(props.get("environmentVariables") or {})
            loaded = (module, module.build(str(model_root), env))
            self._loaded[key] = loaded
            return loaded

    def _materialize(self, uri: str, dest: Path, *, keep_last: bool = False) -> Path:
        """Copy the blobs under an asset URI into ``dest`` (Azure mounts a model folder
        under AZUREML_MODEL_DIR by its own name, hence ``keep_last``)."""
        datastore = re.search(r"/paths/(.+)$", uri)
        blob = re.match(r"https://[^/]+\.blob\.core\.windows\.net/(.+)$", uri)
        if datastore:
            prefix = f"{self.state.container}/{datastore.group(1).rstrip('/')}"
        elif blob:
            prefix = blob.group(1).rstrip("/")
        else:
            raise RuntimeError(f"cannot resolve asset URI {uri}")
        base = prefix.rsplit("/", 1)[0] if keep_last else prefix
        found = False
        for key, data in self.state.blobs.items():
            if key == prefix or key.startswith(prefix + "/"):
                target = dest / key[len(base) + 1 :] if keep_last else dest / key[len(prefix) + 1 :]
                if key == prefix and not keep_last:
                    target = dest / key.rsplit("/", 1)[-1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                found = True
        if not found:
            raise RuntimeError(f"no uploaded blobs under {uri}")
        return dest


class _AMLResponse:
    """Stands in for azureml-inference-server-http's AMLResponse (a flask Response: message,
    status_code, response_headers, json_str), which is installed only in Azure's image."""

    def __init__(
        self, message: Any, status_code: int, response_headers: Any = None, json_str: bool = False
    ) -> None:
        self.status_code = status_code
        self._text = json.dumps(message) if json_str or message is None else str(message)
        self.headers = dict(response_headers or {})

    def get_data(self, as_text: bool = False) -> Any:
        return self._text if as_text else self._text.encode()


def _provide_server_api() -> None:
    """Make ``azureml_inference_server_http.api.aml_response`` importable for score.py."""
    name = "azureml_inference_server_http.api.aml_response"
    if name in sys.modules or importlib.util.find_spec("azureml_inference_server_http") is not None:
        return
    for part in ("azureml_inference_server_http", "azureml_inference_server_http.api"):
        sys.modules.setdefault(part, types.ModuleType(part))
    module = types.ModuleType(name)
    module.AMLResponse = _AMLResponse  # type: ignore[attr-defined]
    sys.modules[name] = module
