"""Backtest results: one run row, its fold windows, per-slice metrics and the equity curve (m003).

``backtest_results.slice_kind`` is one of ``overall`` (slice ``ensemble``: every ensemble signal),
``benchmark`` (``buy_hold``: equal-weight buy-and-hold of the universe over the same sessions),
``model`` (one per model type, plus ``ensemble``), ``sector`` (the ensemble's signals in one sector)
and ``fold`` (the ensemble's signals in fold ``1``..``N``). ``max_drawdown`` is negative (equity /
peak - 1); undefined numbers are NULL.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any, Iterable

from turbomode.clock import iso
from turbomode.store.db import transaction

METRIC_COLUMNS = ("trades", "hit_rate", "mean_return", "profit_factor", "sharpe", "max_drawdown", "exposure",
                  "total_return")
SLICE_KINDS = ("overall", "benchmark", "model", "sector", "fold")


def save(conn: sqlite3.Connection, *, now: datetime, run_id: int | None, start_date: str, end_date: str,
         folds: Iterable[dict[str, Any]], models: list[str], params: dict[str, Any], metrics: dict[str, Any],
         data_source: str | None, results: Iterable[dict[str, Any]],
         equity: Iterable[tuple[str, float, float]]) -> int:
    """Write one backtest in one transaction; returns its id.

    ``folds``: dicts with fold, train_start, train_end, test_start, test_end (dates).
    ``results``: dicts with slice_kind, slice and the METRIC_COLUMNS (None where undefined).
    ``equity``: (date, strategy equity, buy-and-hold equity) per session.
    """
    folds, results, equity = list(folds), list(results), list(equity)
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO backtest_runs (run_id, created_at, start_date, end_date, folds, models, params,"
            " metrics, data_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, iso(now), start_date, end_date, len(folds), json.dumps(models), json.dumps(params),
             json.dumps(metrics), data_source),
        )
        bid = int(cur.lastrowid)
        conn.executemany(
            "INSERT INTO backtest_folds (backtest_id, fold, train_start, train_end, test_start, test_end)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(bid, f["fold"], f["train_start"], f["train_end"], f["test_start"], f["test_end"]) for f in folds],
        )
        conn.executemany(
            f"INSERT INTO backtest_results (backtest_id, slice_kind, slice, {', '.join(METRIC_COLUMNS)})"
            f" VALUES (?, ?, ?, {', '.join('?' * len(METRIC_COLUMNS))})",
            [(bid, r["slice_kind"], r["slice"], *(r.get(c) for c in METRIC_COLUMNS)) for r in results],
        )
        conn.executemany(
            "INSERT INTO backtest_equity (backtest_id, date, strategy, buy_hold) VALUES (?, ?, ?, ?)",
            [(bid, d, s, b) for d, s, b in equity],
        )
    return bid


def latest_id(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT id FROM backtest_runs ORDER BY id DESC LIMIT 1").fetchone()
    return int(row[0]) if row else None


def load(conn: sqlite3.Connection, backtest_id: int | None = None) -> dict[str, Any] | None:
    """One stored backtest (the latest by default) as plain data, or None when there is none."""
    bid = latest_id(conn) if backtest_id is None else backtest_id
    if bid is None:
        return None
    run = conn.execute("SELECT * FROM backtest_runs WHERE id = ?", (bid,)).fetchone()
    if run is None:
        return None
    out = dict(run)
    for key in ("models", "params", "metrics"):
        out[key] = json.loads(out[key]) if out[key] else None
    out["fold_windows"] = [dict(r) for r in conn.execute(
        "SELECT fold, train_start, train_end, test_start, test_end FROM backtest_folds"
        " WHERE backtest_id = ? ORDER BY fold", (bid,))]
    out["results"] = [dict(r) for r in conn.execute(
        f"SELECT slice_kind, slice, {', '.join(METRIC_COLUMNS)} FROM backtest_results WHERE backtest_id = ?"
        " ORDER BY slice_kind, slice", (bid,))]
    out["equity"] = [tuple(r) for r in conn.execute(
        "SELECT date, strategy, buy_hold FROM backtest_equity WHERE backtest_id = ? ORDER BY date", (bid,))]
    return out
