import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from tests.ml.synth import make_panel
from turbomode.ml.labels import LabelParams, expiry_session, levels, triple_barrier
from turbomode.ml.quality import clustered_se

# Warm-up bars 100 * exp(+-0.01) give a log ATR (sigma) of 0.02 over 2 bars, so a trade filled at
# 100 has BUY target 100 e^0.04 and stop 100 e^-0.02; SELL target 100 e^-0.04 and stop 100 e^0.02.
P = LabelParams(target_multiple=2.0, stop_multiple=1.0, horizon_days=3, atr_days=2)
SIGMA = 0.02


def px(k: float) -> float:
    return 100.0 * math.exp(k * SIGMA)


def _bars(after: list[tuple[float, float]], before: int = 3) -> pd.DataFrame:
    """Warm-up bars, then bars opening at 100 with (high, low) in sigma units, closing mid-range."""
    rows = [(100.0, px(0.5), px(-0.5), 100.0)] * before
    rows += [(100.0, px(h), px(lo), px((h + lo) / 2)) for h, lo in after]
    dates = pd.bdate_range("2024-01-02", periods=len(rows))
    return pd.DataFrame({"symbol": "X", "date": dates, "open": [r[0] for r in rows], "high": [r[1] for r in rows],
                         "low": [r[2] for r in rows], "close": [r[3] for r in rows],
                         "adj_close": [r[3] for r in rows], "volume": 1e6})


def _label_of_signal(after, params=P):
    labels = triple_barrier(_bars(after), params)
    row = labels[labels["date"] == pd.Timestamp("2024-01-04")]  # the third warm-up bar
    assert len(row) == 1
    return row.iloc[0]


@pytest.mark.parametrize("after, label, bars", [
    ([(1.0, -0.5), (2.2, 0.0), (0.5, -0.5)], "BUY", 2),     # target 2 sigma touched first
    ([(0.5, -1.2), (2.2, 0.0), (0.5, -0.5)], "HOLD", 3),    # BUY stopped at -1; SELL never reaches -2
    ([(0.5, -1.2), (0.0, -2.1), (0.5, -0.5)], "SELL", 2),   # SELL target -2 before its stop +1
    ([(2.2, -1.2), (0.5, -0.5), (0.5, -0.5)], "HOLD", 3),   # one bar touches BUY target and stop: stop
    ([(1.2, -1.2), (0.5, -2.5), (0.5, -0.5)], "HOLD", 3),   # SELL stop +1 touched before -2
    ([(0.5, -0.5), (0.5, -0.5), (0.5, -0.5)], "HOLD", 3),   # nothing touched: expires
])
def test_the_label_is_the_side_whose_trade_reaches_its_target_first(after, label, bars):
    row = _label_of_signal(after)
    assert row["label"] == label
    assert row["bars"] == bars
    assert row["sigma"] == pytest.approx(SIGMA)


def test_touching_exactly_the_level_counts():
    sigma = _label_of_signal([(0.5, -0.5)] * 3)["sigma"]
    target = levels(100.0, sigma, "BUY", P)[0]
    panel = _bars([(0.5, -0.5)] * 3)
    panel.loc[5, "high"] = target  # the third bar after the signal reaches the target exactly
    row = triple_barrier(panel, P).set_index("date").loc[pd.Timestamp("2024-01-04")]
    assert (row["label"], row["bars"]) == ("BUY", 3)


def test_a_label_is_filled_at_the_next_open_and_its_levels_follow_from_the_fill():
    rows = [(100.0, px(0.5), px(-0.5), 100.0)] * 3 + [(110.0, 110 * math.exp(0.01), 110 * math.exp(-0.01), 110.0)] * 4
    panel = pd.DataFrame({"symbol": "X", "date": pd.bdate_range("2024-01-02", periods=7), "volume": 1e6,
                          **{k: [r[i] for r in rows] for i, k in enumerate(("open", "high", "low", "close"))}})
    row = triple_barrier(panel, P).set_index("date").loc[pd.Timestamp("2024-01-04")]
    assert row["close"] == 100.0 and row["entry_price"] == 110.0  # a 10% gap is the fill, not a win
    assert row["fill_date"] == pd.Timestamp("2024-01-05") and row["label"] == "HOLD"
    assert row["target"] == pytest.approx(110 * math.exp(0.04))


def test_a_winning_label_exits_at_its_target_and_records_the_sides_return():
    buy = _label_of_signal([(1.0, -0.5), (2.2, 0.0), (0.5, -0.5)])
    assert (buy["target"], buy["stop"], buy["exit_price"]) == pytest.approx((px(2), px(-1), px(2)))
    assert buy["return_pct"] == pytest.approx(math.exp(0.04) - 1)
    assert buy["exit_date"] == pd.Timestamp("2024-01-08")
    sell = _label_of_signal([(0.5, -1.2), (0.0, -2.1), (0.5, -0.5)])
    assert (sell["target"], sell["stop"], sell["exit_price"]) == pytest.approx((px(-2), px(1), px(-2)))
    assert sell["return_pct"] == pytest.approx(1 - math.exp(-0.04))


def test_hold_exits_at_the_expiry_close_and_carries_both_sides_returns():
    row = _label_of_signal([(0.5, -0.5), (0.5, -0.5), (0.9, 0.1)])
    assert row["label"] == "HOLD" and row["exit_price"] == pytest.approx(px(0.5))
    assert row["exit_date"] == pd.Timestamp("2024-01-09") == row["horizon_end"]
    assert row["ret_buy"] == pytest.approx(-row["ret_sell"], rel=1e-2)


def test_with_a_nearer_target_the_earlier_target_wins_and_a_same_bar_tie_is_hold():
    near = LabelParams(target_multiple=0.5, stop_multiple=2.0, horizon_days=3, atr_days=2)
    assert _label_of_signal([(0.6, -0.2), (0.0, -0.6), (0.0, 0.0)], near)["label"] == "BUY"
    assert _label_of_signal([(0.6, -0.6), (0.0, 0.0), (0.0, 0.0)], near)["label"] == "HOLD"


def test_only_days_with_a_known_full_horizon_are_labelled():
    panel = _bars([(0.5, -0.5)] * 5)
    labels = triple_barrier(panel, P)
    assert labels["date"].max() == panel["date"].iloc[-1 - P.horizon_days]
    assert labels["date"].min() == panel["date"].iloc[P.atr_days - 1]


def test_labels_do_not_change_when_bars_beyond_the_horizon_are_appended():
    panel = make_panel(days=300, seed=5)
    params = LabelParams()
    end = panel["date"].drop_duplicates().sort_values().iloc[200]
    short = triple_barrier(panel[panel["date"] <= end], params)
    full = triple_barrier(panel, params).set_index(["symbol", "date"]).loc[
        short.set_index(["symbol", "date"]).index]
    pd.testing.assert_frame_equal(short.set_index(["symbol", "date"]), full)


def test_labels_of_one_symbol_never_read_another_symbols_bars():
    panel = make_panel(days=120, seed=5)
    alone = triple_barrier(panel[panel["symbol"] == "BBB"], LabelParams())
    together = triple_barrier(panel, LabelParams())
    pd.testing.assert_frame_equal(alone.reset_index(drop=True),
                                  together[together["symbol"] == "BBB"].reset_index(drop=True))


def test_a_symbol_with_a_missing_session_counts_its_horizon_in_bars():
    panel = _bars([(0.5, -0.5)] * 8)
    gappy = panel.drop(index=5).reset_index(drop=True)  # the symbol did not trade on one session
    row = triple_barrier(gappy, P).set_index("date").loc[pd.Timestamp("2024-01-04")]
    assert row["horizon_end"] == pd.Timestamp("2024-01-10")  # 3 bars later: Jan 5, 8 (Jan 9 missing), 10


def _log_random_walk(symbols=40, days=1500, seed=3):
    """Independent random walks symmetric in log price, with log-symmetric bars."""
    rng = np.random.default_rng(seed)
    frames = []
    dates = pd.bdate_range("2015-01-02", periods=days)
    for i in range(symbols):
        vol = 0.015 * np.exp(0.3 * np.sin(np.arange(days) / 50.0 + i))
        logc = np.log(50.0) + np.cumsum(rng.standard_t(5, days) / np.sqrt(5 / 3) * vol)
        lo_ = np.concatenate([[logc[0]], logc[:-1]]) + rng.normal(0, 0.3, days) * vol
        top, bot = np.maximum(lo_, logc), np.minimum(lo_, logc)
        frames.append(pd.DataFrame({"symbol": f"S{i:02d}", "date": dates, "open": np.exp(lo_),
                                    "high": np.exp(top + np.abs(rng.normal(0, 0.5, days)) * vol),
                                    "low": np.exp(bot - np.abs(rng.normal(0, 0.5, days)) * vol),
                                    "close": np.exp(logc), "volume": 1e6}))
    return pd.concat(frames, ignore_index=True)


def test_on_a_random_walk_buy_and_sell_base_rates_agree_within_two_standard_errors():
    labels = triple_barrier(_log_random_walk(), LabelParams())
    diff = (labels["label"] == "BUY").astype(float) - (labels["label"] == "SELL").astype(float)
    # labels of one symbol within a horizon overlap: cluster by symbol and month
    clusters = labels["symbol"] + "|" + (labels["date"].dt.year * 12 + labels["date"].dt.month).astype(str)
    se = clustered_se(diff.to_numpy(), clusters.to_numpy())
    assert 0.2 < (labels["label"] == "BUY").mean() < 0.35
    assert abs(diff.mean()) <= 2 * se, (diff.mean(), se)


@pytest.mark.parametrize("side, expected", [("BUY", (px(2), px(-1))), ("SELL", (px(-2), px(1)))])
def test_levels_mirror_the_two_sides_in_log_price(side, expected):
    assert levels(100.0, SIGMA, side, P) == pytest.approx(expected)
    t, s = levels(np.array([100.0, 50.0]), np.array([SIGMA, SIGMA]), side, P)
    assert (t[0], s[0]) == pytest.approx(expected)


def test_levels_reject_an_unknown_side():
    with pytest.raises(ValueError, match="BUY or SELL"):
        levels(100.0, SIGMA, "HOLD", P)


def test_levels_read_the_config():
    from turbomode.config import defaults

    cfg = defaults().with_overrides(labels__target_multiple=3.0, labels__stop_multiple=1.5)
    assert levels(100.0, 0.01, "BUY", cfg) == pytest.approx((100 * math.exp(0.03), 100 * math.exp(-0.015)))


def test_expiry_is_horizon_sessions_after_the_signal():
    sessions = pd.bdate_range("2024-01-02", periods=20)
    assert expiry_session("2024-01-04", P, sessions) == dt.date(2024, 1, 9)
    # a signal on a non-session day counts from the session before it
    assert expiry_session(dt.date(2024, 1, 6), P, list(sessions)) == dt.date(2024, 1, 10)


def test_expiry_beyond_the_known_sessions_uses_the_nyse_calendar():
    # 2024-12-24 + 3 sessions skips Christmas: 26, 27, 30
    assert expiry_session("2024-12-24", P, ["2024-12-23", "2024-12-24"]) == dt.date(2024, 12, 30)
    assert expiry_session("2024-12-24", 3) == dt.date(2024, 12, 30)


def test_atr_last_is_the_price_atr_at_each_symbols_last_bar():
    from turbomode.ml.labels import atr_last

    flat = pd.DataFrame({"symbol": "X", "date": pd.bdate_range("2024-01-02", periods=4), "open": 100.0,
                         "high": 101.0, "low": 99.0, "close": 100.0, "volume": 1e6})
    wide = flat.assign(symbol="Y", high=103.0, low=97.0)
    got = atr_last(pd.concat([flat, wide]), 2)
    assert got.to_dict() == {"X": pytest.approx(2.0), "Y": pytest.approx(6.0)}
