"""One scheduled drift evaluation, as every runner of the engine performs it.

The local target's process, a SageMaker processing job started by EventBridge, or a CI
job all do the same thing each interval: judge the last window of captured requests
against the stored baseline profile, keep a report, and alert on drift. Keeping that
sequence here means each of them calls one function instead of re-assembling it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cloudserve.monitor.alert import AlertError, send_webhook
from cloudserve.monitor.config import DriftConfig
from cloudserve.monitor.engine import DriftOptions, evaluate
from cloudserve.monitor.report import write_report
from cloudserve.monitor.result import DriftResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutcome:
    """What one run produced: the verdict, where its report went, whether the alert went."""

    result: DriftResult
    report_dir: Path | None
    alerted: bool


def run_once(
    config: DriftConfig,
    capture: str | Path,
    *,
    version: str | None = None,
    store: str | Path | None = None,
    reports: str | Path | None = None,
    now: datetime | None = None,
) -> JobOutcome:
    """Judge the last schedule interval of ``capture``; report and alert as configured.

    Reports go to ``reports/<UTC time>/`` so a history accumulates; an alert that cannot
    be delivered is logged, never raised, because the verdict itself is still good.
    """
    moment = now or datetime.now(UTC)
    window = config.window
    options = DriftOptions(
        method=config.method,
        threshold=config.threshold,
        thresholds=config.thresholds,
        features=config.features,
    )
    result = evaluate(
        config.baseline,
        capture,
        options,
        store=store,
        version=version,
        since=moment - window if window is not None else None,
    )
    if result.judged_nothing:
        log.warning("drift run judged no feature: %s", result.reason)
    report_dir = None
    if reports is not None:
        report_dir = Path(reports) / moment.strftime("%Y%m%dT%H%M%SZ")
        write_report(result, report_dir)
    alerted = False
    if result.drifted and config.webhook:
        try:
            send_webhook(config.webhook, result)
            alerted = True
        except AlertError as exc:
            log.warning("drift alert not delivered: %s", exc)
    return JobOutcome(result=result, report_dir=report_dir, alerted=alerted)
