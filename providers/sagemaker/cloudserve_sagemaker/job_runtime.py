"""The drift engine as a SageMaker job receives it: one zip, staged once per content.

A drift job runs in the same prebuilt scikit-learn image as serving, which has no
cloudserve. Rather than pip-installing cloudserve from an index (none has it), the job gets
``cloudserve-runtime.zip`` as an input: cloudserve's source, a ``requirements.txt`` of the
engine's libraries pinned exactly (the ``monitor`` extra and everything it requires, as
installed here), and, with ``targets.sagemaker.offline``, their wheels, so the job needs no
index either. The job's shell line extracts it, installs the requirements and runs
``python -m cloudserve monitor run`` from the extracted source.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from cloudserve.serving.bundle import MONITOR_RUNTIME, pinned_closure, runtime_digest, runtime_files

RUNTIME_FILE = "cloudserve-runtime.zip"
WHEELS_DIR = "wheels"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest time: the archive is reproducible


def monitor_pins() -> list[str]:
    return pinned_closure(MONITOR_RUNTIME, {}, extra="monitor")


def requirements_text(offline: bool) -> str:
    head = ["--no-index", f"--find-links {WHEELS_DIR}"] if offline else []
    return "\n".join([*head, *monitor_pins()]) + "\n"


def content_digest(offline: bool) -> str:
    """What identifies the zip's content without building it: the runtime's source and the
    requirements (whose exact pins fix the wheels an offline zip carries)."""
    text = f"{RUNTIME_FILE};{runtime_digest()};{requirements_text(offline)}"
    return hashlib.sha256(text.encode()).hexdigest()


def pack_runtime(wheels: Sequence[Path] | None = None) -> bytes:
    """The zip's bytes: ``cloudserve/`` source, ``requirements.txt``, and ``wheels/`` when
    offline. Entries are sorted with fixed times, so equal content gives equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_entry("requirements.txt"), requirements_text(offline=wheels is not None))
        for name, path in runtime_files("cloudserve/"):
            archive.writestr(_entry(name), path.read_bytes())
        for wheel in sorted(wheels or (), key=lambda path: path.name):
            # Wheels are zips already: stored, not deflated again.
            archive.writestr(_entry(f"{WHEELS_DIR}/{wheel.name}"), wheel.read_bytes(), zipfile.ZIP_STORED)
    return buffer.getvalue()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info
