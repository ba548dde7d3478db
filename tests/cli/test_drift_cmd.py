"""`turbomode drift` end to end: a market whose volatility changes is flagged, an unchanged one is not."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from tests.conftest import NOW
from turbomode.store.db import connect

SECTORS = ("Energy", "Utilities")
CHANGE = "2025-07-01"  # volatility regime change date (the last ~8 months)
TRAIN = ("2020-01-02", "2024-06-28")  # the champion's recorded training window, well before it


def market(seed: int, factor: float, hit: str = "Energy", n_per: int = 8) -> pd.DataFrame:
    """A small synthetic market: common market and sector factors, constant volatility; from CHANGE
    on, every return and daily range of ``hit``'s stocks is scaled by ``factor``."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2018-01-02", "2026-01-22")
    after = days >= pd.Timestamp(CHANGE)
    market_r = rng.standard_normal(len(days)) * 0.008
    frames = []
    for sector in SECTORS:
        sector_r = rng.standard_normal(len(days)) * 0.005
        scale = np.where(after & (sector == hit), factor, 1.0)
        for j in range(n_per):
            r = (market_r + sector_r + rng.standard_normal(len(days)) * 0.012 + 0.0003) * scale
            close = 50.0 * np.exp(np.cumsum(r))
            open_ = close * np.exp(-0.3 * r)
            wick = np.abs(rng.standard_normal(len(days))) * 0.006 * scale
            frames.append(pd.DataFrame({
                "symbol": f"{sector[:3].upper()}{j}", "date": days, "open": open_,
                "high": np.maximum(open_, close) * np.exp(wick), "low": np.minimum(open_, close) * np.exp(-wick),
                "close": close, "adj_close": close, "volume": 1e6 * np.exp(rng.standard_normal(len(days)) * 0.3)}))
    return pd.concat(frames, ignore_index=True)


def sectors_of(df: pd.DataFrame) -> dict[str, str]:
    return {s: next(x for x in SECTORS if x[:3].upper() == s[:3]) for s in df["symbol"].unique()}


def set_up_home(home, df: pd.DataFrame, *, with_bins: bool = True) -> None:
    """Prices, a universe file and a champion per sector whose ensemble.json carries its training
    features' PSI bins, registered as the train job does."""
    from turbomode.ml.features import FEATURE_NAMES, compute_features, usable
    from turbomode.ml.metrics import psi_bins
    from turbomode.store import models
    from turbomode.store.prices import write_bars

    home.mkdir(parents=True, exist_ok=True)
    sec = sectors_of(df)
    (home / "universe.csv").write_text("symbol,name,sector\n" + "".join(f"{s},{s} Inc,{x}\n" for s, x in sec.items()))
    (home / "turbomode.toml").write_text(f'[general]\nuniverse = "{(home / "universe.csv").as_posix()}"\n'
                                         '[data]\nsource = "sample"\n')
    conn = connect(home / "turbomode.db")
    write_bars(conn, df, "sample", NOW)
    feats = compute_features(df, sec)
    d = feats.index.get_level_values("date")
    train = feats[usable(feats) & (d >= pd.Timestamp(TRAIN[0])) & (d <= pd.Timestamp(TRAIN[1]))]
    files = []
    version = "20250101T000000Z"
    windows = {"train_start": TRAIN[0], "train_end": TRAIN[1], "calib_start": "2024-07-15",
               "calib_end": "2024-10-31", "valid_start": "2024-11-15", "valid_end": "2024-12-31"}
    for sector in SECTORS:
        rows = train[train["sector"] == sector]
        doc = {"format": 1, "version": version, "sector": sector, "members": [], "windows": windows,
               "feature_names": list(FEATURE_NAMES),
               "psi": {n: psi_bins(rows[n].to_numpy()) for n in FEATURE_NAMES} if with_bins else {}}
        data = json.dumps(doc).encode()
        rel = f"{version}/{sector.lower()}/ensemble.json"
        (home / "models" / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / "models" / rel).write_bytes(data)
        files.append({"sector": sector, "model_type": "ensemble", "path": rel,
                      "sha256": hashlib.sha256(data).hexdigest(), "windows": windows, "metrics": {},
                      "feature_names": list(FEATURE_NAMES)})
    models.record_version(conn, version=version, now=NOW - timedelta(days=300), files=files,
                          promoted=list(SECTORS), run={"status": "succeeded", "sectors": list(SECTORS)})
    conn.close()


def verdicts(data) -> dict[str, str]:
    return {r["sector"]: r["level"] for r in data["flagged"] if r["kind"] == "features"}


@pytest.fixture(autouse=True)
def _at_now():
    import time_machine

    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def alerts(monkeypatch):
    sent = []
    monkeypatch.setattr("turbomode.ops.alerts.notify", lambda ctx, event: sent.append(event) or [])
    return sent


def test_a_volatility_regime_change_is_flagged_significant_on_the_volatility_features(cli, home, alerts):
    set_up_home(home, market(seed=11, factor=2.5))

    result = cli("drift", "--json", "--no-deps")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["summary"]
    assert data["significant_sectors"] == ["Energy"]
    assert verdicts(data).get("Utilities") != "significant"
    energy = {r["name"] for r in data["flagged"]
              if r["sector"] == "Energy" and r["kind"] == "feature" and r["level"] == "significant"}
    assert {"vol_10", "vol_21", "atr_pct", "range_pct"} <= energy
    assert len(alerts) == 1 and "Energy" in alerts[0].message
    conn = connect(home / "turbomode.db")
    stored = conn.execute("SELECT level, run_id FROM drift_runs").fetchall()
    assert [tuple(r) for r in stored] == [("significant", json.loads(result.stdout)["run_id"])]
    from turbomode.ml.features import FEATURE_NAMES

    assert conn.execute("SELECT COUNT(*) FROM drift_results WHERE kind = 'feature'").fetchone()[0] == \
        2 * len(FEATURE_NAMES)


def test_an_unchanged_market_is_not_flagged(cli, home, alerts):
    set_up_home(home, market(seed=11, factor=1.0))

    result = cli("drift", "--json", "--no-deps")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["summary"]
    assert data["significant_sectors"] == [] and data["level"] != "significant"
    assert data["data_source"] == "sample" and "[SAMPLE DATA]" in json.loads(result.stdout)["message"]
    assert "significant" not in verdicts(data).values()
    assert alerts == []


def test_without_saved_bins_the_training_window_is_used(cli, home, alerts):
    set_up_home(home, market(seed=5, factor=2.5), with_bins=False)
    data = json.loads(cli("drift", "--json", "--no-deps").stdout)["summary"]
    assert data["significant_sectors"] == ["Energy"]


def test_retrain_trains_only_the_drifted_sectors_through_the_train_job(cli, home, alerts, monkeypatch):
    from turbomode.ops import runner
    from turbomode.tasks import TaskResult

    set_up_home(home, market(seed=11, factor=2.5))
    calls = []
    real = runner.run_job

    def run_job(ctx, job, options=None, **kw):
        if job == "train":
            calls.append((options, kw.get("trigger")))
            return runner.RunOutcome("train", 99, "succeeded", 0, TaskResult("succeeded", {}, "trained"))
        return real(ctx, job, options, **kw)

    monkeypatch.setattr(runner, "run_job", run_job)
    result = cli("drift", "--retrain", "--no-deps")

    assert result.exit_code == 0, result.output
    assert calls == [({"sector": "Energy"}, "dependency")]
    assert "retrain of Energy: succeeded" in result.output


def test_the_table_names_drifted_measures_and_their_level(cli, home, alerts):
    set_up_home(home, market(seed=11, factor=2.5))
    result = cli("drift", "--no-deps")
    assert result.exit_code == 0, result.output
    assert "vol_21" in result.output and "significant" in result.output
    assert "drift: significant" in result.output


def test_no_champion_is_refused_with_the_fix(cli, home):
    result = cli("drift", "--no-deps")
    assert result.exit_code == 4 and "turbomode train" in result.output


def add_signals(home, rows) -> None:
    """rows: (table, sector, type, confidence, market_date, outcome)."""
    conn = connect(home / "turbomode.db")
    for table, sector, typ, conf, day, outcome in rows:
        if table == "active_signals":
            conn.execute("INSERT INTO active_signals (symbol, signal_type, confidence, sector, created_at,"
                         " market_date, is_active) VALUES ('X', ?, ?, ?, ?, ?, 1)",
                         (typ, conf, sector, f"{day}T23:30:00Z", day))
        else:
            conn.execute("INSERT INTO signal_history (symbol, signal_type, confidence, sector, created_at,"
                         " market_date, closed_at, outcome, realized_return) VALUES ('X',?,?,?,?,?,?,?,?)",
                         (typ, conf, sector, f"{day}T23:30:00Z", day, "2026-01-20T23:30:00Z", outcome,
                          0.02 if outcome == "target" else -0.01))
    conn.close()


def add_backtest(home, hit_rate: float) -> None:
    conn = connect(home / "turbomode.db")
    cur = conn.execute("INSERT INTO backtest_runs (created_at, folds) VALUES ('2026-01-17T23:20:00Z', 5)")
    conn.execute("INSERT INTO backtest_results (backtest_id, slice_kind, slice, trades, hit_rate)"
                 " VALUES (?, 'overall', 'ensemble', 5000, ?)", (cur.lastrowid, hit_rate))
    conn.close()


def test_a_flipped_signal_mix_and_a_collapsed_hit_rate_are_significant(cli, home, alerts):
    set_up_home(home, market(seed=11, factor=1.0))
    rng = np.random.default_rng(0)
    before = [("signal_history", "Utilities", "BUY" if i % 2 else "SELL", 0.58 + rng.random() * 0.1,
               f"2025-12-{1 + i % 20:02d}", "target" if i % 4 == 0 else "stop") for i in range(80)]
    after = [("active_signals", "Utilities", "SELL" if i % 20 else "BUY", 0.58 + rng.random() * 0.1,
              f"2026-01-{2 + i % 20:02d}", None) for i in range(80)]
    closed = [("signal_history", "Utilities", "SELL", 0.6, "2025-10-01", "target" if i < 20 else "stop")
              for i in range(100)]
    add_signals(home, before + after + closed)
    add_backtest(home, hit_rate=0.45)

    result = cli("drift", "--json", "--no-deps")

    data = json.loads(result.stdout)["summary"]
    rows = {(r["sector"], r["kind"], r["name"]): r for r in data["flagged"]}
    assert rows[("ALL", "prediction", "signal_mix")]["level"] == "significant"
    assert rows[("Utilities", "prediction", "signal_mix")]["detail"]["recent"] == {"BUY": 4, "SELL": 76}
    outcome = rows[("ALL", "outcome", "hit_rate")]
    assert outcome["level"] == "significant" and outcome["detail"]["expected"] == 0.45
    assert ("ALL", "prediction", "confidence") not in rows  # same confidence distribution
    assert "Utilities" in data["significant_sectors"]
    assert len(alerts) == 1



def test_a_symbol_with_gaps_is_checked_from_its_own_bars_in_the_recent_and_the_training_window(home):
    """Warm-up counts a symbol's own bars, as train (on the whole history) and scan do: a symbol
    missing 60 days in the year before the recent sessions, and 50 in the year before the training
    window, still has every recent and every training-window row, and the other symbols' own
    features do not change because of it."""
    from turbomode.ml.features import usable
    from turbomode.tasks import drift

    df = market(seed=3, factor=1.0, n_per=3)
    set_up_home(home, df)
    conn = connect(home / "turbomode.db")
    sec = sectors_of(df)
    end = pd.Timestamp(df["date"].max()).date()
    window = 63
    champions = {s: drift.Champion(s, "v", {}, *TRAIN) for s in SECTORS}
    absolute = ["vol_21"]

    def recent():
        feats = drift.recent_features(conn, sec, end, window)
        feats = feats[usable(feats)]
        d = feats.index.get_level_values("date")
        return feats[d.isin(sorted(set(d))[-window:])]

    def training():
        return drift._training_features(conn, champions, sec, absolute)["Energy"]["raw"]

    before, trained = recent(), training()
    recent_days = sorted(set(before.index.get_level_values("date")))
    train_days = sorted(set(trained.index.get_level_values("date")))
    assert str(train_days[0].date()) == TRAIN[0]
    gone = [x[0] for x in conn.execute("SELECT date FROM price_data WHERE symbol = 'ENE0' AND date < ?"
                                       " ORDER BY date DESC LIMIT 60 OFFSET 30", (str(recent_days[0].date()),))]
    gone += [x[0] for x in conn.execute("SELECT date FROM price_data WHERE symbol = 'ENE0' AND date < ?"
                                        " ORDER BY date DESC LIMIT 50 OFFSET 10", (TRAIN[0],))]
    conn.executemany("DELETE FROM price_data WHERE symbol = 'ENE0' AND date = ?", [(x,) for x in gone])
    conn.commit()

    after = recent()
    assert list(after.xs("ENE0", level="symbol").index) == recent_days
    own = ["vol_21", "vol_63", "atr_pct", "volume_trend"]  # not relative to the sector's mean
    pd.testing.assert_frame_equal(after.drop(index="ENE0", level="symbol")[own],
                                  before.drop(index="ENE0", level="symbol")[own], check_exact=True)
    assert list(training().xs("ENE0", level="symbol").index) == train_days
    conn.close()
