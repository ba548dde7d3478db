"""One trade rule: labels, scan's filling and closing of live signals, and the backtest agree.

A signal at a session's close is filled at the next bar's open; target and stop sit at
fill x exp(+-k x sigma) (sigma: the log ATR at the signal's close); from the second bar on an open
beyond a level fills that level at the open; otherwise a bar whose range touches both is the stop;
otherwise the level touched fills at its price; no touch expires at the horizon's last close.
"""

import math

import numpy as np
import pandas as pd
import pytest

from turbomode.ml import backtest as bt
from turbomode.ml.labels import LabelParams, barrier_exits, panel_trades
from turbomode.tasks.scan_rules import Bar, settle

P = LabelParams(target_multiple=2.0, stop_multiple=1.0, horizon_days=3, atr_days=2)
SIGMA = 0.02  # warm-up bars 100 * exp(+-0.01): a log true range of 0.02
WARM = (100.0, 100 * math.exp(0.01), 100 * math.exp(-0.01), 100.0)
SIGNAL = 2  # index of the signal's bar (the third warm-up bar)


def px(k: float, fill: float = 100.0) -> float:
    return fill * math.exp(k * SIGMA)


# Bars after the signal as (open, high, low, close) in sigma units from 100 (the first is the fill bar);
# expected (outcome, bars held, exit in sigma units from the fill, fill in sigma units from 100).
PATHS = {
    "target first": ([(0, 1, -0.5, 0.5), (0.5, 2.2, 0, 1.5), (0, 0.5, -0.5, 0)], ("target", 2, 2.0, 0)),
    "stop first": ([(0, 0.5, -1.2, -0.8), (-0.8, 2.5, -0.9, 2), (0, 0.5, -0.5, 0)], ("stop", 1, -1.0, 0)),
    "both in one bar": ([(0, 2.5, -1.5, 0), (0, 0.5, -0.5, 0), (0, 0.5, -0.5, 0)], ("stop", 1, -1.0, 0)),
    "gap through target": ([(0, 0.5, -0.5, 0), (2.5, 3, -2, 0), (0, 0.5, -0.5, 0)], ("target", 2, 2.5, 0)),
    "gap through stop": ([(0, 0.5, -0.5, 0), (-1.5, 2.5, -2, 0), (0, 0.5, -0.5, 0)], ("stop", 2, -1.5, 0)),
    "expiry": ([(0, 0.5, -0.5, 0), (0, 0.9, -0.9, 0.3), (0.3, 0.9, -0.5, 0.6)], ("expired", 3, 0.6, 0)),
    # the fill bar itself opens 1.5 sigma above the signal's close: the levels move with the fill
    "gap at the fill": ([(1.5, 3.4, 1.0, 3.0), (3.0, 3.6, 2.6, 3.4), (0, 0.5, -0.5, 0)], ("target", 2, 2.0, 1.5)),
}


def _mirror(bar):
    """A BUY path mirrored in log price is the same story for a SELL."""
    o, h, lo, c = bar
    return (-o, -lo, -h, -c)


def _rows(name, side):
    after, expected = PATHS[name]
    if side == "SELL":
        after = [_mirror(b) for b in after]
    bars = [WARM] * (SIGNAL + 1) + [tuple(px(k) for k in b) for b in after]
    return bars, expected


def _expected_prices(expected, side):
    outcome, held, exit_k, fill_k = expected
    fill = px(fill_k if side == "BUY" else -fill_k)
    exit_price = fill * math.exp((exit_k if side == "BUY" else -exit_k) * SIGMA)
    return outcome, held, exit_price, fill


def _panel(rows):
    dates = pd.bdate_range("2024-01-02", periods=len(rows))
    return pd.DataFrame({"symbol": "X", "date": dates, "open": [r[0] for r in rows], "high": [r[1] for r in rows],
                         "low": [r[2] for r in rows], "close": [r[3] for r in rows], "volume": 1e6}), dates


def _by_labels(rows, side):
    panel, dates = _panel(rows)
    ex = barrier_exits(panel, P, side)
    row = ex[ex["date"] == dates[SIGNAL]].iloc[0]
    return row["outcome"], int(row["bars"]), float(row["exit_price"]), float(row["fill"])


def _by_scan(rows, side):
    days = [d.date().isoformat() for d in pd.bdate_range("2024-01-02", periods=len(rows))]
    after = [Bar(d, *r) for d, r in zip(days[SIGNAL + 1:], rows[SIGNAL + 1:])]
    signal = {"signal_type": side, "price_basis": "close", "sigma": SIGMA, "reference_price": 100.0,
              "entry_price": 100.0, "expiry_date": days[-1]}
    st = settle(signal, after, days[-1], P)
    return st.outcome, days.index(st.exit_date) - SIGNAL, st.exit_price, st.fill[1]


def _by_backtest(rows, side):
    panel, dates = _panel(rows)
    t = panel_trades(panel, P)[side]
    i = SIGNAL
    o, h, lo, c = (np.array([[r[k] for r in rows]]) for k in range(4))
    trade = bt.Trades.of(0, i, 1 if side == "BUY" else -1, t["fill_idx"][i], t["fill"][i], t["exit_idx"][i],
                         t["exit_price"][i], t["outcome"][i])
    res = bt.simulate(bt.make_prices(o, h, lo, c), trade, cost_bps=0.0, start=i, end=len(rows) - 1)
    if side == "BUY":  # one long position: the daily portfolio compounds to exactly the trade's return
        assert res.portfolio.equity[-1] - 1 == pytest.approx(res.net[0])  # (a short is rebalanced daily)
    outcome = {bt.TARGET: "target", bt.STOP: "stop", bt.EXPIRY: "expired"}[int(t["outcome"][i])]
    return outcome, int(t["exit_idx"][i]) - i, float(t["exit_price"][i]), float(t["fill"][i])


@pytest.mark.parametrize("side", ["BUY", "SELL"])
@pytest.mark.parametrize("name", list(PATHS))
def test_labels_live_signals_and_the_backtest_fill_and_exit_a_price_path_alike(name, side):
    rows, expected = _rows(name, side)
    want = _expected_prices(expected, side)
    for got in (_by_labels(rows, side), _by_scan(rows, side), _by_backtest(rows, side)):
        assert got == pytest.approx(want)


def test_a_label_whose_bar_gaps_through_the_target_is_a_win_at_the_open_even_if_it_touches_the_stop():
    from turbomode.ml.labels import triple_barrier

    rows, _ = _rows("gap through target", "BUY")
    panel, dates = _panel(rows)
    row = triple_barrier(panel, P).set_index("date").loc[dates[SIGNAL]]
    assert (row["label"], row["bars"]) == ("BUY", 2)
    assert row["exit_price"] == pytest.approx(px(2.5)) and row["return_pct"] == pytest.approx(math.exp(0.05) - 1)


def test_levels_are_symmetric_in_log_price_around_the_fill():
    from turbomode.ml.labels import levels

    bt_, bs = levels(50.0, 0.03, "BUY", P)
    st, ss = levels(50.0, 0.03, "SELL", P)
    assert math.log(bt_ / 50) == pytest.approx(-math.log(st / 50)) == pytest.approx(0.06)
    assert math.log(bs / 50) == pytest.approx(-math.log(ss / 50)) == pytest.approx(-0.03)
