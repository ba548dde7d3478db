"""Alerts on failure, abandonment and staleness: SMTP e-mail, JSON webhook, healthchecks-style pings.

Interface used by the run wrapper (ops.runner) and status; delivery failures are logged, never raised.
(Placeholder interface: the delivery channels land with issue 3.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AlertEvent:
    job: str
    kind: str  # failed | abandoned | stale | blocked | partial
    message: str
    run_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def notify(ctx, event: AlertEvent) -> list[tuple[str, bool, str | None]]:
    """Send ``event`` on every configured channel; returns (channel, ok, error) per attempt."""
    return []


def ping(ctx, job: str, what: str, run_id: int | None = None) -> None:
    """healthchecks.io-style ping: what = 'start' or an exit code as text ('0', '1', ...)."""
    return None
