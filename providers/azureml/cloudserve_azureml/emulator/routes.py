"""ARM routes of the Azure ML emulator, in the order the azure-ai-ml client meets them."""

from __future__ import annotations

import re
from typing import Any

from cloudserve_azureml.emulator.arm import (
    _WS,
    ArmRouter,
    EmulatedError,
    Reply,
    _json,
    _not_found,
    check_name,
    check_tags,
    check_traffic,
)
from cloudserve_azureml.emulator.state import (
    INSTANCES_MIN,
    MANAGED_ONLINE_SKUS,
    MODEL_REF_RE,
    spelled,
    version_key,
)

Query = dict[str, list[str]]
Body = dict[str, Any]
M = re.Match[str]

_ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
_DEPLOYMENT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
# A deployment field newer than an api-version is left out of replies at that api-version:
# dataCollector first appears in the REST API at 2023-04-01-preview, and azure-ai-ml still
# lists an endpoint's deployments at 2022-02-01-preview (OnlineEndpointOperations.get).
_DEPLOYMENT_FIELDS_SINCE = {"dataCollector": "2023-04-01-preview"}
# Collection.dataCollectionMode (REST DataCollectionMode); azure-ai-ml sends "enabled".
_COLLECTION_MODES = ("Enabled", "Disabled")


def register(router: ArmRouter) -> None:
    add = router.add
    add("GET", _WS, workspace)
    add("GET", _WS + r"/datastores", datastores)
    add("GET", _WS + r"/datastores/(?P<name>[^/]+)", datastore)
    add("POST", _WS + r"/datastores/(?P<name>[^/]+)/listSecrets", datastore_secrets)
    add(
        "GET",
        r"/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/locations/[^/]+"
        r"/mfeOperation(?:sStatus|Results)/(?P<op>[^/]+)",
        operation,
    )
    add("GET", _WS + r"/onlineEndpoints", list_children)
    add("GET", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)", get_resource)
    add("PUT", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)", put_endpoint)
    add("PATCH", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)", patch_endpoint)
    add("DELETE", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)", delete_endpoint)
    add("POST", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)/listKeys", endpoint_keys)
    add("POST", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)/token", endpoint_token)
    add("GET", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)/deployments", list_children)
    add("GET", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<dep>[^/]+)", get_resource)
    add("PUT", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<dep>[^/]+)", put_deployment)
    add("PATCH", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<dep>[^/]+)", patch_deployment)
    add("DELETE", _WS + r"/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<dep>[^/]+)", delete_deployment)
    for kind in ("models", "environments", "codes", "data"):
        add("GET", _WS + rf"/{kind}", list_children)
        add("GET", _WS + rf"/{kind}/(?P<name>[^/]+)", get_resource)
        add("PUT", _WS + rf"/{kind}/(?P<name>[^/]+)", put_container)
        add("DELETE", _WS + rf"/{kind}/(?P<name>[^/]+)", delete_asset)
        add("GET", _WS + rf"/{kind}/(?P<name>[^/]+)/versions", list_versions)
        add("GET", _WS + rf"/{kind}/(?P<name>[^/]+)/versions/(?P<ver>[^/]+)", get_resource)
        add("PUT", _WS + rf"/{kind}/(?P<name>[^/]+)/versions/(?P<ver>[^/]+)", put_version)
        add("DELETE", _WS + rf"/{kind}/(?P<name>[^/]+)/versions/(?P<ver>[^/]+)", delete_asset)
        add(
            "POST",
            _WS + rf"/{kind}/(?P<name>[^/]+)/versions/(?P<ver>[^/]+)/startPendingUpload",
            pending_upload,
        )
    from cloudserve_azureml.emulator import monitor as _emulator_monitor
    from cloudserve_azureml.emulator import schedules as _emulator_schedules

    _emulator_monitor.register(router)
    _emulator_schedules.register(router)


# --- workspace and datastores ------------------------------------------------------------------
def workspace(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    s = r.state
    if m["ws"].lower() != s.workspace.lower() or m["rg"].lower() != s.resource_group.lower():
        raise _not_found("Workspace", m["ws"])
    storage = (
        f"/subscriptions/{s.subscription_id}/resourceGroups/{s.resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{s.storage_account}"
    )
    return _json(
        200,
        {
            "id": s.workspace_path,
            "name": s.workspace,
            "location": s.location,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "kind": "Default",
            "identity": {"type": "SystemAssigned"},
            "tags": {},
            "properties": {
                "friendlyName": s.workspace,
                "storageAccount": storage,
                "discoveryUrl": f"https://{s.location}.api.azureml.ms/discovery",
                "mlFlowTrackingUri": f"azureml://{s.location}.api.azureml.ms/mlflow/v1.0{s.workspace_path}",
                "workspaceId": "00000000-0000-0000-0000-00000000cafe",
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Enabled",
                "hbiWorkspace": False,
            },
            "systemData": {"createdAt": "2024-01-01T00:00:00Z", "lastModifiedAt": "2024-01-01T00:00:00Z"},
        },
    )


def _datastore_body(r: ArmRouter) -> dict[str, Any]:
    s = r.state
    return {
        "id": f"{s.workspace_path}/datastores/workspaceblobstore",
        "name": "workspaceblobstore",
        "type": "Microsoft.MachineLearningServices/workspaces/datastores",
        "properties": {
            "datastoreType": "AzureBlob",
            "accountName": s.storage_account,
            "containerName": s.container,
            "endpoint": "core.windows.net",
            "protocol": "https",
            "isDefault": True,
            "credentials": {"credentialsType": "AccountKey"},
            "serviceDataAccessAuthIdentity": "None",
        },
        "systemData": {"createdAt": "2024-01-01T00:00:00Z", "lastModifiedAt": "2024-01-01T00:00:00Z"},
    }


def datastores(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    return _json(200, {"value": [_datastore_body(r)]})


def datastore(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    if m["name"].lower() != "workspaceblobstore":
        raise _not_found("Datastore", m["name"])
    return _json(200, _datastore_body(r))


def datastore_secrets(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    # A fixed, obviously fake account key (base64 of "emulator-account-key").
    return _json(200, {"secretsType": "AccountKey", "key": "ZW11bGF0b3ItYWNjb3VudC1rZXk="})


def operation(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    op = r.state.operations.get(m["op"])
    if op is None:
        raise _not_found("Operation", m["op"])
    body = op.poll()
    headers = {"retry-after-ms": "1"} if body["status"] == "InProgress" else {}
    return _json(200, body, headers)


# --- generic reads ------------------------------------------------------------------------------
def as_of(resource: dict[str, Any], q: Query) -> dict[str, Any]:
    """The resource as the service shows it at the request's api-version."""
    version = (q.get("api-version") or [""])[0]
    if resource.get("type") != _DEPLOYMENT_TYPE or not version:
        return resource
    newer = {f for f, since in _DEPLOYMENT_FIELDS_SINCE.items() if version_key(version) < version_key(since)}
    if not newer & set(resource["properties"]):
        return resource
    return {**resource, "properties": {k: v for k, v in resource["properties"].items() if k not in newer}}


def get_resource(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    found = r.state.get(path)
    if found is None:
        raise _not_found(path.rsplit("/", 2)[-2].rstrip("s").capitalize(), path.rsplit("/", 1)[-1])
    return _json(200, as_of(found, q))


def list_children(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    return _json(200, {"value": [as_of(child, q) for child in r.state.children(path)]})


def list_versions(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    values = r.state.children(path)
    wanted_hash = (q.get("hash") or [""])[0]
    if wanted_hash:
        values = [
            v for v in values if (v["properties"].get("properties") or {}).get("hash_sha256") == wanted_hash
        ]
    order = (q.get("$orderBy") or q.get("$orderby") or [""])[0]
    if "desc" in order.lower():
        values = sorted(values, key=lambda v: v["systemData"]["createdAt"], reverse=True)
    top = (q.get("$top") or [""])[0]
    if top:
        values = values[: int(top)]
    return _json(200, {"value": values})


# --- endpoints --------------------------------------------------------------------------------
def _endpoint_props(r: ArmRouter, name: str, props: dict[str, Any], state: str) -> dict[str, Any]:
    s = r.state
    out = dict(props)
    out.update(
        provisioningState=state,
        scoringUri=f"https://{name}.{s.location}.inference.ml.azure.com/score",
        swaggerUri=f"https://{name}.{s.location}.inference.ml.azure.com/swagger.json",
    )
    out.setdefault("authMode", "Key")
    out.setdefault("traffic", {})
    out.setdefault("mirrorTraffic", {})
    return out


def put_endpoint(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    name = m["ep"]
    check_name("an endpoint", name)
    props = dict(b.get("properties") or {})
    old = r.state.get(path)
    if old is not None and old["properties"]["provisioningState"] in ("Creating", "Updating", "Deleting"):
        raise EmulatedError(
            409, "Conflict", f"Endpoint {name!r} is {old['properties']['provisioningState']}; retry later."
        )
    check_traffic(r.state, name, props)
    creating = old is None
    resource = r.tracked(
        path, b, _ENDPOINT_TYPE, _endpoint_props(r, name, props, "Creating" if creating else "Updating")
    )
    r.state.put(path, resource)

    def finish() -> None:
        resource["properties"]["provisioningState"] = "Succeeded"

    op = r.state.start_operation(finish)
    return _json(201 if creating else 200, resource, r.operation_headers(op.id))


def patch_endpoint(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    """Tags and identity only (REST PartialMinimalTrackedResourceWithIdentity): traffic
    and every other property change is a PUT of the whole endpoint."""
    old = r.state.get(path)
    if old is None:
        raise _not_found("Endpoint", m["ep"])
    check_tags(b.get("tags"))
    if "tags" in b:
        old["tags"] = b["tags"] or {}
    if b.get("identity"):
        old["identity"] = b["identity"]
    old["systemData"] = system_data_of(old)
    op = r.state.start_operation(lambda: None)
    return _json(202, None, r.operation_headers(op.id, location=True))


def system_data_of(resource: dict[str, Any]) -> dict[str, Any]:
    from cloudserve_azureml.emulator.state import system_data

    return system_data(resource.get("systemData"))


def delete_endpoint(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    old = r.state.get(path)
    if old is None:
        return _json(204, None)
    old["properties"]["provisioningState"] = "Deleting"
    op = r.state.start_operation(lambda: r.state.delete_tree(path))
    return _json(202, None, r.operation_headers(op.id, location=True))


def endpoint_keys(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    if r.state.get(path.rsplit("/", 1)[0]) is None:
        raise _not_found("Endpoint", m["ep"])
    return _json(200, {"primaryKey": "emulated-primary-key", "secondaryKey": "emulated-secondary-key"})


def endpoint_token(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    return _json(
        200,
        {
            "accessToken": "emulated-token",
            "tokenType": "Bearer",
            "expiryTimeUtc": 4102444800,
            "refreshAfterTimeUtc": 4102444800,
        },
    )


# --- deployments --------------------------------------------------------------------------------
def put_deployment(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    endpoint, name = m["ep"], m["dep"]
    check_name("a deployment", name)
    ep = r.state.get(r.state.endpoint_path(endpoint))
    if ep is None:
        raise _not_found("Endpoint", endpoint)
    props = dict(b.get("properties") or {})
    _check_deployment_refs(r, props)
    _check_capacity(b.get("sku"))
    old = r.state.get(path)
    if old is not None and old["properties"]["provisioningState"] in ("Creating", "Updating", "Deleting"):
        raise EmulatedError(
            409, "Conflict", f"Deployment {name!r} is {old['properties']['provisioningState']}."
        )
    creating = old is None
    props["provisioningState"] = "Creating" if creating else "Updating"
    for collection in ((props.get("dataCollector") or {}).get("collections") or {}).values():
        if isinstance(collection, dict) and "dataCollectionMode" in collection:
            collection["dataCollectionMode"] = spelled(collection["dataCollectionMode"], _COLLECTION_MODES)
    props.setdefault("scaleSettings", {"scaleType": "Default"})
    props.setdefault("endpointComputeType", "Managed")
    resource = r.tracked(path, b, _DEPLOYMENT_TYPE, props)
    r.state.put(path, resource)
    reason = r.state.failing_deployments.pop(name, None)
    error = {"code": "DeploymentFailed", "message": reason} if reason else None

    def finish() -> None:
        resource["properties"]["provisioningState"] = "Failed" if error else "Succeeded"

    op = r.state.start_operation(finish, error)
    return _json(201 if creating else 200, resource, r.operation_headers(op.id))


def _check_deployment_refs(r: ArmRouter, props: dict[str, Any]) -> None:
    """A deployment names its model, environment and code by ARM id; each must exist."""
    code = (props.get("codeConfiguration") or {}).get("codeId")
    for ref in (props.get("model"), props.get("environmentId"), code):
        if ref and ref.startswith("/subscriptions/") and r.state.get(ref) is None:
            raise EmulatedError(400, "BadArgument", f"Referenced asset {ref} does not exist.")
    sku = props.get("instanceType")
    if not sku:
        raise EmulatedError(400, "BadArgument", "instanceType is required for a managed online deployment.")
    if str(sku).lower() not in MANAGED_ONLINE_SKUS:
        raise EmulatedError(
            400,
            "BadArgument",
            f"instanceType {sku!r} is not a supported VM size for managed online endpoints.",
        )
    model = props.get("model")
    if model and not MODEL_REF_RE.match(str(model)):
        raise EmulatedError(
            400,
            "BadArgument",
            f"model {model!r} must be a model version ARM id or "
            "azureml://registries/<registry>/models/<name>/versions/<version>.",
        )


def _check_capacity(sku: Any) -> None:
    """The instance count (sku.capacity) of a managed online deployment: at least one."""
    capacity = (sku or {}).get("capacity") if isinstance(sku, dict) else None
    if capacity is not None and (not isinstance(capacity, int) or capacity < INSTANCES_MIN):
        raise EmulatedError(
            400,
            "BadArgument",
            f"sku.capacity {capacity!r}: a deployment needs at least {INSTANCES_MIN} instance.",
        )


def patch_deployment(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    old = r.state.get(path)
    if old is None:
        raise _not_found("Deployment", m["dep"])
    check_tags(b.get("tags"))  # tags and sku only (REST PartialMinimalTrackedResourceWithSku)
    _check_capacity(b.get("sku"))
    if "sku" in b:
        old["sku"] = b["sku"]
    if "tags" in b:
        old["tags"] = b["tags"] or {}
    old["systemData"] = system_data_of(old)
    op = r.state.start_operation(lambda: None)
    return _json(202, None, r.operation_headers(op.id, location=True))


def delete_deployment(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    old = r.state.get(path)
    if old is None:
        raise _not_found("Deployment", m["dep"])
    ep = r.state.get(r.state.endpoint_path(m["ep"])) or {"properties": {}}
    name = old["name"]
    if (ep["properties"].get("traffic") or {}).get(name) or (ep["properties"].get("mirrorTraffic") or {}).get(
        name
    ):
        raise EmulatedError(
            400,
            "BadArgument",
            f"Deployment {name!r} still receives traffic; set its traffic to 0 before deleting it.",
        )
    old["properties"]["provisioningState"] = "Deleting"
    op = r.state.start_operation(lambda: r.state.delete_tree(path))
    return _json(202, None, r.operation_headers(op.id, location=True))


# --- assets: models, environments, code --------------------------------------------------------
_ASSET_TYPES = {"models": "models", "environments": "environments", "codes": "codes", "data": "data"}


def put_container(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    kind = path.rsplit("/", 2)[-2]
    resource = r.proxy(path, b, f"Microsoft.MachineLearningServices/workspaces/{kind}")
    resource["properties"].setdefault("latestVersion", None)
    r.state.put(path, resource)
    return _json(200, resource)


def put_version(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    kind = path.rsplit("/", 4)[-4]
    old = r.state.get(path)
    new_props = b.get("properties") or {}
    # Asset versions are immutable; a re-PUT of the same content is accepted.
    changed = old is not None and _asset_content(old["properties"]) != _asset_content(new_props)
    if changed and kind in ("models", "environments"):
        what = f"{kind[:-1].capitalize()} version {m['name']}:{m['ver']}"
        raise EmulatedError(409, "Conflict", f"{what} already exists with different content.")
    resource = r.proxy(path, b, f"Microsoft.MachineLearningServices/workspaces/{kind}/versions")
    if kind == "models":
        resource["properties"].setdefault("flavors", {})
    r.state.put(path, resource)
    container = path.rsplit("/", 2)[0]
    if r.state.get(container) is None:
        r.state.put(
            container,
            r.proxy(container, {"properties": {}}, f"Microsoft.MachineLearningServices/workspaces/{kind}"),
        )
    r.state.get(container)["properties"]["latestVersion"] = m["ver"]  # type: ignore[index]
    return _json(200, resource)


def pending_upload(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    """A temporary blob location with a SAS credential, for code snapshots."""
    import uuid

    s = r.state
    # A temporary container, as the service hands out; the SDK uploads to its root.
    blob_uri = f"https://{s.storage_account}.blob.core.windows.net/{uuid.uuid4().hex}"
    return _json(
        200,
        {
            "blobReferenceForConsumption": {
                "blobUri": blob_uri,
                "storageAccountArmId": f"/subscriptions/{s.subscription_id}/resourceGroups/{s.resource_group}"
                f"/providers/Microsoft.Storage/storageAccounts/{s.storage_account}",
                "credential": {"credentialType": "SAS", "sasUri": f"{blob_uri}?sv=2021-08-06&sig=emulated"},
            },
            "pendingUploadId": uuid.uuid4().hex,
            "pendingUploadType": "TemporaryBlobReference",
        },
    )


def _asset_content(props: dict[str, Any]) -> Any:
    keys = ("modelUri", "image", "condaFile", "codeUri", "build")
    return {k: props.get(k) for k in keys}


def delete_asset(r: ArmRouter, path: str, q: Query, b: Body, m: M) -> Reply:
    if r.state.get(path) is None:
        return _json(204, None)
    r.state.delete_tree(path)
    return _json(200, None)
