"""How many threads a model library may use inside one serving worker.

Model libraries size their native pools to the machine: scikit-learn's OpenMP regions
and XGBoost's predictor take one thread per core. A parallel region ends only when its
slowest thread does, so on a host where another process holds a core, or where several
workers each own a full-size pool, every call waits for a descheduled thread: on this
project's 2-core machine a HistGradientBoosting ``predict`` of 8 rows went from 1,770
calls/s with one thread to 70 with two while a neighbour kept one core busy, and even on
a quiet machine one thread was as fast or faster for every batch up to 64 rows. A
serving worker predicts small batches (``batching.MAX_ROWS``) and already has its event
loop on a core, so its model threads default to one; parallelism across requests comes
from running more workers, not wider pools.

``CLOUDSERVE_MODEL_THREADS`` overrides the default, capped at the cores this process may
run on (CPU affinity and the cgroup quota, which a container's CPU limit sets).
threadpoolctl, scikit-learn's own dependency and the library built for this, applies the
limit to every OpenMP and BLAS runtime loaded in the process; loaders whose library takes
a thread count per model (XGBoost's ``nthread``, scikit-learn's predictors) pass
:func:`model_threads` explicitly, which also covers libraries loaded later.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "CLOUDSERVE_MODEL_THREADS"
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup v2 quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    try:
        quota, period = _CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def model_threads(workers: int = 1) -> int:
    """Threads each model library gets in one of ``workers`` serving processes."""
    budget = max(1, usable_cores() // max(1, workers))
    raw = os.environ.get(ENV, "").strip()
    if raw.isdigit() and int(raw) >= 1:
        return min(int(raw), budget)
    return 1


def limit_native_pools(threads: int | None = None) -> None:
    """Cap the OpenMP/BLAS pools loaded so far, for the calling thread and (BLAS) globally.

    OpenMP's thread count is a per-thread setting, so this runs on the event loop thread
    and in every prediction thread's initializer."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # no scikit-learn in this image: nothing of ours uses OpenMP
        return
    threadpool_limits(limits=threads if threads is not None else model_threads())
