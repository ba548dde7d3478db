"""Facts that ``status``, ``catchup`` and the run wrapper decide on, read with the standard library.

These queries sit on the fast path (status and catchup with nothing due must start in well under
half a second), so nothing here imports pandas, sqlite_utils or exchange_calendars — except the
fallback for an empty ``market_sessions`` table, which computes the NYSE sessions once and caches them.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

from turbomode.clock import parse_iso
from turbomode.store.db import transaction
from turbomode.store.ledger import SUCCESS

log = logging.getLogger("turbomode.state")
NEW_YORK = ZoneInfo("America/New_York")


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


# A run its options narrowed (`ingest --symbols`, `train --sector`, `scan --as-of` an earlier session)
# says so in its summary; it did not do the scheduled job's work, so it does not stand for it.
SUBSET = "subset"
# More than this share of the symbols an ingest fetched short of the last session: prices are not fresh
# (a few lagging symbols are listed as a warning).
BEHIND_SHARE = 0.10


def last_success(conn: sqlite3.Connection) -> dict[str, datetime]:
    """Per job, the start of its latest succeeded (or partial) run of the whole job.

    The start, not the end: a run covers the scheduled times up to when it began reading its inputs.
    A run its options narrowed to a part (summary ``scope`` = 'subset') does not count.
    """
    marks = ",".join("?" * len(SUCCESS))
    rows = conn.execute(f"SELECT task, MAX(started_at) AS at FROM task_runs WHERE status IN ({marks})"
                        " AND (summary IS NULL OR NOT json_valid(summary) OR"
                        " COALESCE(json_extract(summary, '$.scope'), '') != ?)"
                        " GROUP BY task", (*SUCCESS, SUBSET)).fetchall()
    return {r["task"]: parse_iso(r["at"]) for r in rows if r["at"]}


# A command typed by hand and refused for its options or settings (exit 2) is the typist's error, told
# on their terminal: it is recorded, but it is not the scheduled job's result (no alert, no ping, and
# `status` does not count it).
USER_ERROR_EXIT = 2


def user_error(trigger: str | None, status: str | None, exit_code: int | None) -> bool:
    return trigger == "manual" and status == "failed" and exit_code == USER_ERROR_EXIT


def last_runs(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    """Per job, its latest run that is not a 'skipped' duplicate nor a hand-typed command refused for
    its options (``user_error``): the result a user cares about."""
    rows = conn.execute(
        "SELECT r.* FROM task_runs r JOIN (SELECT task, MAX(id) AS id FROM task_runs"
        " WHERE status != 'skipped' AND NOT (trigger = 'manual' AND status = 'failed' AND exit_code IS ?)"
        " GROUP BY task) m ON m.id = r.id", (USER_ERROR_EXIT,)).fetchall()
    return {r["task"]: r for r in rows}


def running(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    rows = conn.execute("SELECT * FROM task_runs WHERE status = 'running' ORDER BY id").fetchall()
    return {r["task"]: r for r in rows}


# --- the NYSE calendar --------------------------------------------------------------------------

def last_completed_session(conn: sqlite3.Connection, now: datetime) -> str | None:
    """The most recent NYSE session whose close is at or before ``now`` (YYYY-MM-DD).

    Read from ``market_sessions`` (filled at ingest) when it reaches today; otherwise computed with
    exchange_calendars, cached in that table, and — if even that fails — approximated by weekdays.
    """
    today = now.astimezone(NEW_YORK).date().isoformat()
    if _table_exists(conn, "market_sessions"):
        row = conn.execute("SELECT MAX(date) FROM market_sessions").fetchone()
        if row and row[0] and row[0] >= today:
            return _last_closed(conn, today, now)
    try:
        _cache_sessions(conn, now)
        return _last_closed(conn, today, now)
    except Exception as exc:  # no calendar for this date range, or the library is unusable
        log.warning("NYSE calendar unavailable (%s); counting weekdays instead", exc)
        return _weekday_session(now)


def _last_closed(conn: sqlite3.Connection, today: str, now: datetime) -> str | None:
    rows = conn.execute("SELECT date, close_utc FROM market_sessions WHERE date <= ? ORDER BY date DESC LIMIT 3",
                        (today,)).fetchall()
    for r in rows:
        if parse_iso(r["close_utc"]) <= now:
            return r["date"]
    return None


def _cache_sessions(conn: sqlite3.Connection, now: datetime) -> None:
    """Compute the NYSE sessions around ``now`` (exchange_calendars, via data.calendar) and cache them."""
    from turbomode.data import calendar  # heavy (pandas): only when the cached table does not reach today
    from turbomode.store.sessions import write_sessions

    today = now.astimezone(NEW_YORK).date()
    rows = calendar.sessions(today - timedelta(days=40), today + timedelta(days=366))
    if not rows or rows[-1][0] < today:
        raise ValueError(f"the installed NYSE calendar ends before {today}")
    with transaction(conn):
        write_sessions(conn, rows)


def _weekday_session(now: datetime) -> str:
    """Best effort without a calendar: weekdays closing at 16:00 New York time (holidays unknown)."""
    local = now.astimezone(NEW_YORK)
    d: date = local.date()
    if local.hour < 16:
        d -= timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d.isoformat()


# --- models and signals ---------------------------------------------------------------------------

class ModelState(NamedTuple):
    champion: str | None  # version
    champion_created_at: str | None
    challenger: str | None  # newest challenger version newer than the champion
    challenger_created_at: str | None


def champion_exists(conn: sqlite3.Connection) -> bool:
    if not _table_exists(conn, "model_metadata"):
        return False
    return conn.execute("SELECT 1 FROM model_metadata WHERE status = 'champion' LIMIT 1").fetchone() is not None


def no_champion_text(challenger: str | None) -> str:
    """Why there is no champion, and what to do: `status` and `scan` say the same."""
    if challenger is None:
        return "no champion model; run `turbomode train`"
    return (f"no champion model: every sector of the last version {challenger} stayed a challenger (its signals or "
            "their calibration were out of bounds; `turbomode history --job train` says why); fix the cause, or "
            "force it with `turbomode train --promote`")


def model_state(conn: sqlite3.Connection) -> ModelState:
    if not _table_exists(conn, "model_metadata"):
        return ModelState(None, None, None, None)
    champ = conn.execute("SELECT version, MAX(created_at) AS created_at FROM model_metadata WHERE status = 'champion'"
                         " GROUP BY version ORDER BY created_at DESC LIMIT 1").fetchone()
    chall = conn.execute("SELECT version, MAX(created_at) AS created_at FROM model_metadata"
                         " WHERE status = 'challenger' GROUP BY version ORDER BY created_at DESC LIMIT 1").fetchone()
    if chall and champ and (chall["created_at"] or "") < (champ["created_at"] or ""):
        chall = None  # an older challenger lost already; it is history, not news
    return ModelState(champ["version"] if champ else None, champ["created_at"] if champ else None,
                      chall["version"] if chall else None, chall["created_at"] if chall else None)


class SignalState(NamedTuple):
    active: int
    newest_created_at: datetime | None
    newest_market_date: str | None


def signal_state(conn: sqlite3.Connection) -> SignalState:
    if not _table_exists(conn, "active_signals"):
        return SignalState(0, None, None)
    cols = {r[1] for r in conn.execute("PRAGMA table_info(active_signals)")}
    md = "MAX(market_date)" if "market_date" in cols else "NULL"
    # a created_at edited into something that is not a date ('yesterday') must not be the newest
    row = conn.execute("SELECT COUNT(*) AS n, MAX(CASE WHEN date(created_at) IS NOT NULL THEN created_at END)"
                       f" AS created, {md} AS md FROM active_signals"
                       " WHERE is_active = 1 OR is_active IS NULL").fetchone()
    created = None
    if row["created"]:
        try:
            created = _parse_loose(row["created"])
        except ValueError:
            created = None
    return SignalState(int(row["n"] or 0), created, row["md"])


class LastScan(NamedTuple):
    started_at: datetime
    session: str | None  # the session it scanned (YYYY-MM-DD), from its ledger summary
    summary: dict


def last_scan(conn: sqlite3.Connection) -> LastScan | None:
    """The newest scan that succeeded (or was partial), with its ledger summary."""
    import json

    marks = ",".join("?" * len(SUCCESS))
    row = conn.execute(f"SELECT started_at, summary FROM task_runs WHERE task = 'scan' AND status IN ({marks})"
                       " ORDER BY id DESC LIMIT 1", SUCCESS).fetchone()
    if row is None:
        return None
    try:
        summary = json.loads(row["summary"]) if row["summary"] else {}
    except ValueError:
        summary = {}
    if not isinstance(summary, dict):
        summary = {}
    session = summary.get("session")
    return LastScan(parse_iso(row["started_at"]), session if isinstance(session, str) else None, summary)


class SignalFreshness(NamedTuple):
    state: SignalState
    last_session: str | None  # the last completed NYSE session at ``now``
    age_hours: float | None  # of the newest open signal
    limit_hours: float
    fresh: bool
    scan: LastScan | None = None  # the last successful scan, when the ledger has one
    scan_age_hours: float | None = None


def signal_freshness(conn: sqlite3.Connection, now: datetime, limit_hours: float) -> SignalFreshness:
    """THE staleness rule for signals (`status`, `turbomode signals` and the report all use it).

    Fresh when the last successful scan is for the last completed NYSE session (Friday's scan is
    still current on Sunday) or ran within ``limit_hours``, whatever number of signals it found:
    a scan that finds nothing worth signalling is a fresh answer. The newest open signal passes
    by the same two tests (a database adopted from the old system has signals but no scan runs).
    """
    sig = signal_state(conn)
    session = last_completed_session(conn, now)

    def current(day: str | None) -> bool:
        return day is not None and session is not None and day >= session

    age = None if sig.newest_created_at is None else max(0.0, (now - sig.newest_created_at).total_seconds() / 3600)
    fresh = age is not None and (age <= limit_hours or current(sig.newest_market_date))
    scan = last_scan(conn)
    scan_age = None
    if scan is not None:
        scan_age = max(0.0, (now - scan.started_at).total_seconds() / 3600)
        fresh = fresh or scan_age <= limit_hours or current(scan.session)
    return SignalFreshness(sig, session, age, limit_hours, fresh, scan, scan_age)


def stale_signals_text(f: SignalFreshness) -> str:
    """Why signals are stale, and what to do (status, the alert and the report say the same)."""
    if f.scan is not None:
        return (f"the last successful scan ({f.scan_age_hours:.0f} h ago) was for session {f.scan.session or 'unknown'}"
                f" but the last completed NYSE session is {f.last_session}; run `turbomode scan`")
    if f.age_hours is None:
        return "no scan has succeeded yet; run `turbomode scan`"
    return f"the newest signal is {f.age_hours:.0f} h old (limit {f.limit_hours:g} h); run `turbomode scan`"


def _parse_loose(text: str) -> datetime:
    """Stored times are UTC ISO text; the old system wrote naive local-looking text, read as UTC."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
