"""``price_quarantine``: suspect bars kept out of ``price_data`` until a reload confirms or corrects them.

A bar validation flags (a 100x unit error, a split-like jump, a broken adjustment) is stored here
with its values and the reason, not in ``price_data``, which is what features, labels and fills
read. It leaves quarantine when a later fetch brings different values for that day that pass
validation ('corrected', into price_data), or when the user reloads the symbol on purpose
(``ingest --full``) and the same values come back ('confirmed', into price_data). Rows are never
deleted: the record of what was held back stays. Standard library only (``status`` reads it).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Iterable

from turbomode.clock import iso

COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")


def _exists(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'price_quarantine'"
                        ).fetchone() is not None


def held(conn: sqlite3.Connection, symbols: Iterable[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """(symbol, date) -> the quarantined bar (values, reason), for bars still held back."""
    if not _exists(conn):
        return {}
    sql = f"SELECT symbol, date, {', '.join(COLUMNS)}, reason FROM price_quarantine WHERE status = 'quarantined'"
    args: list[Any] = []
    if symbols is not None:
        import json

        sql += " AND symbol IN (SELECT value FROM json_each(?))"
        args.append(json.dumps(sorted(symbols)))
    out = {}
    for r in conn.execute(sql, args).fetchall():
        out[(r[0], r[1])] = dict(zip((*COLUMNS, "reason"), r[2:]))
    return out


def hold(conn: sqlite3.Connection, rows: Iterable[tuple], source: str, now: datetime) -> int:
    """Quarantine bars: rows of (symbol, date, open, high, low, close, adj_close, volume, reason).

    Call inside the ingest's transaction. A bar already held is updated with the new values.
    """
    cur = conn.executemany(
        f"INSERT INTO price_quarantine (symbol, date, {', '.join(COLUMNS)}, reason, source, status, flagged_at,"
        " resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'quarantined', ?, NULL)"
        " ON CONFLICT(symbol, date) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low,"
        " close = excluded.close, adj_close = excluded.adj_close, volume = excluded.volume,"
        " reason = excluded.reason, source = excluded.source, status = 'quarantined',"
        " flagged_at = CASE WHEN price_quarantine.status = 'quarantined' THEN price_quarantine.flagged_at"
        " ELSE excluded.flagged_at END, resolved_at = NULL",
        [(*r, source, iso(now)) for r in rows])
    return cur.rowcount


def release(conn: sqlite3.Connection, keys: Iterable[tuple[str, str]], status: str, now: datetime) -> int:
    """Mark held bars 'confirmed' or 'corrected' (their bar is now in price_data). Inside the transaction."""
    assert status in ("confirmed", "corrected")
    cur = conn.executemany("UPDATE price_quarantine SET status = ?, resolved_at = ? WHERE symbol = ? AND date = ?"
                           " AND status = 'quarantined'", [(status, iso(now), s, d) for s, d in keys])
    return cur.rowcount


def summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """What `status` says about held bars: how many, and which symbols."""
    if not _exists(conn):
        return {"count": 0, "symbols": []}
    rows = conn.execute("SELECT symbol, count(*) FROM price_quarantine WHERE status = 'quarantined'"
                        " GROUP BY symbol ORDER BY symbol").fetchall()
    return {"count": sum(r[1] for r in rows), "symbols": [r[0] for r in rows]}
