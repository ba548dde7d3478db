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


# --- zero signals: freshness is the last successful scan's session (issue 10 item 10) -------------

@pytest.fixture
def quiet_market(home, monkeypatch):
    """The scan doubles' market with a champion that never signals (every symbol HOLD)."""
    from tests.tasks import scan_doubles as d
    from turbomode.store.db import connect
    from turbomode.tasks import scan as scan_task

    d.write_home(home)
    monkeypatch.setattr(scan_task, "_load_champions", lambda ctx: d.FakeChampions({}))
    monkeypatch.setattr(scan_task, "_compute_features", d.fake_features)
    # the scan's volatility seam (and its double) is _atr_last/fake_atr, or _vol_last/fake_vol after
    # the next-open fills change on main; this fixture only needs it not to be computed for real
    for seam, double in (("_vol_last", "fake_vol"), ("_atr_last", "fake_atr")):
        if hasattr(scan_task, seam):
            monkeypatch.setattr(scan_task, seam, getattr(d, double))
    if hasattr(scan_task, "_load_point_in_time"):
        monkeypatch.setattr(scan_task, "_load_point_in_time", lambda ctx, session: d.FakeChampions({}))
    conn = connect(home / "turbomode.db")
    days = d.business_days(datetime(2025, 10, 1).date(), datetime(2026, 1, 23).date())
    for sym in d.SECTORS:
        d.add_bars(conn, sym, days)
    d.add_sessions(conn, days + d.business_days(datetime(2026, 1, 26).date(), datetime(2026, 3, 31).date()))
    conn.close()
    return home


def test_a_scan_that_finds_nothing_is_fresh_and_alerts_nothing(cli, quiet_market, monkeypatch):
    import json

    import time_machine

    from tests.ops.test_alerts import make_ctx
    from turbomode.ops import alerts

    with time_machine.travel(FRIDAY_AFTER_CLOSE, tick=False):
        result = cli("scan", "--no-deps", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["summary"]["emitted"] == 0
    # Sunday evening, 46 h later: still the last session's (empty) answer, by all three views
    assert _verdicts(quiet_market, SUNDAY) == {"status": False, "signals": False, "report": False}
    with time_machine.travel(SUNDAY, tick=False):
        report = json.loads(cli("status", "--json").stdout)
        assert report["signals"]["fresh"] and report["signals"]["last_scan_session"] == "2026-01-23"
        assert not any("signal" in p or "successful scan" in p for p in report["problems"]), report["problems"]
        assert "STALE" not in cli("signals").output
    sent = []
    monkeypatch.setattr(alerts, "notify", lambda ctx, event, now=None, once_per=None: sent.append(event) or [])
    alerts.alert_stale(make_ctx(quiet_market), report, SUNDAY)
    assert [e for e in sent if e.job == "scan"] == []


def test_an_empty_scan_goes_stale_once_a_session_passes_without_a_scan(cli, quiet_market):
    import json

    import time_machine

    with time_machine.travel(FRIDAY_AFTER_CLOSE, tick=False):
        assert cli("scan", "--no-deps").exit_code == 0
    tuesday = datetime(2026, 1, 27, 22, 0, tzinfo=timezone.utc)  # two sessions closed since, no scan
    assert _verdicts(quiet_market, tuesday) == {"status": True, "signals": True, "report": True}
    with time_machine.travel(tuesday, tick=False):
        report = json.loads(cli("status", "--json").stdout)
    assert report["signals"]["stale_reason"].startswith("the last successful scan (") and \
        "was for session 2026-01-23 but the last completed NYSE session is 2026-01-27" in report["signals"]["stale_reason"]
