"""Read-only queries behind the HTML report: job runs, the latest backtest and drift (signals: store.signals)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

def _dicts(rows) -> list[dict[str, Any]]:
    return [dict(r) for r in rows]


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def recent_runs(conn: sqlite3.Connection, limit: int = 25) -> list[dict[str, Any]]:
    rows = _dicts(conn.execute(
        "SELECT id, task, trigger, status, scheduled_for, started_at, finished_at, summary, error, exit_code"
        " FROM task_runs ORDER BY started_at DESC, id DESC LIMIT ?", (limit,)))
    for r in rows:
        r["summary"] = _json(r["summary"])
    return rows


def latest_backtest(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The newest backtest run with its per-slice results and equity curve, or None."""
    run = conn.execute("SELECT * FROM backtest_runs ORDER BY created_at DESC, id DESC LIMIT 1").fetchone()
    if run is None:
        return None
    out = dict(run)
    for key in ("models", "params", "metrics"):
        out[key] = _json(out.get(key))
    out["results"] = _dicts(conn.execute(
        "SELECT slice_kind, slice, trades, hit_rate, mean_return, profit_factor, sharpe, max_drawdown,"
        " exposure, total_return FROM backtest_results WHERE backtest_id = ? ORDER BY slice_kind, slice",
        (run["id"],)))
    out["equity"] = [tuple(r) for r in conn.execute(
        "SELECT date, strategy, buy_hold FROM backtest_equity WHERE backtest_id = ? ORDER BY date", (run["id"],))]
    out["fold_windows"] = _dicts(conn.execute(
        "SELECT fold, train_start, train_end, test_start, test_end FROM backtest_folds WHERE backtest_id = ?"
        " ORDER BY fold", (run["id"],)))
    return out
