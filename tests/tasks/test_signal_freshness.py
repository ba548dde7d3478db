"""One staleness rule for signals: `status`, `turbomode signals` and the HTML report agree.

Fresh while the newest open signal is within signals.freshness_hours, or is for the last completed
NYSE session (a weekend does not make Friday's signals stale).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from turbomode.context import Context
from turbomode.store import signals as store
from turbomode.store.db import transaction

SUNDAY = datetime(2026, 1, 25, 20, 0, tzinfo=timezone.utc)
FRIDAY_AFTER_CLOSE = datetime(2026, 1, 23, 22, 0, tzinfo=timezone.utc)


def _signal(session: str, created: str) -> dict:
    return {"symbol": "AAA", "signal_type": "BUY", "confidence": 0.6, "entry_price": 100.0, "target_price": 104.0,
            "stop_loss": 98.0, "sector": "Energy", "created_at": created, "expires_at": "2026-02-06T21:00:00Z",
            "market_date": session, "expiry_date": "2026-02-06", "model_version": "v1", "data_source": "yfinance",
            "prob_buy": 0.6, "prob_sell": 0.1, "prob_hold": 0.3, "atr": 2.0}


def _verdicts(home, now) -> dict[str, bool]:
    """Is each of the three views stale at ``now``?"""
    from turbomode.report.build import collect
    from turbomode.tasks import status
    from turbomode.tasks.signals_view import view

    ctx = Context.load(home)
    try:
        return {"status": not status.collect(ctx, now)["signals"]["fresh"], "signals": view(ctx, now).stale,
                "report": collect(ctx, now).stale}
    finally:
        ctx.close()


@pytest.mark.parametrize("session, created, now, stale", [
    # Friday's scan, read on Sunday evening (46.5 h later, limit 24 h): still the last session's signals
    ("2026-01-23", "2026-01-23T21:30:00Z", SUNDAY, False),
    # Wednesday's signals on Friday after the close: two sessions old
    ("2026-01-21", "2026-01-21T21:30:00Z", FRIDAY_AFTER_CLOSE, True),
    # Thursday's signals on Sunday: a session was missed
    ("2026-01-22", "2026-01-22T21:30:00Z", SUNDAY, True),
])
def test_status_signals_and_the_report_call_signals_stale_alike(fresh_db, home, session, created, now, stale):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [_signal(session, created)])
    assert _verdicts(home, now) == {"status": stale, "signals": stale, "report": stale}
