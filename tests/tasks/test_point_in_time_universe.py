"""A point-in-time universe: stocks count only on the dates they were members; a fixed list is flagged."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from turbomode.data.universe import (FIXED_UNIVERSE_NOTE, Security, is_point_in_time, load_universe, member_mask,
                                     membership, survivorship_note)
from turbomode.errors import BadInput

GONE_ON = "2019-07-01"  # delisted mid-history: its bars stop the session before
LATE_ON = "2020-01-02"  # added late: its bars exist before (the price history was public), it counts from here


def _universe(tmp_path, rows: str):
    p = tmp_path / "u.csv"
    p.write_text("symbol,name,sector,added,removed\n" + rows)
    return load_universe(p)


def test_membership_dates_are_read_and_checked(tmp_path):
    u = _universe(tmp_path, f"AAA,A,Energy,,\nGONE,G,Energy,,{GONE_ON}\nLATE,L,Energy,{LATE_ON},\n")
    assert [(s.symbol, s.added, s.removed) for s in u] == [("AAA", None, None), ("GONE", None, GONE_ON),
                                                           ("LATE", LATE_ON, None)]
    assert is_point_in_time(u) and survivorship_note(u) is None
    assert u[1].member_on("2019-06-28") and not u[1].member_on(GONE_ON)
    assert not u[2].member_on("2019-12-31") and u[2].member_on(LATE_ON)


@pytest.mark.parametrize("row, words", [
    ("X,X,Energy,2020-13-01,", "added '2020-13-01' is not a date"),
    ("X,X,Energy,2020-02-01,2020-01-01", "removed (2020-01-01) before it is added"),
])
def test_a_bad_membership_date_is_one_clear_line(tmp_path, row, words):
    with pytest.raises(BadInput, match=words.replace("(", r"\(").replace(")", r"\)")):
        _universe(tmp_path, row + "\n")


def test_the_bundled_universe_is_a_fixed_list_with_survivorship_bias():
    u = load_universe()
    assert not is_point_in_time(u) and survivorship_note(u) == FIXED_UNIVERSE_NOTE
    assert "survivorship bias: fixed universe" in FIXED_UNIVERSE_NOTE


def _market():
    from turbomode.data.sample import generate

    secs = [Security(f"E{i}", f"E{i}", "Energy") for i in range(5)] + [
        Security("GONE", "Gone", "Energy", None, GONE_ON), Security("LATE", "Late", "Energy", LATE_ON, None)]
    bars = generate(secs, date(2016, 1, 4), date(2021, 6, 30), seed=3, strength=1.0)
    bars = bars[~((bars["symbol"] == "GONE") & (bars["date"] >= pd.Timestamp(GONE_ON)))]
    return secs, bars.reset_index(drop=True)


def test_features_exist_only_on_member_days_and_sector_means_count_only_members():
    from turbomode.ml.features import DIRECTIONAL, compute_features, usable

    secs, bars = _market()
    sectors = {s.symbol: s.sector for s in secs}
    f = compute_features(bars, sectors, membership(secs))
    ok = f[usable(f)]
    days = lambda sym: ok.xs(sym, level="symbol").index  # noqa: E731
    assert days("LATE").min() == pd.Timestamp(LATE_ON) and days("GONE").max() < pd.Timestamp(GONE_ON)
    # before LATE joined, its sector's relative features are measured without it
    without = compute_features(bars[bars["symbol"] != "LATE"], sectors)
    day = pd.Timestamp("2019-10-01")
    np.testing.assert_allclose(ok.loc[("E1", day), list(DIRECTIONAL)].astype(float),
                               without.loc[("E1", day), list(DIRECTIONAL)].astype(float), atol=1e-5)


@pytest.mark.slow
def test_the_walk_forward_trains_signals_and_holds_a_stock_only_while_it_is_a_member():
    from turbomode.config import defaults
    from turbomode.tasks.backtest import walk_forward

    secs, bars = _market()
    sectors = {s.symbol: s.sector for s in secs}
    cfg = defaults().with_overrides(models__trees=10, models__min_train_rows=100, models__valid_days=60,
                                    models__calib_days=60, models__test_days=40, signals__min_confidence=0.26)
    wf = walk_forward(bars, sectors, cfg, models=["logistic"], n_folds=2, members=membership(secs))
    sig = wf.signals["ensemble"]
    sym = np.asarray(wf.symbols)[sig.sym]
    day = wf.sessions[sig.t]
    assert len(sig) > 0
    assert not ((sym == "LATE") & (day < np.datetime64(LATE_ON))).any()
    assert not ((sym == "GONE") & (day >= np.datetime64(GONE_ON))).any()
    late = wf.symbols.index("LATE")
    before = wf.sessions < np.datetime64(LATE_ON)
    assert not wf.prices.member[late, before].any() and wf.prices.member[late, ~before].all()


@pytest.mark.slow
def test_the_walk_forward_can_signal_a_stock_in_its_last_sessions_before_it_stops_trading():
    """A live scan cannot know that a stock stops trading within a horizon: it scans it on its last
    member sessions like any other. The walk-forward only tested rows whose label horizon was
    complete, so it silently skipped every stock's last ``horizon_days`` sessions before a delisting
    (knowledge of the future that picked which stocks it traded)."""
    from turbomode.config import defaults
    from turbomode.ml.backtest import OPEN, PENDING
    from turbomode.tasks.backtest import walk_forward

    secs, bars = _market()
    sectors = {s.symbol: s.sector for s in secs}
    cfg = defaults().with_overrides(models__trees=10, models__min_train_rows=100, models__valid_days=60,
                                    models__calib_days=60, models__test_days=40, signals__min_confidence=0.26)
    wf = walk_forward(bars, sectors, cfg, models=["logistic"], n_folds=2, members=membership(secs))
    last_bar = bars.loc[bars["symbol"] == "GONE", "date"].max().to_datetime64().astype("datetime64[D]")
    assert wf.sessions[wf.folds[0].test_start] < last_bar < wf.sessions[wf.folds[-1].test_end]
    c = wf.candidates
    gone = np.asarray(wf.symbols)[c.sym] == "GONE"
    days = wf.sessions[c.t[gone]]
    tail = wf.sessions[(wf.sessions > last_bar - np.timedelta64(20, "D")) & (wf.sessions <= last_bar)]
    assert set(tail) <= set(days)  # every session up to its last bar was a candidate
    # its trades there end at the last close it traded at (open), or never fill (its last bar)
    at_end = gone & (wf.sessions[c.t] > last_bar - np.timedelta64(10, "D"))
    assert (c.outcome[at_end & (wf.sessions[c.t] < last_bar)] != PENDING).all()
    assert (c.outcome[gone & (wf.sessions[c.t] == last_bar)] == PENDING).all()
    opened = at_end & (c.outcome == OPEN)
    assert opened.any() and (wf.sessions[c.exit_t[opened]] == last_bar).all()


def test_a_stock_that_left_keeps_its_bars_and_is_not_fetched_again(cli, home):
    import json
    from datetime import datetime, timezone

    import time_machine

    from turbomode.store.db import connect

    home.mkdir(parents=True, exist_ok=True)
    (home / "u.csv").write_text("symbol,name,sector,added,removed\nAAPL,Apple,Information Technology,,\n"
                                "MSFT,Microsoft,Information Technology,,2026-01-15\n")
    (home / "turbomode.toml").write_text(f'[general]\nuniverse = "{(home / "u.csv").as_posix()}"\n'
                                         '[data]\nsource = "sample"\nstart = "2025-10-01"\n'
                                         '[data.sample]\nstart = "2025-10-01"\n')
    with time_machine.travel(datetime(2026, 1, 12, 22, tzinfo=timezone.utc), tick=False):
        assert cli("ingest").exit_code == 0
    conn = connect(home / "turbomode.db")
    msft = conn.execute("SELECT COUNT(*), MAX(date) FROM price_data WHERE symbol = 'MSFT'").fetchone()
    with time_machine.travel(datetime(2026, 1, 23, 22, tzinfo=timezone.utc), tick=False):
        r = cli("ingest", "--json")
    assert r.exit_code == 0, r.output
    assert conn.execute("SELECT COUNT(*), MAX(date) FROM price_data WHERE symbol = 'MSFT'").fetchone() == msft
    assert any("left the universe" in n for n in json.loads(r.stdout)["summary"].get("notes", [])), r.stdout
