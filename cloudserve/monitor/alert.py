"""Drift alerts to a webhook: the channel that works the same on every target.

The payload carries a one-line ``text`` (what Slack- and Teams-style incoming webhooks
display) and the machine-readable verdict per drifted feature, so the same URL can feed
a chat channel or an automation.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

from cloudserve.monitor.result import DriftResult, describe

TIMEOUT_S = 10.0


class AlertError(RuntimeError):
    """The alert could not be delivered; drift itself was still found and reported."""


def alert_payload(result: DriftResult) -> dict[str, Any]:
    """The JSON body posted for a drifted window."""
    drifted = [f for f in result.features if f.drifted]
    return {
        "text": result.summary_lines()[0],
        "status": result.status,
        "current": result.current_source,
        "generated_at": result.generated_at,
        "drifted_features": [
            {
                "name": f.name,
                "method": f.method,
                "score": f.score,
                "threshold": f.threshold,
                "why": describe(f),
            }
            for f in drifted
        ],
    }


def send_webhook(url: str, result: DriftResult, timeout: float = TIMEOUT_S) -> None:
    """POST the alert; raises AlertError on any failure so callers can warn and go on."""
    if urlparse(url).scheme not in ("http", "https"):
        raise AlertError(f"webhook must be an http(s) URL: {url}")
    body = json.dumps(alert_payload(result)).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status >= 300:
                raise AlertError(f"webhook answered {response.status}")
    except (urllib.error.URLError, OSError) as exc:
        raise AlertError(f"{url}: {exc}") from exc
