"""The ``trades`` table: the labelled historical trades (one row per symbol and entry date).

Regenerated as a whole (or per sector) in one transaction: the old rows disappear only when the
new ones are in.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable, Sequence

from turbomode.store.db import transaction

COLUMNS = ("symbol", "sector", "entry_date", "entry_price", "target_price", "stop_price", "horizon_days",
           "exit_date", "exit_price", "outcome", "return_pct", "label_params", "created_at", "signal_date")


def replace_trades(conn: sqlite3.Connection, rows: Iterable[Sequence[Any]],
                   sectors: Sequence[str] | None = None) -> int:
    """Replace all trades (or those of ``sectors``) with ``rows`` (tuples in COLUMNS order)."""
    sql = f"INSERT INTO trades ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    with transaction(conn):
        if sectors is None:
            conn.execute("DELETE FROM trades")
        else:
            conn.executemany("DELETE FROM trades WHERE sector = ?", [(s,) for s in sectors])
        cur = conn.executemany(sql, rows)
        return cur.rowcount


def count_trades(conn: sqlite3.Connection, sector: str | None = None) -> dict[str, int]:
    """Trades per outcome (BUY/SELL/HOLD), optionally for one sector."""
    where, args = ("WHERE sector = ?", (sector,)) if sector else ("", ())
    cur = conn.execute(f"SELECT outcome, COUNT(*) FROM trades {where} GROUP BY outcome", args)
    return {o: n for o, n in cur.fetchall()}
