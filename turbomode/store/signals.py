"""Signals in the database: ``active_signals``, ``signal_history`` and ``sector_stats``.

Standard library only, so ``turbomode signals`` stays light. Column names are the seed's
(store/migrations.py m001); ``ACTIVE_COLUMNS`` is the documented, stable order of
``turbomode signals --format json``.

Writes take an open transaction from the caller (``store.db.transaction``): a scan closes, emits
and updates the statistics as one unit.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Iterable

ACTIVE_COLUMNS = (
    "id", "symbol", "signal_type", "confidence", "entry_price", "target_price", "stop_loss", "sector",
    "created_at", "expires_at", "is_active", "market_date", "expiry_date", "model_version", "data_source",
    "prob_buy", "prob_sell", "prob_hold", "atr", "reference_price", "fill_date", "price_basis", "sigma",
)

HISTORY_COLUMNS = (
    "id", "signal_id", "symbol", "signal_type", "confidence", "entry_price", "target_price", "stop_loss",
    "sector", "created_at", "expires_at", "market_date", "closed_at", "exit_date", "exit_price", "outcome",
    "realized_return", "model_version", "data_source", "reference_price", "fill_date", "price_basis", "sigma",
)

STATS_COLUMNS = ("sector", "signal_type", "total_signals", "wins", "losses", "hit_rate", "avg_return",
                 "updated_at")

# 'unfilled': the symbol never traded again before the signal expired; 'reversed': closed by an
# opposite signal (older versions did that; now a symbol keeps its open signal until it ends).
OUTCOMES = ("target", "stop", "expired", "unfilled", "reversed")

# --sort key -> ORDER BY expression and its natural direction (True = descending)
SORT_KEYS: dict[str, tuple[str, bool]] = {
    "confidence": ("confidence", True),
    "symbol": ("symbol", False),
    "sector": ("sector", False),
    "created": ("created_at", True),
    "expires": ("COALESCE(expiry_date, expires_at)", False),
}

# What an open row needs before a scan, maintain or a display can act on it: a symbol, a side, a
# number (or nothing) where a number goes, a date SQLite can read (or nothing) where a date goes.
# A row edited by hand into something else ('abc' as a price, 'yesterday' as a date) is left in the
# table as it is, untouched, and named by ``unreadable_open`` instead of failing every scan.
_NUMBERS = ("confidence", "entry_price", "target_price", "stop_loss")
_DATES = ("created_at", "expires_at", "market_date", "expiry_date", "fill_date")
_PROBLEMS = (
    [("symbol IS NULL OR typeof(symbol) <> 'text' OR trim(symbol) = ''", "no symbol"),
     ("signal_type IS NULL OR signal_type NOT IN ('BUY', 'SELL')", "signal_type is not BUY or SELL")]
    + [(f"{c} IS NOT NULL AND typeof({c}) NOT IN ('integer', 'real')", f"{c} is not a number") for c in _NUMBERS]
    + [(f"{c} IS NOT NULL AND date({c}) IS NULL", f"{c} is not a date") for c in _DATES])
READABLE = " AND ".join(f"NOT ({cond})" for cond, _ in _PROBLEMS)
_OPEN = "COALESCE(is_active, 1) = 1"  # rows adopted from the seed may carry NULL
_ACTIVE = f"{_OPEN} AND {READABLE}"


def unreadable_open(conn: sqlite3.Connection) -> list[str]:
    """The open rows ``READABLE`` leaves out, one phrase each: 'id 7 (NVDA): entry_price is not a number'."""
    cases = " ".join(f"WHEN {cond} THEN '{text}'" for cond, text in _PROBLEMS)
    return [f"id {r[0]} ({r[1] if r[1] is not None else 'no symbol'}): {r[2]}" for r in conn.execute(
        f"SELECT id, symbol, CASE {cases} END FROM active_signals WHERE {_OPEN} AND NOT ({READABLE}) ORDER BY id")]


@dataclass(frozen=True)
class Fill:
    """An open signal's entry at the open after its session: the price and the levels set from it."""

    signal_id: int
    fill_date: str
    entry_price: float
    target_price: float
    stop_loss: float


@dataclass(frozen=True)
class Closure:
    """An open signal that finished: how, when, at what price, with what return."""

    signal_id: int
    outcome: str  # target | stop | expired | reversed
    exit_date: str
    exit_price: float
    realized_return: float


def expiry_of(signal: dict[str, Any]) -> str | None:
    """The last session a signal is open (YYYY-MM-DD): ours, or the date of an adopted row's expires_at."""
    return signal.get("expiry_date") or (signal.get("expires_at") or "")[:10] or None


def session_of(signal: dict[str, Any]) -> str | None:
    """The session a signal was emitted for: ours, or the date of an adopted row's created_at."""
    return signal.get("market_date") or (signal.get("created_at") or "")[:10] or None


def _rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def active_signals(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every open signal, all columns, oldest first."""
    cols = ", ".join(ACTIVE_COLUMNS)
    return _rows(conn.execute(f"SELECT {cols} FROM active_signals WHERE {_ACTIVE} ORDER BY id"))


def query_active(conn: sqlite3.Connection, *, signal_type: str | None = None, sector: str | None = None,
                 symbol: str | None = None, min_confidence: float | None = None, sort: str = "confidence",
                 descending: bool | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Open signals filtered and sorted for display. ``sort`` must be a key of SORT_KEYS."""
    expr, natural_desc = SORT_KEYS[sort]
    desc = natural_desc if descending is None else descending
    where, params = [_ACTIVE], []
    if signal_type:
        where.append("signal_type = ?")
        params.append(signal_type.upper())
    if sector:
        where.append("sector = ? COLLATE NOCASE")
        params.append(sector)
    if symbol:
        where.append("symbol = ? COLLATE NOCASE")
        params.append(symbol)
    if min_confidence is not None:
        where.append("confidence >= ?")
        params.append(min_confidence)
    order = f"{expr} {'DESC' if desc else 'ASC'}, symbol ASC"
    sql = f"SELECT {', '.join(ACTIVE_COLUMNS)} FROM active_signals WHERE {' AND '.join(where)} ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return _rows(conn.execute(sql, params))


def summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """Counts and freshness of the open signals: total, per direction, newest created_at and session."""
    row = conn.execute(
        f"SELECT COUNT(*), SUM(signal_type = 'BUY'), SUM(signal_type = 'SELL'), MAX(created_at),"
        f" MAX(market_date), SUM(data_source = 'sample') FROM active_signals WHERE {_ACTIVE}"
    ).fetchone()
    return {"total": row[0], "buy": row[1] or 0, "sell": row[2] or 0, "newest_created_at": row[3],
            "newest_market_date": row[4], "sample_rows": row[5] or 0}


def session_mix(conn: sqlite3.Connection, market_date: str) -> tuple[int, int]:
    """(BUY, SELL) counts of the open signals emitted for one session."""
    row = conn.execute(
        f"SELECT SUM(signal_type = 'BUY'), SUM(signal_type = 'SELL') FROM active_signals"
        f" WHERE market_date = ? AND {_ACTIVE}", (market_date,)
    ).fetchone()
    return row[0] or 0, row[1] or 0


def latest_session(conn: sqlite3.Connection) -> str | None:
    """The newest session any signal (open or closed) was emitted for."""
    row = conn.execute(
        "SELECT MAX(d) FROM (SELECT MAX(market_date) AS d FROM active_signals"
        " UNION ALL SELECT MAX(market_date) FROM signal_history)"
    ).fetchone()
    return row[0]


def insert_signals(conn: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Add open signals (``is_active`` = 1). Keys are ACTIVE_COLUMNS names; ``id`` is assigned."""
    cols = [c for c in ACTIVE_COLUMNS if c != "id"]
    data = [tuple(1 if c == "is_active" else r.get(c) for c in cols) for r in rows]
    conn.executemany(
        f"INSERT INTO active_signals ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", data
    )
    return len(data)


def record_fills(conn: sqlite3.Connection, fills: Iterable[Fill]) -> int:
    """Set each filled signal's entry, target and stop from its fill; price_basis becomes 'fill'."""
    data = [(f.entry_price, f.target_price, f.stop_loss, f.fill_date, f.signal_id) for f in fills]
    conn.executemany("UPDATE active_signals SET entry_price = ?, target_price = ?, stop_loss = ?, fill_date = ?,"
                     f" price_basis = 'fill' WHERE id = ? AND {_ACTIVE}", data)
    return len(data)


def close_signals(conn: sqlite3.Connection, closures: Iterable[Closure], closed_at: str) -> list[tuple[str, str]]:
    """Move finished signals to ``signal_history``; return the (sector, signal_type) pairs touched."""
    touched: set[tuple[str, str]] = set()
    copy_cols = [c for c in HISTORY_COLUMNS if c in ACTIVE_COLUMNS and c != "id"]
    for c in closures:
        if c.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {c.outcome!r}")
        row = conn.execute(
            f"SELECT {', '.join(copy_cols)} FROM active_signals WHERE id = ? AND {_ACTIVE}", (c.signal_id,)
        ).fetchone()
        if row is None:  # already closed: closing is idempotent
            continue
        values = dict(zip(copy_cols, row))
        values.update(signal_id=c.signal_id, closed_at=closed_at, exit_date=c.exit_date,
                      exit_price=c.exit_price, outcome=c.outcome, realized_return=c.realized_return)
        names = list(values)
        conn.execute(
            f"INSERT INTO signal_history ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [values[n] for n in names],
        )
        conn.execute("DELETE FROM active_signals WHERE id = ?", (c.signal_id,))
        touched.add((values["sector"], values["signal_type"]))
    return sorted(touched, key=lambda p: (p[0] or "", p[1] or ""))


def refresh_sector_stats(conn: sqlite3.Connection, pairs: Iterable[tuple[str, str]], updated_at: str) -> None:
    """Recompute ``sector_stats`` for each (sector, direction) from ``signal_history``.

    A win is a closed signal with a positive realised return (a target, or an expiry/reversal in
    profit); every other closed signal is a loss, except one never filled ('unfilled': its symbol
    did not trade again, so there was no position), which is not a trade at all, as in the backtest.
    Rows for other pairs (and rows adopted from the seed) are left alone.
    """
    for sector, signal_type in pairs:
        total, wins, avg = conn.execute(
            "SELECT COUNT(*), SUM(realized_return > 0), AVG(realized_return) FROM signal_history"
            " WHERE sector IS ? AND signal_type IS ? AND outcome IS NOT 'unfilled'", (sector, signal_type)
        ).fetchone()
        wins = wins or 0
        values = (total, wins, total - wins, wins / total if total else None, avg, updated_at)
        cur = conn.execute(
            "UPDATE sector_stats SET total_signals = ?, wins = ?, losses = ?, hit_rate = ?, avg_return = ?,"
            " updated_at = ? WHERE sector IS ? AND signal_type IS ?", (*values, sector, signal_type)
        )
        if cur.rowcount == 0:
            conn.execute(
                "INSERT INTO sector_stats (total_signals, wins, losses, hit_rate, avg_return, updated_at,"
                " sector, signal_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*values, sector, signal_type)
            )


def sector_stats(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every (sector, direction) statistics row this product maintains."""
    return _rows(conn.execute(
        f"SELECT {', '.join(STATS_COLUMNS)} FROM sector_stats WHERE signal_type IS NOT NULL"
        " ORDER BY sector, signal_type"
    ))


def history(conn: sqlite3.Connection, limit: int | None = None) -> list[dict[str, Any]]:
    """Closed signals, most recently closed first."""
    sql = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM signal_history ORDER BY closed_at DESC, id DESC"
    return _rows(conn.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()))


def data_source(conn: sqlite3.Connection) -> str | None:
    """Where the stored prices came from (meta key 'data_source'), or None before the first ingest."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'data_source'").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None
