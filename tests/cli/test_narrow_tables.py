"""Tables read at 60, 80 and 200 columns: nothing clipped, no line wider than the terminal, and
history shows what a run did, not Python dicts (issue 10 item 21)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine

from tests.cli.test_signals_cmd import row
from tests.fakejobs.fixtures import NOW
from turbomode.store import signals as store
from turbomode.store.db import transaction

WIDTHS = [60, 80, 200]


@pytest.fixture
def busy_home(sched_home, fake_jobs, alerts_spy, cli, ctx, monkeypatch):
    with time_machine.travel(NOW - timedelta(days=8), tick=False):  # a week and more ago: long dates and ages
        assert cli("catchup").exit_code == 0
    with time_machine.travel(NOW, tick=False):
        monkeypatch.setenv("FAKE_SCAN", "fail:prices end 2026-01-21 but the last completed NYSE session is "
                                        "2026-01-22; run `turbomode ingest` (or pass --allow-stale)")
        cli("scan", "--no-deps")
    conn = ctx.connect()
    with transaction(conn):
        store.insert_signals(conn, [
            row("GOOGL", confidence=0.612, sector="Communication Services", expiry="2026-02-06"),
            row("BRK-B", "SELL", 0.7234, "Financials", expiry="2026-02-04"),
            row("NVR", confidence=0.58, sector="Consumer Discretionary", expiry="2026-02-05") | {
                "entry_price": 7412.35, "target_price": 7691.02, "stop_loss": 7272.99},
        ])
        # a run recorded before history showed messages: its summary holds nested values
        conn.execute("INSERT INTO task_runs (task, trigger, started_at, finished_at, status, summary) VALUES"
                     " ('scan', 'cron', '2026-01-20T04:30:00Z', '2026-01-20T04:30:02Z', 'succeeded', ?)",
                     (json.dumps({"session": "2026-01-16", "closed": {"target": 2, "stop": 1},
                                  "session_signals": {"BUY": 3, "SELL": 2}, "emitted": 5}),))
    return sched_home


def screen(cli, monkeypatch, width: int, *args: str) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    with time_machine.travel(NOW, tick=False):
        result = cli(*args)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("args", [("status",), ("history",), ("signals",), ("schedule", "show")], ids=" ".join)
def test_nothing_is_clipped_and_no_line_is_wider_than_the_terminal(busy_home, cli, monkeypatch, width, args):
    text = screen(cli, monkeypatch, width, *args)
    assert "…" not in text, f"clipped at {width} columns:\n{text}"
    too_wide = [line for line in text.splitlines() if len(line.rstrip()) > width]
    assert too_wide == [], f"wider than {width}:\n" + "\n".join(too_wide)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_date_and_price_is_shown_whole(busy_home, cli, monkeypatch, width):
    signals = screen(cli, monkeypatch, width, "signals")
    for whole in ("2026-02-06", "2026-02-04", "2026-02-05", "7412.35", "7691.02", "7272.99", "72.3%"):
        assert whole in signals, f"{whole} missing at {width} columns:\n{signals}"
    history = screen(cli, monkeypatch, width, "history")
    assert "01-23 12:00:00" in history and "01-20 04:30:00" in history and "01-15 12:00:00" in history
    status = screen(cli, monkeypatch, width, "status")
    for when in ("Fri 23:30", "Sat 23:00", "15 Jan 07:00", "8 d ago"):  # next runs, last successes (New York)
        assert when in status, f"{when} missing at {width} columns:\n{status}"


def test_history_shows_what_a_run_did_never_a_python_dict(busy_home, cli, monkeypatch):
    text = screen(cli, monkeypatch, 200, "history")
    assert "{" not in text and "'" + "target" + "'" not in text
    assert "session=2026-01-16, emitted=5" in text  # an old row: its plain values
    assert "fake maintain done" in text  # a new row: the run's own message
    assert re.search(r"prices end 2026-01-21 but the last completed NYSE session is 2026-01-22", text)
