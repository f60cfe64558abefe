"""Content digests of model artifacts, for content-addressed staging and change detection."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

# bq://: a BigQuery table, which Vertex AI reads as a drift baseline.
REMOTE_SCHEMES = ("s3://", "gs://", "bq://", "azureml://", "https://", "http://", "wasbs://", "abfss://")


def is_remote(uri: str) -> bool:
    return uri.startswith(REMOTE_SCHEMES)


def digest_path(path: Path) -> str:
    """sha256 over relative names and bytes of every file, in a stable order."""
    h = hashlib.sha256()
    if path.is_file():
        _feed_file(h, path)
        return h.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in sorted(files):
            file = Path(root) / name
            h.update(file.relative_to(path).as_posix().encode() + b"\0")
            _feed_file(h, file)
    return h.hexdigest()


def _feed_file(h: hashlib._Hash, file: Path) -> None:
    with file.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)


def artifact_digest(uri: str, base_dir: Path | None = None) -> str:
    """The digest of a local artifact, or of the URI itself for remote ones (their content
    is the cloud's business; a new URI is a new model)."""
    if is_remote(uri):
        return hashlib.sha256(uri.encode()).hexdigest()
    path = resolve_local(uri, base_dir)
    if not path.exists():
        return hashlib.sha256(("missing:" + str(path)).encode()).hexdigest()
    return digest_path(path)


def resolve_local(uri: str, base_dir: Path | None = None) -> Path:
    path = Path(uri.removeprefix("file://"))
    with contextlib.suppress(RuntimeError):  # ~name of an unknown user: a plain relative path
        path = path.expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path.resolve()
