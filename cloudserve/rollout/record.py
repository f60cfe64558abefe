"""The rollout record and the deployment lease, kept in endpoint tags.

Tags are the one place every target lets us keep state on the endpoint itself, so any
process on any machine can see, resume or abort a rollout another one started. Values are
encoded for the strictest target (Vertex AI labels: at most 63 characters of lowercase
letters, digits, '_' and '-'); longer values are chunked over numbered keys.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cloudserve import tags as T

MAX_VALUE = 63
STATES = ("running", "paused", "rolledback", "aborted", "done", "promote", "abort")
# promote/abort are requests written by `cloudserve rollout promote|abort` for the process
# that runs the rollout to carry out; the others are states.
#: A state as a sentence says it ("rollout rolled back"); the others read as they are.
STATE_WORDS = {"rolledback": "rolled back", "promote": "promoting", "abort": "aborting"}


def encode_split(split: Mapping[str, int]) -> str:
    """{'stable': 90, 'candidate': 10} -> 'stable_90_candidate_10' (names have no '_')."""
    return "_".join(f"{name}_{pct}" for name, pct in sorted(split.items()))


def decode_split(text: str) -> dict[str, int]:
    parts = [p for p in text.split("_") if p != ""]
    if len(parts) % 2:
        raise ValueError(f"malformed split {text!r}")
    return {parts[i]: int(parts[i + 1]) for i in range(0, len(parts), 2)}


def encode_steps(steps: tuple[int, ...] | list[int]) -> str:
    """Rising percents 1..100 as a hex bitmask: (10, 50, 100) -> '8000000000002000000000200'."""
    return f"{sum(1 << (p - 1) for p in steps):x}"


def decode_steps(text: str) -> tuple[int, ...]:
    mask = int(text, 16)
    return tuple(p for p in range(1, 101) if mask >> (p - 1) & 1)


def _steps_of(tags: Mapping[str, str], head: Mapping[str, str]) -> tuple[int, ...]:
    """From the steps label; records written before it kept them in the head ('k')."""
    if T.ROLLOUT + "-steps" in tags:
        return decode_steps(tags[T.ROLLOUT + "-steps"])
    return tuple(int(x) for x in head["k"].split("-") if x)


def chunk(key: str, value: str | None) -> dict[str, str | None]:
    """``value`` spread over key, key-2, key-3 ... (None clears the first four)."""
    if value is None:
        return {key: None, **{f"{key}-{i}": None for i in range(2, 5)}}
    pieces = [value[i : i + MAX_VALUE] for i in range(0, len(value), MAX_VALUE)] or [""]
    if len(pieces) > 4:
        raise ValueError(f"{key} needs {len(pieces)} tags; at most 4 are used")
    out: dict[str, str | None] = {key if i == 0 else f"{key}-{i + 1}": p for i, p in enumerate(pieces)}
    for i in range(len(pieces), 4):
        out[key if i == 0 else f"{key}-{i + 1}"] = None
    return out


def unchunk(tags: Mapping[str, str], key: str) -> str | None:
    if key not in tags:
        return None
    return tags[key] + "".join(tags.get(f"{key}-{i}", "") for i in range(2, 5))


@dataclass(frozen=True)
class RolloutRecord:
    """What a rollout has done so far: enough to resume, explain or undo it."""

    state: str
    step: int  # index into steps of the step whose traffic is (being) set
    steps: tuple[int, ...]
    spec_hash: str  # the spec being rolled out
    previous: dict[str, int] = field(default_factory=dict)  # the split before the rollout
    target: dict[str, int] = field(default_factory=dict)  # the spec's split
    new_versions: tuple[str, ...] = ()  # versions this rollout created
    reason: str = ""  # why it stopped (a gate's verdict), compacted
    updated: int = 0  # epoch seconds

    def with_(self, **changes: object) -> RolloutRecord:
        return replace(self, updated=int(time.time()), **changes)  # type: ignore[arg-type]

    def to_tags(self) -> dict[str, str | None]:
        # The head stays under 45 characters; the steps, which may number up to 100, go in
        # their own label as a bitmask of the percents (at most 25 hex digits).
        head = f"s_{self.state}_n_{self.step}_h_{self.spec_hash[:12]}_t_{self.updated}"
        out: dict[str, str | None] = {T.ROLLOUT: head, T.ROLLOUT + "-steps": encode_steps(self.steps)}
        out.update(chunk(T.ROLLOUT + "-from", encode_split(self.previous)))
        out.update(chunk(T.ROLLOUT + "-to", encode_split(self.target)))
        out.update(chunk(T.ROLLOUT + "-new", "_".join(self.new_versions) or None))
        out.update(chunk(T.ROLLOUT + "-why", _b32(_clip(self.reason, 150)) or None))
        return out

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> RolloutRecord | None:
        head = tags.get(T.ROLLOUT)
        if not head:
            return None
        parts = head.split("_")
        try:
            fields = {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}
            new = unchunk(tags, T.ROLLOUT + "-new")
            return cls(
                state=fields["s"],
                step=int(fields["n"]),
                steps=_steps_of(tags, fields),
                spec_hash=fields["h"],
                previous=decode_split(unchunk(tags, T.ROLLOUT + "-from") or ""),
                target=decode_split(unchunk(tags, T.ROLLOUT + "-to") or ""),
                new_versions=tuple(v for v in (new or "").split("_") if v),
                reason=_unb32(unchunk(tags, T.ROLLOUT + "-why") or ""),
                updated=int(fields.get("t", "0")),
            )
        except (KeyError, ValueError, IndexError):
            return None

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "step": self.step + 1,
            "steps": list(self.steps),
            "previous": self.previous,
            "target": self.target,
            "new_versions": list(self.new_versions),
            "reason": self.reason,
            "updated": self.updated,
        }


def largest_record_tag_count(versions: tuple[str, ...]) -> int:
    """How many tags the largest rollout record over these versions takes (every version in
    both splits, all new, the longest reason): what a target's tag budget must leave room for."""
    everyone = dict.fromkeys(versions, 100)
    record = RolloutRecord(
        state="paused",
        step=5,
        steps=(1, 5, 10, 25, 50, 100),
        spec_hash="x" * 16,
        previous=everyone,
        target=everyone,
        new_versions=versions,
        reason="x" * 150,
    )
    return len(record.to_tags())


def clear_record_tags() -> dict[str, str | None]:
    out: dict[str, str | None] = {T.ROLLOUT: None, T.ROLLOUT + "-steps": None}
    for suffix in ("-from", "-to", "-new", "-why"):
        out.update(chunk(T.ROLLOUT + suffix, None))
    return out


def _clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-8 bytes (the tag budget counts bytes), marked "..." when
    cut so a reader knows there is more."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore").rstrip() + "..."


def _b32(text: str) -> str:
    """Free text in label-safe characters (lowercase base32), reversibly."""
    return base64.b32encode(text.encode()).decode().rstrip("=").lower()


def _unb32(text: str) -> str:
    if not text:
        return ""
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        return base64.b32decode(padded).decode(errors="replace")
    except (ValueError, binascii.Error):
        return ""


def tag_safe(text: str) -> str:
    """Lowercase [a-z0-9_-] with '_' for every other run of characters."""
    return re.sub(r"[^a-z0-9-]+", "_", text.lower()).strip("_")


# --- lease ------------------------------------------------------------------------------


def _host() -> str:
    return tag_safe(socket.gethostname()).replace("_", "-")[:30] or "host"


def holder_id() -> str:
    return f"{_host()}-{os.getpid()}"


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: assume alive
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class Lease:
    holder: str
    expires: int  # epoch seconds

    def encode(self) -> str:
        return f"{self.holder}_{self.expires}"

    @classmethod
    def decode(cls, value: str | None) -> Lease | None:
        if not value or "_" not in value:
            return None
        holder, _, expires = value.rpartition("_")
        try:
            return cls(holder, int(expires))
        except ValueError:
            return None

    def active(self, now: float | None = None) -> bool:
        return self.expires > (time.time() if now is None else now)

    def holder_gone(self) -> bool:
        """The holder was a process on this machine that no longer runs. Its lease is then
        stale at once rather than at its expiry, so the next apply after a killed rollout
        resumes it; a holder on another machine is trusted until the lease expires."""
        host, _, pid = self.holder.rpartition("-")
        return os.name == "posix" and host == _host() and pid.isdigit() and not _pid_running(int(pid))
