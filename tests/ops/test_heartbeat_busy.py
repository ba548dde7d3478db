"""A heartbeat that meets the job's own long write is quiet, and train's trades write does not hold
the write lock while it stages 800k rows (issue 10 item 15: "database is locked" in the log)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from tests.fakejobs.fixtures import NOW, runs
from turbomode.ops import locks
from turbomode.store import ledger
from turbomode.store.db import connect


def test_a_heartbeat_blocked_by_a_long_write_logs_no_warning_and_beats_after_it(ctx, caplog, monkeypatch):
    from turbomode.store import db

    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.3)  # the write outlasts any connection's patience
    run_id = ledger.claim_run(ctx.connect(), "train", "manual", NOW).run_id
    holder = sqlite3.connect(ctx.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the job's own long write
    ticks = iter(range(10_000))
    now_fn = lambda: NOW.replace(second=0) + __import__("datetime").timedelta(seconds=next(ticks))
    with caplog.at_level(logging.DEBUG, logger="turbomode.locks"):
        with locks.Heartbeat(ctx.db_path, run_id, "train", 0.2, now_fn):
            time.sleep(1.5)  # several beats find the database locked
            holder.execute("COMMIT")
            time.sleep(1.0)  # and the next ones land
    holder.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert any("not recorded" in r.getMessage() for r in caplog.records)  # said, at debug level
    assert runs(ctx, "train")[0]["heartbeat_at"] > "2026-01-23T12:00:00Z"


def test_replacing_trades_holds_no_write_lock_while_the_rows_are_staged(fresh_db, db_path):
    from turbomode.store.trades import COLUMNS, count_trades, replace_trades

    halfway, go_on = threading.Event(), threading.Event()

    def rows():
        for i in range(2000):
            if i == 1000:
                halfway.set()
                go_on.wait(10)
            row = {"symbol": "AAA", "sector": "Energy", "entry_date": f"2020-{1 + i % 12:02d}-01",
                   "entry_price": 10.0, "target_price": 11.0, "stop_price": 9.5, "horizon_days": 10,
                   "outcome": "BUY", "return_pct": 0.01, "label_params": "{}", "created_at": "t"}
            yield tuple(row.get(c) for c in COLUMNS)

    worker = threading.Thread(target=replace_trades, args=(fresh_db, rows()))
    worker.start()
    other = connect(db_path, migrate=False)
    try:
        assert halfway.wait(10)
        other.execute("PRAGMA busy_timeout = 0")  # a writer that cannot wait at all
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO meta (key, value, updated_at) VALUES ('probe', '1', 't')")
        other.execute("COMMIT")
    finally:  # whatever happened, the writer finishes before its connection is closed
        other.close()
        go_on.set()
        worker.join(30)
    assert sum(count_trades(fresh_db).values()) == 2000
