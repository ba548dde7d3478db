"""The ``trades`` table: the labelled historical trades (one row per symbol and entry date).

Regenerated as a whole (or per sector) in one transaction: the old rows disappear only when the
new ones are in (staged first in a TEMP table, so that transaction is short).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable, Sequence

from turbomode.store.db import transaction

COLUMNS = ("symbol", "sector", "entry_date", "entry_price", "target_price", "stop_price", "horizon_days",
           "exit_date", "exit_price", "outcome", "return_pct", "label_params", "created_at", "signal_date")


def replace_trades(conn: sqlite3.Connection, rows: Iterable[Sequence[Any]],
                   sectors: Sequence[str] | None = None) -> int:
    """Replace all trades (or those of ``sectors``) with ``rows`` (tuples in COLUMNS order).

    The rows are first staged in a TEMP table, which takes no lock on the database; the write lock
    is held only for the delete and one INSERT ... SELECT. Writing ~800k rows straight into
    ``trades`` held it long enough for other writers (the run's heartbeat) to time out.
    """
    cols = ", ".join(COLUMNS)
    conn.execute("DROP TABLE IF EXISTS temp.trades_new")
    conn.execute(f"CREATE TEMP TABLE trades_new ({cols})")
    try:
        conn.executemany(f"INSERT INTO temp.trades_new VALUES ({', '.join('?' * len(COLUMNS))})", rows)
        with transaction(conn):
            if sectors is None:
                conn.execute("DELETE FROM trades")
            else:
                conn.executemany("DELETE FROM trades WHERE sector = ?", [(s,) for s in sectors])
            return conn.execute(f"INSERT INTO trades ({cols}) SELECT {cols} FROM temp.trades_new").rowcount
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.trades_new")


def count_trades(conn: sqlite3.Connection, sector: str | None = None) -> dict[str, int]:
    """Trades per outcome (BUY/SELL/HOLD), optionally for one sector."""
    where, args = ("WHERE sector = ?", (sector,)) if sector else ("", ())
    cur = conn.execute(f"SELECT outcome, COUNT(*) FROM trades {where} GROUP BY outcome", args)
    return {o: n for o, n in cur.fetchall()}
