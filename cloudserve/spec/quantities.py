"""Kubernetes-style quantities and durations, parsed once at validation time.

Specs are written by people, so ``cpu: 500m``, ``memory: 4Gi`` and ``bake: 10m`` read
naturally; everything downstream works with plain numbers (cores, MiB, seconds).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_MEMORY_UNITS = {
    "": 1 / (1024 * 1024),
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024 * 1024,
    "K": 1000 / (1024 * 1024),
    "M": 1000**2 / (1024 * 1024),
    "G": 1000**3 / (1024 * 1024),
    "T": 1000**4 / (1024 * 1024),
}
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?\s*$")
_CPU_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m)?\s*$")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
MAX_CPU = 1024.0
MAX_MEMORY_MIB = 16.0 * 1024 * 1024  # 16Ti
MAX_DURATION_SECONDS = 30 * 86400.0
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_memory_mib(value: Any) -> float:
    """``4Gi`` -> 4096.0 MiB. A bare number means bytes, as in Kubernetes."""
    if isinstance(value, bool):
        raise ValueError("expected a memory size such as 512Mi or 4Gi")
    if isinstance(value, int | float):
        mib = float(value) / (1024 * 1024)
    else:
        match = _MEMORY_RE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a memory size; write e.g. 512Mi, 4Gi or 16G")
        number, unit = match.groups()
        mib = float(number) * _MEMORY_UNITS[unit or ""]
    if not math.isfinite(mib) or mib <= 0:
        raise ValueError(f"memory must be a finite size greater than 0, not {value!r}")
    if mib < 1:
        raise ValueError(f"memory {value!r} is less than 1Mi (a bare number means bytes); write e.g. 512Mi")
    if mib > MAX_MEMORY_MIB:
        raise ValueError(f"memory {value!r} is more than {format_memory(MAX_MEMORY_MIB)}")
    return mib


def parse_cpu(value: Any) -> float:
    """``500m`` -> 0.5 cores; ``2`` -> 2.0."""
    if isinstance(value, bool):
        raise ValueError("expected a CPU count such as 2 or 500m")
    if isinstance(value, int | float):
        cores = float(value)
    else:
        match = _CPU_RE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a CPU amount; write e.g. 2, 0.5 or 500m")
        number, milli = match.groups()
        if milli and "." in number:
            raise ValueError(
                f"{value!r}: millicores are whole numbers (1.5m would be 0.0015 cores); "
                "write e.g. 1500m or 1.5"
            )
        cores = float(number) / (1000 if milli else 1)
    if not math.isfinite(cores) or cores <= 0:
        raise ValueError(f"cpu must be a finite number greater than 0, not {value!r}")
    if cores < 0.001:
        raise ValueError(f"cpu {value!r} is less than 1m (0.001 cores)")
    if cores > MAX_CPU:
        raise ValueError(f"cpu {value!r} is more than {MAX_CPU} cores")
    return cores


def parse_duration_seconds(value: Any) -> float:
    """``10m`` -> 600.0, ``1h30m`` -> 5400.0. A bare number means seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        pos = 0
        seconds = 0.0
        for match in _DURATION_RE.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _DURATION_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 10m, 1h or 1h30m")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be finite and not negative, not {value!r}")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration {value!r} is longer than {format_duration(MAX_DURATION_SECONDS)}")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def format_memory(mib: float) -> str:
    if mib >= 1024 and mib % 1024 == 0:
        return f"{int(mib // 1024)}Gi"
    return f"{mib:g}Mi"


Cpu = Annotated[
    float,
    BeforeValidator(parse_cpu),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string"}],
            "description": "CPU cores: 2, 0.5 or 500m",
        }
    ),
]
MemoryMiB = Annotated[
    float,
    BeforeValidator(parse_memory_mib),
    PlainSerializer(format_memory, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$",
            "description": "Memory: 512Mi, 4Gi, 16G",
        }
    ),
]
Duration = Annotated[
    float,
    BeforeValidator(parse_duration_seconds),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"},
            ],
            "description": "Duration: 30s, 10m, 1h, 1h30m (a bare number is seconds)",
        }
    ),
]
