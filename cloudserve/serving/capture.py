"""Request/response capture as JSON Lines, sampled, one file per hour.

Records are appended to an in-memory list on the event loop and written by a periodic
flush in a worker thread, so a slow disk never delays an answer. Each line is
``{"ts", "version", "shadow", "request", "response", "latency_ms"}``; files are named
``YYYY-MM-DD-HH.jsonl`` (UTC), the hour the record was taken, which keeps drift jobs able
to read a time range without scanning everything.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import orjson


class CaptureWriter:
    def __init__(self, destination: Path, sample_percent: float) -> None:
        self.destination = destination
        self.sample_percent = float(sample_percent)
        self._buffer: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()  # flushes may come from the loop or a thread

    def config(self) -> dict[str, Any]:
        return {"sample_percent": self.sample_percent, "destination": str(self.destination)}

    def sampled(self) -> bool:
        pct = self.sample_percent
        return pct >= 100 or (pct > 0 and random.random() * 100 < pct)

    def record(self, version: str, shadow: bool, request: Any, response: Any, latency_ms: float) -> None:
        now = time.time()
        line = orjson.dumps(
            {
                "ts": now,
                "version": version,
                "shadow": shadow,
                "request": request,
                "response": response,
                "latency_ms": round(latency_ms, 3),
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        self._buffer.append((now, line))

    def flush(self) -> int:
        """Write buffered records; returns how many were written."""
        with self._lock:
            buffer, self._buffer = self._buffer, []
            if not buffer:
                return 0
            self.destination.mkdir(parents=True, exist_ok=True)
            files: dict[str, list[bytes]] = {}
            for ts, line in buffer:
                name = time.strftime("%Y-%m-%d-%H", time.gmtime(ts)) + ".jsonl"
                files.setdefault(name, []).append(line)
            for name, lines in files.items():
                with (self.destination / name).open("ab") as fh:
                    fh.write(b"\n".join(lines) + b"\n")
            return len(buffer)
