"""Blob storage for the emulator: enough of the Blob REST API for azure-ai-ml's uploads.

azure-ai-ml uploads a local model or code directory to the workspace's default datastore
(``workspaceblobstore``) under ``LocalUpload/<hash>/<dir>/``: it lists the prefix to see
whether the same content is already there, PUTs each file (one shot, or blocks plus a
block list for large ones) and writes the upload's metadata.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from cloudserve_azureml.emulator.state import EmulatorState, now_iso

Reply = tuple[int, dict[str, str], str | bytes]


class BlobStore:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._blocks: dict[str, bytes] = {}
        self._metadata: dict[str, dict[str, str]] = {}

    def __call__(self, request: Any) -> Reply:
        status, headers, body = self._handle(request)
        if request.method.upper() == "HEAD":  # a HEAD reply has no body to wait for
            headers.pop("Content-Length", None)
            body = b""
        return status, headers, body

    def _handle(self, request: Any) -> Reply:
        parts = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = unquote(parts.path).lstrip("/")
        container, _, blob = path.partition("/")
        method = request.method.upper()
        with self.state.lock:
            self.state.calls.append((method, f"blob:/{path}"))
            # Any container: the workspace's own, and the temporary ones Azure ML hands out
            # (with a SAS) for code snapshots through startPendingUpload.
            if not blob:
                return self._container(container, method, query)
            key = f"{container}/{blob}"
            if method == "PUT":
                return self._put(key, query, request)
            if method in ("GET", "HEAD"):
                if key not in self.state.blobs:
                    status, headers, body = _xml_error(404, "BlobNotFound")
                    return status, headers, b"" if method == "HEAD" else body
                data = self.state.blobs[key]
                headers = self._props(key, data)
                if method == "HEAD":  # no body follows, so no Content-Length to wait for
                    headers.pop("Content-Length")
                    return 200, headers, b""
                return 200, headers, data
            if method == "DELETE":
                self.state.blobs.pop(key, None)
                return 202, {"x-ms-request-id": "emulated"}, b""
        return _xml_error(400, "UnsupportedHttpVerb")

    def _props(self, key: str, data: bytes) -> dict[str, str]:
        headers = {
            "Content-Length": str(len(data)),
            "Content-Type": "application/octet-stream",
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
            "ETag": f'"0x{abs(hash(data)):X}"',
            "x-ms-blob-type": "BlockBlob",
            "x-ms-request-id": "emulated",
            "x-ms-version": "2021-08-06",
        }
        for k, v in self._metadata.get(key, {}).items():
            headers[f"x-ms-meta-{k}"] = v
        return headers

    def _put(self, key: str, query: dict[str, str], request: Any) -> Reply:
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        comp = query.get("comp")
        if comp == "block":
            self._blocks[f"{key}#{query['blockid']}"] = body
        elif comp == "blocklist":
            ids = _block_ids(body.decode())
            self.state.blobs[key] = b"".join(self._blocks.pop(f"{key}#{i}", b"") for i in ids)
        elif comp == "metadata":
            self._metadata[key] = _meta_headers(request.headers)
        else:
            self.state.blobs[key] = bytes(body)
            self._metadata[key] = _meta_headers(request.headers)
        status = 200 if comp == "metadata" else 201
        return (
            status,
            {
                "ETag": '"0x1"',
                "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
                "x-ms-request-id": "emulated",
                "x-ms-request-server-encrypted": "true",
            },
            b"",
        )

    def _container(self, container: str, method: str, query: dict[str, str]) -> Reply:
        if query.get("comp") != "list":
            return 200, {"x-ms-request-id": "emulated"}, b""
        prefix = f"{container}/{query.get('prefix', '')}"
        items = []
        for key, data in sorted(self.state.blobs.items()):
            if key.startswith(prefix):
                name = escape(key.split("/", 1)[1])
                meta = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self._metadata.get(key, {}).items())
                items.append(
                    f"<Blob><Name>{name}</Name><Properties><Last-Modified>{now_iso()}</Last-Modified>"
                    f"<Content-Length>{len(data)}</Content-Length><BlobType>BlockBlob</BlobType>"
                    f"</Properties><Metadata>{meta}</Metadata></Blob>"
                )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="'
            f'{container}"><Prefix>{escape(query.get("prefix", ""))}</Prefix>'
            f"<Blobs>{''.join(items)}</Blobs><NextMarker /></EnumerationResults>"
        )
        return 200, {"Content-Type": "application/xml", "x-ms-request-id": "emulated"}, xml


def _meta_headers(headers: Any) -> dict[str, str]:
    return {k[len("x-ms-meta-") :]: v for k, v in headers.items() if k.lower().startswith("x-ms-meta-")}


def _block_ids(xml: str) -> list[str]:
    import re

    return re.findall(r"<(?:Latest|Committed|Uncommitted)>([^<]+)</", xml)


def _xml_error(status: int, code: str) -> Reply:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{code}</Message></Error>'
    )
    return (
        status,
        {"Content-Type": "application/xml", "x-ms-error-code": code, "x-ms-request-id": "emulated"},
        body,
    )
