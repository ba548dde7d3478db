"""Stored backtests: one transaction per run, read back as written."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import NOW
from turbomode.store import backtests


def _example(**over):
    args = dict(
        now=NOW, run_id=7, start_date="2020-01-02", end_date="2020-12-31",
        folds=[{"fold": 1, "train_start": "2015-01-02", "train_end": "2019-12-16",
                "test_start": "2020-01-02", "test_end": "2020-12-31"}],
        models=["logistic"], params={"cost_bps": 6.0}, metrics={"base_rate": 0.33}, data_source="sample",
        results=[{"slice_kind": "overall", "slice": "ensemble", "trades": 3, "hit_rate": 1 / 3,
                  "mean_return": 0.01, "profit_factor": None, "sharpe": 0.5, "max_drawdown": -0.1,
                  "exposure": 0.4, "total_return": 0.02}],
        equity=[("2020-01-02", 1.0, 1.0), ("2020-01-03", 1.01, 0.99)],
    )
    args.update(over)
    return args


def test_a_saved_backtest_reads_back_as_written(fresh_db):
    bid = backtests.save(fresh_db, **_example())
    got = backtests.load(fresh_db)
    assert got["id"] == bid and got["created_at"] == "2026-01-23T12:00:00Z" and got["folds"] == 1
    assert got["models"] == ["logistic"] and got["params"] == {"cost_bps": 6.0}
    assert got["fold_windows"][0]["train_end"] == "2019-12-16"
    assert got["results"][0]["profit_factor"] is None and got["results"][0]["trades"] == 3
    assert got["equity"] == [("2020-01-02", 1.0, 1.0), ("2020-01-03", 1.01, 0.99)]


def test_load_returns_none_when_no_backtest_ran(fresh_db):
    assert backtests.load(fresh_db) is None


def test_a_failed_write_leaves_no_partial_backtest(fresh_db):
    fold = _example()["folds"][0]
    with pytest.raises(sqlite3.IntegrityError):
        backtests.save(fresh_db, **_example(folds=[fold, fold]))  # duplicate fold number
    for table in ("backtest_runs", "backtest_folds", "backtest_results", "backtest_equity"):
        assert fresh_db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
