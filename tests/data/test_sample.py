from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from turbomode.data import sample
from turbomode.data.universe import Security, load_universe

START = date(2015, 1, 1)


@pytest.fixture(scope="module")
def small_universe():
    uni = load_universe()
    # two stocks per sector keeps the tests fast and every sector factor in play
    out, seen = [], {}
    for s in uni:
        if seen.get(s.sector, 0) < 2:
            out.append(s)
            seen[s.sector] = seen.get(s.sector, 0) + 1
    return out


def test_bars_up_to_a_date_are_identical_whatever_the_end(small_universe):
    short = sample.generate(small_universe, START, date(2016, 6, 30), seed=3, strength=0.6)
    long = sample.generate(small_universe, START, date(2018, 3, 1), seed=3, strength=0.6)
    cut = long[long["date"] <= pd.Timestamp("2016-06-30")].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, cut)


def test_a_symbols_bars_depend_only_on_its_own_sector(small_universe):
    sym, sector = small_universe[0].symbol, small_universe[0].sector
    same_sector = [s for s in small_universe if s.sector == sector]
    alone = sample.generate(same_sector, START, date(2016, 1, 1), seed=3, strength=0.6, symbols=[sym])
    everyone = sample.generate(small_universe, START, date(2016, 1, 1), seed=3, strength=0.6)
    pd.testing.assert_frame_equal(alone, everyone[everyone.symbol == sym].reset_index(drop=True))


def test_asking_for_some_symbols_returns_them_from_the_whole_market(small_universe):
    wanted = [small_universe[0].symbol, small_universe[5].symbol]
    some = sample.generate(small_universe, START, date(2015, 6, 1), seed=3, strength=0.6, symbols=wanted)
    everyone = sample.generate(small_universe, START, date(2015, 6, 1), seed=3, strength=0.6)
    pd.testing.assert_frame_equal(some, everyone[everyone.symbol.isin(wanted)].reset_index(drop=True))


def test_since_returns_only_the_later_bars_of_the_same_market(small_universe):
    full = sample.generate(small_universe, START, date(2016, 1, 1), seed=3, strength=0.6)
    tail = sample.generate(small_universe, START, date(2016, 1, 1), seed=3, strength=0.6, since=date(2015, 12, 1))
    expect = full[full.date >= pd.Timestamp("2015-12-01")].reset_index(drop=True)
    pd.testing.assert_frame_equal(tail, expect)


def test_a_different_seed_gives_a_different_market(small_universe):
    a = sample.generate(small_universe[:2], START, date(2015, 3, 1), seed=1, strength=0.6)
    b = sample.generate(small_universe[:2], START, date(2015, 3, 1), seed=2, strength=0.6)
    assert not np.allclose(a.close.to_numpy(), b.close.to_numpy())


def test_bars_are_business_days_with_consistent_positive_ohlcv(small_universe):
    df = sample.generate(small_universe, START, date(2017, 1, 1), seed=5, strength=0.6)
    assert list(df.columns) == ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]
    assert df.date.dt.day_of_week.max() <= 4
    assert (df.date == df.date.dt.normalize()).all()
    assert df.groupby("symbol").size().nunique() == 1
    assert df.date.min() == pd.Timestamp("2015-01-01") and df.date.max() == pd.Timestamp("2016-12-30")
    assert (df[["open", "high", "low", "close", "volume"]] > 0).all().all()
    assert (df.high >= df[["open", "close"]].max(axis=1)).all()
    assert (df.low <= df[["open", "close"]].min(axis=1)).all()
    assert (df.adj_close == df.close).all()
    assert df.sort_values(["symbol", "date"]).index.equals(df.index)
    # opens gap away from the previous close, but not wildly
    prev = df.groupby("symbol").close.shift()
    gap = np.log(df.open / prev).dropna()
    assert (gap != 0).mean() > 0.9 and gap.abs().median() < 0.02


def _returns(df):
    c = df.pivot(index="date", columns="symbol", values="close")
    return c, np.log(c).diff().iloc[1:].to_numpy()


def test_returns_have_fat_tails_and_volatility_clustering(small_universe):
    _, r = _returns(sample.generate(small_universe, START, date(2021, 1, 1), seed=5, strength=0.0))
    from scipy.stats import kurtosis

    assert kurtosis(r.ravel()) > 2.0
    a = np.abs(r)
    assert np.corrcoef(a[:-1].ravel(), a[1:].ravel())[0, 1] > 0.08
    # market factor: stocks move together
    corr = np.corrcoef(r.T)
    assert corr[np.triu_indices_from(corr, 1)].mean() > 0.15
    # volume surprises go with big moves
    df = sample.generate(small_universe, START, date(2021, 1, 1), seed=5, strength=0.0)
    df["absret"] = np.log(df.close / df.groupby("symbol").close.shift()).abs()
    df["lv"] = np.log(df.volume) - df.groupby("symbol").volume.transform(lambda v: np.log(v).mean())
    assert df[["absret", "lv"]].corr().iloc[0, 1] > 0.1


def _edge(strength, universe):
    c, r = _returns(sample.generate(universe, START, date(2021, 1, 1), seed=11, strength=strength))
    sectors = {s.symbol: s.sector for s in universe}
    signal = sample.planted_from_closes(c.to_numpy(), 1.0, [sectors[x] for x in c.columns])[:-1]
    ok = ~np.isnan(signal).any(axis=1)
    # cross-sectional: demean per day so the common market move (one draw a day) is not counted
    # as thousands of independent samples
    s = signal[ok] - signal[ok].mean(axis=1, keepdims=True)
    y = r[ok] - r[ok].mean(axis=1, keepdims=True)
    return np.corrcoef(s.ravel(), y.ravel())[0, 1], np.corrcoef(r[:-1].ravel(), r[1:].ravel())[0, 1]


def test_strength_zero_is_a_random_walk_without_edge(small_universe):
    ic, autocorr = _edge(0.0, small_universe)
    assert abs(ic) < 0.025  # about 4.5 standard errors (22 symbols x 1,500 days)
    assert abs(autocorr) < 0.03


def test_the_planted_component_is_learnable_at_the_default_strength(small_universe):
    ic, _ = _edge(0.6, small_universe)
    assert ic > 0.08


def test_planted_component_is_the_generators_rule_recomputed_from_stored_closes(small_universe):
    end = date(2016, 1, 1)
    df = sample.generate(small_universe, START, end, seed=4, strength=0.8)
    pc = sample.planted_component(small_universe, START, end, seed=4, strength=0.8)
    assert len(pc) == len(df) and (pc.symbol.to_numpy() == df.symbol.to_numpy()).all()
    wide = df.pivot(index="date", columns="symbol", values="close")
    closes = wide.to_numpy()
    sector_of = {s.symbol: s.sector for s in small_universe}
    from_closes = sample.planted_from_closes(closes, 0.8, [sector_of[x] for x in wide.columns])
    planted = pc.pivot(index="date", columns="symbol", values="planted_next").to_numpy()
    np.testing.assert_array_equal(np.isnan(planted), np.isnan(from_closes))
    np.testing.assert_allclose(planted, from_closes, rtol=0, atol=1e-15)
    assert np.isnan(planted[: sample.RULE_WINDOW - 1]).all() and not np.isnan(planted[sample.RULE_WINDOW - 1 :]).any()
    # and it is the past-only rule: changing a future close does not change today's value
    bumped = closes.copy()
    bumped[100:] *= 1.5
    np.testing.assert_array_equal(
        sample.planted_from_closes(bumped, 0.8, [sector_of[x] for x in wide.columns])[:100], from_closes[:100])


def test_the_planted_drift_is_demeaned_within_each_sector_on_every_date(small_universe):
    pc = sample.planted_component(small_universe, START, date(2016, 1, 1), seed=4, strength=0.8).dropna()
    sector_of = {s.symbol: s.sector for s in small_universe}
    means = pc.assign(sector=pc.symbol.map(sector_of)).groupby(["sector", "date"]).planted_next.mean()
    assert means.abs().max() < 1e-12
    # and about half point each way, whatever the market did
    assert 0.45 < (pc.planted_next > 0).mean() < 0.55


def test_the_oracle_is_the_probability_of_the_trade_rule_under_the_generators_own_laws(small_universe):
    from turbomode.ml.labels import LabelParams, triple_barrier
    from turbomode.ml.quality import clustered_se

    end = date(2018, 6, 30)
    days = sample.business_days(START, end)
    dates = days[300:900:4]
    parts = []
    for seed in (4, 5, 6):  # one market is one path of its market factor: pool three
        o = sample.oracle(small_universe, START, end, seed=seed, strength=0.8, label_params=LabelParams(),
                          dates=dates, paths=100)
        assert len(o) == len(dates) * len(small_universe) and o[["p_buy", "p_sell"]].stack().between(0, 1).all()
        labels = triple_barrier(sample.generate(small_universe, START, end, seed=seed, strength=0.8), LabelParams())
        parts.append(o.merge(labels, on=["symbol", "date"]).assign(market=seed))
    m = pd.concat(parts, ignore_index=True)
    cluster = m.market.astype(str) + m.date.astype(str)
    # calibrated: the chance that either side's target is hit first is the oracle's p_buy + p_sell
    # (a market trend lifts one side and lowers the other; their sum does not care), and so is each side
    err = (m.label != "HOLD").astype(float) - (m.p_buy + m.p_sell)
    assert abs(err.mean()) <= 2 * clustered_se(err.to_numpy(), cluster.to_numpy())
    for side, col in (("BUY", "p_buy"), ("SELL", "p_sell")):
        err = (m.label == side).astype(float) - m[col]
        assert abs(err.mean()) <= 2 * clustered_se(err.to_numpy(), cluster.to_numpy()), side
        # and within a date it tells the stocks apart: the side it favours is hit more often
        within = m.assign(hit=(m.label == side).astype(float)).groupby(cluster)[[col, "hit"]].transform(
            lambda x: x - x.mean())
        assert np.corrcoef(within[col], within["hit"])[0, 1] > 0.1, side
    # the same call gives the same numbers (seeded from the generator's seed and the date)
    again = sample.oracle(small_universe, START, end, seed=6, strength=0.8, label_params=LabelParams(),
                          dates=dates[:3], paths=100)
    first = parts[-1][["symbol", "date", "p_buy", "p_sell"]]
    first = first[first.date.isin(pd.to_datetime(dates[:3]))].sort_values(["symbol", "date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(again, first)


@pytest.mark.parametrize(
    "now, expected",
    [
        (datetime(2026, 1, 23, 12, 0, tzinfo=timezone.utc), date(2026, 1, 22)),  # Fri 07:00 NY
        (datetime(2026, 1, 23, 21, 0, tzinfo=timezone.utc), date(2026, 1, 23)),  # Fri 16:00 NY exactly
        (datetime(2026, 1, 23, 20, 59, tzinfo=timezone.utc), date(2026, 1, 22)),
        (datetime(2026, 1, 25, 12, 0, tzinfo=timezone.utc), date(2026, 1, 23)),  # Sunday
        (datetime(2026, 1, 26, 14, 0, tzinfo=timezone.utc), date(2026, 1, 23)),  # Monday morning
        (datetime(2026, 7, 6, 20, 0, tzinfo=timezone.utc), date(2026, 7, 6)),  # summer: 16:00 NY = 20:00Z
    ],
)
def test_sample_sessions_close_at_four_pm_new_york(now, expected):
    assert sample.last_completed_session(now) == expected


def test_empty_range_gives_no_bars():
    assert len(sample.business_days(date(2020, 1, 2), date(2020, 1, 1))) == 0
    df = sample.generate([Security("AAA", "A", "Energy")], START, date(2014, 1, 1), seed=1, strength=0.5)
    assert df.empty and list(df.columns)[:2] == ["symbol", "date"]
