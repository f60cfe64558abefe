"""Drift monitoring: compare live traffic with the training data, feature by feature.

The baseline (CSV or Parquet) is profiled once into a compact stored profile
(``profile.py``); each window of current data -- capture logs or a file -- is read column
by column (``readers.py``), sorted once, and judged with PSI, Kolmogorov-Smirnov,
chi-square, Jensen-Shannon or Wasserstein (``stats.py``, ``engine.py``, where the
``method: auto`` rule is documented). ``report.py`` renders JSON and a self-contained
HTML page; ``command.py`` is the ``cloudserve monitor`` command group.

Names are imported lazily, so that ``import cloudserve.monitor.command`` (which the CLI
does to list commands) does not pay for numpy and scipy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloudserve.monitor.config import DriftConfig, parse_duration
    from cloudserve.monitor.engine import DriftOptions, choose_method, compare, evaluate
    from cloudserve.monitor.job import JobOutcome, run_once
    from cloudserve.monitor.profile import BaselineProfile, load_or_build, profile_baseline
    from cloudserve.monitor.readers import open_table
    from cloudserve.monitor.report import write_report
    from cloudserve.monitor.result import DriftResult, FeatureResult

_EXPORTS = {
    "DriftConfig": "config",
    "parse_duration": "config",
    "DriftOptions": "engine",
    "choose_method": "engine",
    "compare": "engine",
    "evaluate": "engine",
    "JobOutcome": "job",
    "run_once": "job",
    "BaselineProfile": "profile",
    "load_or_build": "profile",
    "profile_baseline": "profile",
    "open_table": "readers",
    "write_report": "report",
    "DriftResult": "result",
    "FeatureResult": "result",
}

__all__ = [
    "BaselineProfile",
    "DriftConfig",
    "DriftOptions",
    "DriftResult",
    "FeatureResult",
    "JobOutcome",
    "choose_method",
    "compare",
    "evaluate",
    "load_or_build",
    "open_table",
    "parse_duration",
    "profile_baseline",
    "run_once",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cloudserve.monitor' has no attribute {name!r}")
    return getattr(import_module(f"cloudserve.monitor.{module}"), name)
