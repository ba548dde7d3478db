import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tests.ml.synth import make_panel
from turbomode.ml.labels import LabelParams, barriers, expiry_session, triple_barrier

# ATR over 2 bars of flat 99-101 bars = 2, so from a close of 100: BUY target 104, stop 98;
# SELL target 96, stop 102.
P = LabelParams(target_multiple=2.0, stop_multiple=1.0, horizon_days=3, atr_days=2)


def _bars(after: list[tuple[float, float]], before: int = 3) -> pd.DataFrame:
    """Flat bars (high 101, low 99, close 100), then (high, low) bars closing mid-range."""
    rows = [(101.0, 99.0, 100.0)] * before + [(h, lo, (h + lo) / 2) for h, lo in after]
    dates = pd.bdate_range("2024-01-02", periods=len(rows))
    return pd.DataFrame({"symbol": "X", "date": dates, "open": [r[2] for r in rows],
                         "high": [r[0] for r in rows], "low": [r[1] for r in rows],
                         "close": [r[2] for r in rows], "adj_close": [r[2] for r in rows],
                         "volume": 1e6})


def _label_of_entry(after, params=P):
    labels = triple_barrier(_bars(after), params)
    row = labels[labels["date"] == pd.Timestamp("2024-01-04")]  # the third flat bar
    assert len(row) == 1
    return row.iloc[0]


@pytest.mark.parametrize("after, label, bars", [
    ([(102.0, 99.0), (104.5, 100.0), (101.0, 99.0)], "BUY", 2),    # target 104 touched first
    ([(101.0, 97.5), (104.5, 100.0), (101.0, 99.0)], "HOLD", 3),   # BUY stopped at 98, SELL never reaches 96
    ([(101.0, 97.0), (100.0, 95.5), (101.0, 99.0)], "SELL", 2),    # SELL target 96 before its stop 102
    ([(104.5, 97.5), (101.0, 99.0), (101.0, 99.0)], "HOLD", 3),    # one bar touches BUY target and stop: stop
    ([(103.0, 97.5), (101.0, 96.0), (101.0, 99.0)], "HOLD", 3),    # SELL stop 102 touched before 96
    ([(101.0, 99.0), (101.0, 99.0), (101.0, 99.0)], "HOLD", 3),    # nothing touched: expires
    ([(101.0, 99.0), (101.0, 99.0), (104.0, 100.0)], "BUY", 3),    # touching exactly the level counts
])
def test_triple_barrier_rule(after, label, bars):
    row = _label_of_entry(after)
    assert row["label"] == label
    assert row["bars"] == bars
    assert row["atr"] == pytest.approx(2.0)


def test_a_winning_label_exits_at_its_target_and_records_the_sides_return():
    buy = _label_of_entry([(102.0, 99.0), (104.5, 100.0), (101.0, 99.0)])
    assert (buy["target"], buy["stop"], buy["exit_price"]) == (104.0, 98.0, 104.0)
    assert buy["return_pct"] == pytest.approx(0.04)
    assert buy["exit_date"] == pd.Timestamp("2024-01-08")
    sell = _label_of_entry([(101.0, 97.0), (100.0, 95.5), (101.0, 99.0)])
    assert (sell["target"], sell["stop"], sell["exit_price"]) == (96.0, 102.0, 96.0)
    assert sell["return_pct"] == pytest.approx(0.04)


def test_hold_exits_at_the_expiry_close():
    row = _label_of_entry([(101.0, 99.0), (101.0, 99.0), (103.0, 101.0)])
    assert row["label"] == "HOLD" and row["exit_price"] == 102.0
    assert row["exit_date"] == pd.Timestamp("2024-01-09")


def test_with_a_nearer_target_the_earlier_target_wins_and_a_same_bar_tie_is_hold():
    near = LabelParams(target_multiple=0.5, stop_multiple=2.0, horizon_days=3, atr_days=2)
    # BUY target 101 (bar 1), then SELL target 99 (bar 2); neither stop (96 / 104) is touched
    assert _label_of_entry([(101.5, 100.0), (100.0, 98.5), (100.0, 100.0)], near)["label"] == "BUY"
    assert _label_of_entry([(101.5, 98.5), (100.0, 100.0), (100.0, 100.0)], near)["label"] == "HOLD"


def test_only_days_with_a_known_full_horizon_are_labelled():
    panel = _bars([(101.0, 99.0)] * 5)
    labels = triple_barrier(panel, P)
    last_labelled = panel["date"].iloc[-1 - P.horizon_days]
    assert labels["date"].max() == last_labelled
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


def test_random_walk_labels_are_balanced_between_buy_and_sell():
    labels = triple_barrier(make_panel(days=800, seed=9), LabelParams())
    mix = labels["label"].value_counts(normalize=True)
    # (the "upper level first = BUY, lower first = SELL" rule would give about 1 BUY per 2 SELL here)
    assert 0.75 < mix["BUY"] / mix["SELL"] < 1.33


@pytest.mark.parametrize("side, expected", [("BUY", (104.0, 98.0)), ("SELL", (96.0, 102.0))])
def test_barriers_mirror_the_two_sides(side, expected):
    assert barriers(100.0, 2.0, side, P) == expected
    t, s = barriers(np.array([100.0, 50.0]), np.array([2.0, 1.0]), side, P)
    assert t[0] == expected[0] and s[0] == expected[1]


def test_barriers_reject_an_unknown_side():
    with pytest.raises(ValueError, match="BUY or SELL"):
        barriers(100.0, 2.0, "HOLD", P)


def test_barriers_read_the_config():
    from turbomode.config import defaults

    cfg = defaults().with_overrides(labels__target_multiple=3.0, labels__stop_multiple=1.5)
    assert barriers(100.0, 2.0, "BUY", cfg) == (106.0, 97.0)


def test_expiry_is_horizon_sessions_after_entry():
    sessions = pd.bdate_range("2024-01-02", periods=20)
    assert expiry_session("2024-01-04", P, sessions) == dt.date(2024, 1, 9)
    # an entry on a non-session day counts from the session before it
    assert expiry_session(dt.date(2024, 1, 6), P, list(sessions)) == dt.date(2024, 1, 10)


def test_expiry_beyond_the_known_sessions_uses_the_nyse_calendar():
    # 2024-12-24 + 3 sessions skips Christmas: 26, 27, 30
    assert expiry_session("2024-12-24", P, ["2024-12-23", "2024-12-24"]) == dt.date(2024, 12, 30)
    assert expiry_session("2024-12-24", 3) == dt.date(2024, 12, 30)


def test_atr_last_is_the_label_rules_atr_at_each_symbols_last_bar():
    from turbomode.ml.labels import atr_last

    panel = pd.concat([_bars([(101.0, 99.0)] * 4), _bars([(103.0, 97.0)] * 4).assign(symbol="Y")])
    got = atr_last(panel, 2)
    assert got.to_dict() == {"X": pytest.approx(2.0), "Y": pytest.approx(6.0)}
