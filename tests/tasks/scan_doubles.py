"""Test doubles for the scan: bars written straight into price_data, a champion with fixed
probabilities, and a home whose universe is a few symbols."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

SECTORS = {"AAA": "Energy", "BBB": "Energy", "CCC": "Utilities", "DDD": "Utilities", "NEW": "Utilities"}


def business_days(start: date, end: date) -> list[str]:
    out, d = [], start
    while d <= end:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += timedelta(days=1)
    return out


def write_home(home, sectors=SECTORS, min_confidence=0.55, horizon=5, source="sample", start=None) -> None:
    home.mkdir(parents=True, exist_ok=True)
    uni = home / "universe.csv"
    uni.write_text("symbol,name,sector\n" + "".join(f"{s},{s} Inc,{sec}\n" for s, sec in sectors.items()))
    dates = f'start = "{start}"\n[data.sample]\nstart = "{start}"\n' if start else ""
    (home / "turbomode.toml").write_text(
        f'[general]\nuniverse = "{uni.as_posix()}"\n[data]\nsource = "{source}"\n{dates}'
        f"[signals]\nmin_confidence = {min_confidence}\n[labels]\nhorizon_days = {horizon}\n"
    )


def add_bars(conn, symbol: str, days: list[str], close=100.0, spread=0.5, open_=None) -> None:
    """Flat bars (or the closes given as a list), high/low ``spread`` around the close."""
    closes = close if isinstance(close, list) else [close] * len(days)
    rows = [(symbol, d, c if open_ is None else open_, c + spread, c - spread, c, c, 1e6, "sample", "t")
            for d, c in zip(days, closes)]
    conn.executemany("INSERT OR REPLACE INTO price_data (symbol, date, open, high, low, close, adj_close, volume,"
                     " source, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)


def add_sessions(conn, days: list[str]) -> None:
    conn.executemany("INSERT OR REPLACE INTO market_sessions (date, open_utc, close_utc) VALUES (?, ?, ?)",
                     [(d, f"{d}T14:30:00Z", f"{d}T21:00:00Z") for d in days])


def set_meta(conn, key, value) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value, updated_at) VALUES (?, ?, 't')", (key, value))


class FakeChampions:
    """Fixed probabilities per symbol (default: HOLD); version 'test-v1' for every sector."""

    def __init__(self, probs: dict[str, tuple[float, float, float]] | None = None):
        self.probs = dict(probs or {})
        self.seen: list[pd.DataFrame] = []

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        assert "sector" in features.columns
        self.seen.append(features)
        rows = [self.probs.get(sym, (0.1, 0.1, 0.8)) for sym in features.index.get_level_values("symbol")]
        return pd.DataFrame(rows, index=features.index, columns=["prob_buy", "prob_sell", "prob_hold"])

    def version(self, sector: str) -> str:
        return "test-v1"


def fake_features(panel: pd.DataFrame, sectors) -> pd.DataFrame:
    """One feature, NaN until a symbol has 20 bars (the warm-up a real feature set needs)."""
    p = panel.sort_values(["symbol", "date"]).copy()
    p["f1"] = np.where(p.groupby("symbol").cumcount() >= 19, p["close"], np.nan)
    return p.set_index(["symbol", "date"])[["f1"]]


SIGMA = 0.02  # the trade rule's volatility every symbol gets from ``fake_vol``


def fake_vol(panel: pd.DataFrame, days: int) -> dict[str, tuple[float, float]]:
    """symbol -> (price ATR, sigma): 2.0 and 0.02 for every symbol."""
    return {s: (2.0, SIGMA) for s in sorted(panel["symbol"].unique())}


def register_version(conn, version: str, sector: str, data_end: str, status: str = "champion",
                     decided_end: str | None = None, created_at: str = "2026-01-23T12:00:00Z") -> None:
    """A model_metadata ensemble row (no files): enough for the point-in-time choice of versions.
    ``decided_end`` (the last price date that fitted or chose it) is ``data_end`` unless given; None
    for a row from before it was recorded is ``decided_end=""``."""
    conn.execute("INSERT INTO model_metadata (version, sector, model_type, path, sha256, status, created_at,"
                 " data_end, decided_end) VALUES (?, ?, 'ensemble', ?, 'x', ?, ?, ?, ?)",
                 (version, sector, f"{version}/x/ensemble.json", status, created_at, data_end,
                  None if decided_end == "" else decided_end or data_end))
