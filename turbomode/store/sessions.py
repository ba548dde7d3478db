"""NYSE sessions cached in ``market_sessions`` (filled at ingest from exchange_calendars).

Standard library only. Callers fall back to the exchange calendar themselves when the cache
does not reach far enough (``sessions_after`` returns fewer rows than asked).
"""

from __future__ import annotations

import sqlite3
from datetime import date as _date, datetime
from typing import Iterable

from turbomode.clock import iso


def last_completed(conn: sqlite3.Connection, now: datetime) -> str | None:
    """The newest cached session whose close is at or before ``now`` (YYYY-MM-DD), None without a cache.

    (``store.state.last_completed_session`` adds the calendar fallbacks ``status`` and ``scan`` use.)
    """
    row = conn.execute("SELECT MAX(date) FROM market_sessions WHERE close_utc <= ?", (iso(now),)).fetchone()
    return row[0] if row else None


def sessions_after(conn: sqlite3.Connection, date: str, n: int) -> list[tuple[str, str]]:
    """Up to ``n`` (date, close_utc) sessions strictly after ``date``, in order."""
    return [tuple(r) for r in conn.execute(
        "SELECT date, close_utc FROM market_sessions WHERE date > ? ORDER BY date LIMIT ?", (date, n)
    ).fetchall()]


def closes_between(conn: sqlite3.Connection, start: str, end: str) -> list[tuple[str, str]]:
    """(session, close UTC ISO) of the cached NYSE sessions from ``start`` to ``end`` (YYYY-MM-DD)."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT date, close_utc FROM market_sessions WHERE date >= ? AND date <= ? ORDER BY date", (start, end))]


def session_before(conn: sqlite3.Connection, date: str, n: int) -> str | None:
    """The cached session ``n`` sessions before ``date`` (None when the cache does not reach back)."""
    row = conn.execute("SELECT date FROM market_sessions WHERE date < ? ORDER BY date DESC LIMIT 1 OFFSET ?",
                       (date, n - 1)).fetchone()
    return row[0] if row else None


def latest_bar_on_or_before(conn: sqlite3.Connection, day: str) -> str | None:
    """The newest date at or before ``day`` with any stored bar (for `scan --as-of` messages)."""
    row = conn.execute("SELECT MAX(date) FROM price_data WHERE date <= ?", (day,)).fetchone()
    return row[0] if row else None


def has_bars_on(conn: sqlite3.Connection, date: str) -> bool:
    return conn.execute("SELECT 1 FROM price_data WHERE date = ? LIMIT 1", (date,)).fetchone() is not None


def write_sessions(conn: sqlite3.Connection, sessions: Iterable[tuple[_date, datetime, datetime]]) -> int:
    """Store (date, open UTC, close UTC) rows (ingest, from exchange_calendars), replacing those dates.

    Runs inside the caller's transaction when there is one.
    """
    rows = [(d.isoformat(), iso(o), iso(c)) for d, o, c in sessions]
    conn.executemany("INSERT INTO market_sessions (date, open_utc, close_utc) VALUES (?, ?, ?)"
                     " ON CONFLICT(date) DO UPDATE SET open_utc = excluded.open_utc,"
                     " close_utc = excluded.close_utc", rows)
    return len(rows)
