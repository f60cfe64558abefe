"""The on-disk layout of one local deployment.

For the local target the state directory *is* the target: it holds what the server
should serve (endpoint.json, kept current by the server itself), the admin token, where
the server listens (server.json) and its log. Writes go through a temporary file and
``os.replace`` so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_STATE_DIR = "CLOUDSERVE_LOCAL_STATE_DIR"
DEFAULT_ROOT = Path("~/.cloudserve/local")

ENDPOINT_FILE = "endpoint.json"
TOKEN_FILE = "token"
SERVER_FILE = "server.json"
PROVIDER_FILE = "provider.json"  # what the provider records beside the server's state
LOG_DIR = "logs"
LOG_FILE = "server.log"
LOCK_FILE = "apply.lock"
LOCK_OWNER_FILE = "apply.lock.owner"
PROJECT_FILE = "project.json"  # {"spec_dir": ...}: the project whose deployment this is


def state_root(configured: str | None) -> Path:
    """Where deployments live: the spec's setting, else the environment, else the home dir."""
    raw = configured or os.environ.get(ENV_STATE_DIR) or str(DEFAULT_ROOT)
    return Path(raw).expanduser().resolve()


@dataclass(frozen=True)
class StateDir:
    """Paths of one deployment's state directory, ``<root>/<name>/``."""

    path: Path

    @property
    def endpoint(self) -> Path:
        return self.path / ENDPOINT_FILE

    @property
    def token_file(self) -> Path:
        return self.path / TOKEN_FILE

    @property
    def server(self) -> Path:
        return self.path / SERVER_FILE

    @property
    def provider(self) -> Path:
        return self.path / PROVIDER_FILE

    @property
    def log(self) -> Path:
        return self.path / LOG_DIR / LOG_FILE

    @property
    def lock(self) -> Path:
        return self.path / LOCK_FILE

    @property
    def lock_owner(self) -> Path:
        return self.path / LOCK_OWNER_FILE

    @property
    def project(self) -> Path:
        return self.path / PROJECT_FILE

    def owning_project(self) -> str | None:
        """The spec folder that created this deployment; None if made from Python objects
        (or by a cloudserve that did not record it)."""
        owner = (self.read_json(self.project) or {}).get("spec_dir")
        return str(owner) if owner else None

    def exists(self) -> bool:
        """A deployment exists once its desired state has been written."""
        return self.endpoint.is_file()

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log.parent.mkdir(exist_ok=True, mode=0o700)

    def token(self) -> str:
        """The admin token, created on first use with mode 0600 (never logged)."""
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError:
            pass
        self.ensure()
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use theirs
            return self.token_file.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        return token

    def read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        self.ensure()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, path)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def forget_server(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.server.unlink()

    def remove(self) -> None:
        """Remove everything; the lock file goes too (its holder's fd stays valid)."""
        shutil.rmtree(self.path, ignore_errors=True)


def state_dir(root: Path, name: str) -> StateDir:
    return StateDir(root / name)
