"""The emulated Cloud Storage JSON API calls: what cloudserve stages and what its serving
runtime (google-cloud-storage, through ``STORAGE_EMULATOR_HOST``) fetches.

Calls (https://cloud.google.com/storage/docs/json_api/v1): ``buckets.get``, ``objects.get``
(metadata, or the bytes with ``alt=media``, also at the ``/download`` path),
``objects.list`` and the simple media upload ``objects.insert`` (``uploadType=media``).
"""

from __future__ import annotations

import re
from typing import Any

from cloudserve_vertex.emulator.rules import RuleError, invalid

MEDIA = "__media__"  # a handler's reply that is raw bytes (a Cloud Storage download), not JSON
PREFIXES = ("/upload/storage/v1/", "/storage/v1/", "/download/storage/v1/")
_PATH = re.compile(
    r"^/(?:upload/|download/)?storage/v1/b/(?P<bucket>[^/]+)(?P<objects>/o(?:/(?P<name>.+))?)?$"
)


class CloudStorage:
    """Buckets as {bucket: {object name: bytes}}."""

    def __init__(self, buckets: list[str]) -> None:
        self.buckets: dict[str, dict[str, bytes]] = {b.removeprefix("gs://"): {} for b in buckets}

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, Any]:
        match = _PATH.match(path)
        if not match:
            raise RuleError(404, "NOT_FOUND", "Not Found")
        bucket, name = match["bucket"], match["name"]
        if bucket not in self.buckets:
            raise RuleError(404, "NOT_FOUND", "The specified bucket does not exist.")
        if method == "GET" and not match["objects"]:  # buckets.get (google-cloud-storage asks first)
            return _bucket(bucket)
        if method == "POST" and path.startswith("/upload/") and not name:
            if query.get("uploadType") != "media" or not query.get("name"):
                raise invalid("uploadType=media and name are required.")
            self.buckets[bucket][query["name"]] = body
            return _object(bucket, query["name"], body)
        if method == "GET" and name:
            data = self.buckets[bucket].get(name)
            if data is None:
                raise RuleError(404, "NOT_FOUND", f"No such object: {bucket}/{name}")
            if query.get("alt") == "media":  # a download: the object's bytes, not its metadata
                return {MEDIA: data}
            return _object(bucket, name, data)
        if method == "GET":  # objects.list: what the serving runtime uses to fetch AIP_STORAGE_URI
            prefix = query.get("prefix", "")
            objects = sorted(self.buckets[bucket].items())
            items = [_object(bucket, n, d) for n, d in objects if n.startswith(prefix)]
            return {"kind": "storage#objects", "items": items}
        # Not a call cloudserve makes; UNIMPLEMENTED (501) is the google.rpc code for it.
        raise RuleError(501, "UNIMPLEMENTED", f"The emulator does not implement {method} {path}.")

    def files_under(self, uri: str) -> dict[str, bytes]:
        """{path relative to the gs:// folder: bytes} for every object under it."""
        bucket, _, prefix = uri.removeprefix("gs://").partition("/")
        if bucket not in self.buckets:
            raise invalid(f"Artifact URI {uri}: bucket {bucket} does not exist or is not accessible.")
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        return {n[len(prefix) :]: d for n, d in self.buckets[bucket].items() if n.startswith(prefix)}


def _bucket(bucket: str) -> dict[str, Any]:
    return {
        "kind": "storage#bucket",
        "id": bucket,
        "name": bucket,
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}",
    }


def _object(bucket: str, name: str, data: bytes) -> dict[str, Any]:
    return {
        "kind": "storage#object",
        "bucket": bucket,
        "name": name,
        "size": str(len(data)),
        "id": f"{bucket}/{name}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{name}",
    }
