"""One exit rule for a bar: labels, scan's closing of open signals and the backtest agree.

An open beyond a barrier fills that barrier at the open; otherwise a bar whose range touches both
barriers is the stop; otherwise the barrier touched fills at its price; no touch expires at the
horizon's close.
"""

import numpy as np
import pandas as pd
import pytest

from turbomode.ml import backtest as bt
from turbomode.ml.labels import LabelParams, barrier_exits
from turbomode.tasks.scan import Bar, evaluate

# Two flat warm-up bars (99-101, close 100) give ATR 2: BUY target 104 / stop 98 from the entry close 100.
P = LabelParams(target_multiple=2.0, stop_multiple=1.0, horizon_days=3, atr_days=2)
FLAT = (100.0, 101.0, 99.0, 100.0)
ENTRY = 2  # index of the entry bar (the third flat bar)

# (open, high, low, close) bars after the entry, for a BUY; expected (outcome, bars to exit, exit price)
PATHS = {
    "target first": ([(100, 102, 99, 101), (101, 104.5, 100, 103), FLAT], ("target", 2, 104.0)),
    "stop first": ([(100, 101, 97.5, 99), (99, 104.5, 99, 103), FLAT], ("stop", 1, 98.0)),
    "both in one bar": ([(100, 104.5, 97.5, 100), FLAT, FLAT], ("stop", 1, 98.0)),
    "gap through target": ([FLAT, (105, 106, 97, 100), FLAT], ("target", 2, 105.0)),
    "gap through stop": ([(97, 105, 96, 100), FLAT, FLAT], ("stop", 1, 97.0)),
    "expiry": ([FLAT, FLAT, (100, 101.5, 99.5, 101)], ("expired", 3, 101.0)),
}


def _mirror(bar):
    """A BUY path mirrored around 100 is the same story for a SELL (target 96, stop 102)."""
    o, h, lo, c = bar
    return (200 - o, 200 - lo, 200 - h, 200 - c)


def _path(name, side):
    after, (outcome, bars, price) = PATHS[name]
    rows = [FLAT] * (ENTRY + 1) + [tuple(map(float, b)) for b in after]
    if side == "SELL":
        rows, price = [_mirror(r) for r in rows], 200 - price
    return rows, (outcome, bars, price)


def _by_labels(rows, side):
    dates = pd.bdate_range("2024-01-02", periods=len(rows))
    panel = pd.DataFrame({"symbol": "X", "date": dates, "open": [r[0] for r in rows], "high": [r[1] for r in rows],
                          "low": [r[2] for r in rows], "close": [r[3] for r in rows], "volume": 1e6})
    ex = barrier_exits(panel, P, side)
    row = ex[ex["date"] == dates[ENTRY]].iloc[0]
    return row["outcome"], int(row["bars"]), float(row["exit_price"]), (float(row["target"]), float(row["stop"]))


def _by_scan(rows, side, target, stop):
    days = [d.date().isoformat() for d in pd.bdate_range("2024-01-02", periods=len(rows))]
    after = [Bar(d, *r) for d, r in zip(days[ENTRY + 1:], rows[ENTRY + 1:])]
    signal = {"signal_type": side, "target_price": target, "stop_loss": stop, "expiry_date": days[-1]}
    outcome, exit_date, price = evaluate(signal, after, P.horizon_days, days[-1])
    return outcome, days.index(exit_date) - ENTRY, price


def _by_backtest(rows, side, target, stop):
    o, h, lo, c = (np.array([[r[i] for r in rows]]) for i in range(4))
    sig = bt.Signals.of(0, ENTRY, 1 if side == "BUY" else -1, target, stop, P.horizon_days)
    ex = bt.find_exits(bt.make_prices(o, h, lo, c), sig)
    outcome = {bt.TARGET: "target", bt.STOP: "stop", bt.EXPIRY: "expired"}[int(ex.outcome[0])]
    return outcome, int(ex.t[0]) - ENTRY, float(ex.price[0])


@pytest.mark.parametrize("side", ["BUY", "SELL"])
@pytest.mark.parametrize("name", list(PATHS))
def test_labels_scan_closing_and_the_backtest_exit_a_price_path_alike(name, side):
    rows, expected = _path(name, side)
    outcome, bars, price, (target, stop) = _by_labels(rows, side)
    assert (target, stop) == ((104.0, 98.0) if side == "BUY" else (96.0, 102.0))
    assert (outcome, bars, price) == pytest.approx(expected)
    assert _by_scan(rows, side, target, stop) == pytest.approx(expected)
    assert _by_backtest(rows, side, target, stop) == pytest.approx(expected)


def test_a_label_whose_bar_gaps_through_the_target_is_a_win_at_the_open_even_if_it_touches_the_stop():
    from turbomode.ml.labels import triple_barrier

    rows, _ = _path("gap through target", "BUY")
    dates = pd.bdate_range("2024-01-02", periods=len(rows))
    panel = pd.DataFrame({"symbol": "X", "date": dates, "open": [r[0] for r in rows], "high": [r[1] for r in rows],
                          "low": [r[2] for r in rows], "close": [r[3] for r in rows], "volume": 1e6})
    row = triple_barrier(panel, P).set_index("date").loc[dates[ENTRY]]
    assert (row["label"], row["exit_price"], row["bars"]) == ("BUY", 105.0, 2)
    assert row["return_pct"] == pytest.approx(0.05)
