"""Drift checks in the database (``drift_runs``/``drift_results``, m003) and the rows they read."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any, Iterable

from turbomode.clock import iso
from turbomode.store.db import transaction


def save(conn: sqlite3.Connection, *, now: datetime, run_id: int | None, model_version: str | None, level: str,
         summary: dict[str, Any], results: Iterable[dict[str, Any]]) -> int:
    """One drift check and its results in one transaction; returns its id.

    ``results``: dicts with sector ('ALL' for the whole universe), kind (feature | prediction |
    outcome), name, value (None when undefined), level and detail (JSON-able).
    """
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO drift_runs (run_id, created_at, model_version, level, summary) VALUES (?, ?, ?, ?, ?)",
            (run_id, iso(now), model_version, level, json.dumps(summary, default=str)))
        did = int(cur.lastrowid)
        conn.executemany(
            "INSERT INTO drift_results (drift_id, sector, kind, name, value, level, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(did, r["sector"], r["kind"], r["name"], r["value"], r["level"],
              json.dumps(r.get("detail") or {}, default=str)) for r in results])
    return did


def latest(conn: sqlite3.Connection, drift_id: int | None = None) -> dict[str, Any] | None:
    """The newest drift check (or check ``drift_id``) with its results, most severe first, or None."""
    if drift_id is not None:
        run = conn.execute("SELECT * FROM drift_runs WHERE id = ?", (drift_id,)).fetchone()
    else:
        run = conn.execute("SELECT * FROM drift_runs ORDER BY created_at DESC, id DESC LIMIT 1").fetchone()
    if run is None:
        return None
    out = dict(run)
    out["summary"] = json.loads(out["summary"]) if out.get("summary") else None
    rows = conn.execute(
        "SELECT sector, kind, name, value, level, detail FROM drift_results WHERE drift_id = ?"
        " ORDER BY CASE level WHEN 'significant' THEN 0 WHEN 'moderate' THEN 1 ELSE 2 END, value DESC",
        (run["id"],)).fetchall()
    out["results"] = [dict(r, detail=json.loads(r["detail"]) if r["detail"] else None) for r in rows]
    return out


def emitted_signals(conn: sqlite3.Connection, start: str, end: str) -> list[dict[str, Any]]:
    """Every signal emitted for a session in [start, end] (YYYY-MM-DD), open or closed."""
    sql = """SELECT sector, signal_type, confidence FROM (
               SELECT sector, signal_type, confidence, COALESCE(market_date, substr(created_at, 1, 10)) AS d
                 FROM active_signals
               UNION ALL
               SELECT sector, signal_type, confidence, COALESCE(market_date, substr(created_at, 1, 10))
                 FROM signal_history WHERE outcome IS NOT NULL)
             WHERE d >= ? AND d <= ?"""
    return [dict(r) for r in conn.execute(sql, (start, end))]


def latest_signal_session(conn: sqlite3.Connection) -> str | None:
    row = conn.execute(
        "SELECT MAX(d) FROM (SELECT MAX(COALESCE(market_date, substr(created_at, 1, 10))) AS d FROM active_signals"
        " UNION ALL SELECT MAX(COALESCE(market_date, substr(created_at, 1, 10))) FROM signal_history)").fetchone()
    return row[0]


def closed_signals(conn: sqlite3.Connection, closed_since: str) -> list[dict[str, Any]]:
    """Signals closed at or after ``closed_since`` (ISO): sector and whether they hit their target.

    Signals never filled ('unfilled') are left out: the backtest's hit rate they are compared with
    counts trades, and a signal whose symbol never traded again was none."""
    return [dict(r) for r in conn.execute(
        "SELECT sector, signal_type, outcome, realized_return FROM signal_history WHERE closed_at >= ?"
        " AND outcome IS NOT 'unfilled'", (closed_since,))]


def backtest_hit_rates(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The latest backtest's hit rates: {'id', 'created_at', 'overall': rate, 'sectors': {sector: rate}}."""
    run = conn.execute("SELECT id, created_at FROM backtest_runs ORDER BY id DESC LIMIT 1").fetchone()
    if run is None:
        return None
    out: dict[str, Any] = {"id": run["id"], "created_at": run["created_at"], "overall": None, "sectors": {}}
    for r in conn.execute("SELECT slice_kind, slice, hit_rate, trades FROM backtest_results WHERE backtest_id = ?"
                          " AND slice_kind IN ('overall', 'sector')", (run["id"],)):
        if r["slice_kind"] == "overall":
            out["overall"] = r["hit_rate"]
        else:
            out["sectors"][r["slice"]] = r["hit_rate"]
    return out
