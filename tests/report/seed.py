"""Rows a report test needs, inserted directly: signals, runs, sector stats, a backtest, a drift check."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

from turbomode.clock import iso

SECTORS = ["Energy", "Financials", "Health Care", "Information Technology", "Utilities"]


def seed_signals(conn, created_at: str, n: int = 24, source: str = "sample") -> list[tuple[str, float]]:
    """``n`` signals with distinct confidences in an order unlike confidence order; returns (symbol, conf)."""
    out = []
    for i in range(n):
        sym = f"S{i:02d}{'XYZ'[i % 3]}"
        conf = round(0.55 + ((i * 7) % n) / (n * 2.5), 4)
        typ = "BUY" if i % 3 else "SELL"
        entry = 20.0 + i * 3.7
        conn.execute(
            "INSERT INTO active_signals (symbol, signal_type, confidence, entry_price, target_price, stop_loss,"
            " sector, created_at, expires_at, is_active, market_date, expiry_date, model_version, data_source)"
            " VALUES (?,?,?,?,?,?,?,?,?,1,?,?,?,?)",
            (sym, typ, conf, entry, entry * (1.06 if typ == "BUY" else 0.94),
             entry * (0.97 if typ == "BUY" else 1.03), SECTORS[i % len(SECTORS)], created_at,
             "2026-02-06T21:00:00Z", created_at[:10], "2026-02-06", "v20260118", source))
        out.append((sym, conf))
    return out


def seed_runs(conn, now) -> None:
    rows = [("ingest", "cron", "succeeded", 1, 40, None), ("scan", "cron", "succeeded", 1, 5, None),
            ("train", "catchup", "failed", 5, 300, "no champion could be trained: too few rows"),
            ("backtest", "cron", "succeeded", 6, 600, None), ("maintain", "manual", "succeeded", 6, 3, None)]
    for task, trig, status, days, secs, error in rows:
        start = now - timedelta(days=days, hours=1)
        conn.execute(
            "INSERT INTO task_runs (task, trigger, started_at, finished_at, status, error, summary)"
            " VALUES (?,?,?,?,?,?,?)",
            (task, trig, iso(start), iso(start + timedelta(seconds=secs)), status, error, json.dumps({"ok": 1})))


def seed_sector_stats(conn) -> None:
    for i, sector in enumerate(SECTORS):
        for typ in ("BUY", "SELL"):
            conn.execute(
                "INSERT INTO sector_stats (sector, signal_type, total_signals, wins, losses, hit_rate, avg_return,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?)",
                (sector, typ, 10 + i, 5 + i % 3, 5, (5 + i % 3) / (10 + i), 0.004 * (i - 2), "2026-01-22T23:31:00Z"))


def seed_backtest(conn, source: str = "sample") -> int:
    cur = conn.execute(
        "INSERT INTO backtest_runs (created_at, start_date, end_date, folds, models, params, metrics, data_source)"
        " VALUES (?,?,?,?,?,?,?,?)",
        ("2026-01-17T23:20:00Z", "2021-01-04", "2025-12-31", 5, json.dumps(["ensemble", "xgboost"]),
         json.dumps({"cost_bps": 6}), json.dumps({"sharpe": 0.8}), source))
    bid = cur.lastrowid
    for kind, sl, hit, sharpe in [("overall", "ensemble", 0.41, 0.82), ("benchmark", "buy_hold", None, 0.55),
                                  ("model", "xgboost", 0.39, 0.61), ("sector", "Energy", 0.44, 0.9)]:
        conn.execute(
            "INSERT INTO backtest_results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (bid, kind, sl, 1234, hit, 0.0021, 1.18, sharpe, -0.143, 0.82, 0.37))
    d, s, b = date(2021, 1, 4), 1.0, 1.0
    for i in range(1250):
        s *= 1 + 0.0004 + 0.009 * math.sin(i / 9.0) * 0.3
        b *= 1 + 0.0003 + 0.011 * math.cos(i / 13.0) * 0.3
        conn.execute("INSERT INTO backtest_equity VALUES (?,?,?,?)", (bid, (d + timedelta(days=i)).isoformat(), s, b))
    return bid


def seed_drift(conn) -> None:
    cur = conn.execute("INSERT INTO drift_runs (created_at, model_version, level, summary) VALUES (?,?,?,?)",
                       ("2026-01-17T23:12:00Z", "v20260118", "significant", json.dumps({"sectors": 11})))
    did = cur.lastrowid
    for sector, kind, name, value, level in [
            ("Energy", "features", "drifted_features", 7, "significant"),
            ("Energy", "feature", "vol_21", 0.41, "significant"), ("Energy", "feature", "atr_pct", 0.18, "moderate"),
            ("Utilities", "prediction", "confidence", 0.05, "none"), ("ALL", "outcome", "hit_rate", 0.31, "none")]:
        conn.execute("INSERT INTO drift_results VALUES (?,?,?,?,?,?,?)",
                     (did, sector, kind, name, value, level, json.dumps({})))


RELIABILITY = {"BUY": [{"lo": 0.1, "hi": 0.2, "predicted": 0.17, "observed": 0.18, "count": 900},
                       {"lo": 0.2, "hi": 0.3, "predicted": 0.25, "observed": 0.24, "count": 2400},
                       {"lo": 0.4, "hi": 0.5, "predicted": 0.43, "observed": 0.41, "count": 120}],
               "SELL": [{"lo": 0.2, "hi": 0.3, "predicted": 0.26, "observed": 0.27, "count": 2600},
                        {"lo": 0.3, "hi": 0.4, "predicted": 0.34, "observed": 0.33, "count": 700}]}


def seed_models(conn, now) -> None:
    """A training run and two champions whose ensembles carry their test-window calibration."""
    from turbomode.store import models

    test = {"rows": 3420, "ece_buy": 0.012, "ece_sell": 0.009, "brier_buy": 0.19, "brier_sell": 0.18,
            "reliability": RELIABILITY}
    files = [{"sector": s, "model_type": "ensemble", "path": f"v1/{s}/ensemble.json", "sha256": "x",
              "windows": {"test_start": "2025-07-01", "test_end": "2025-12-31"}, "metrics": {"test": test},
              "feature_names": []} for s in ("Energy", "Utilities")]
    models.record_version(conn, version="v20260118", now=now, files=files, promoted=["Energy", "Utilities"],
                          run={"status": "succeeded", "metrics": {"test": test}})


def seed_everything(conn, now, signal_age_hours: float = 12.0) -> list[tuple[str, float]]:
    sigs = seed_signals(conn, iso(now - timedelta(hours=signal_age_hours)))
    seed_runs(conn, now)
    seed_sector_stats(conn)
    seed_backtest(conn)
    seed_drift(conn)
    return sigs
