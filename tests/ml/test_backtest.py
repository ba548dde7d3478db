"""The trade simulation and portfolio metrics on hand-built price paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from turbomode.ml import backtest as bt

NAN = math.nan


def prices(*bars_per_symbol):
    """Each symbol: a list of (open, high, low, close) bars; None = no bar."""
    n = max(len(b) for b in bars_per_symbol)
    arr = np.full((4, len(bars_per_symbol), n), np.nan)
    for s, bars in enumerate(bars_per_symbol):
        for d, bar in enumerate(bars):
            if bar is not None:
                arr[:, s, d] = bar
    return bt.make_prices(*arr)


FLAT = (100, 100, 100, 100)


def one(bars, side=1, target=110.0, stop=95.0, expiry=5, t=0):
    p = prices([FLAT, *bars])
    ex = bt.find_exits(p, bt.Signals.of([0], [t], [side], [target], [stop], [expiry]))
    return int(ex.t[0]), float(ex.price[0]), bt.OUTCOMES[ex.outcome[0]], float(ex.gross[0])


class TestExits:
    def test_it_exits_at_the_target_when_the_target_is_reached_first(self):
        assert one([(100, 105, 98, 104), (104, 111, 100, 108), (108, 108, 90, 92)]) == (2, 110.0, "target", pytest.approx(0.1))

    def test_it_exits_at_the_stop_when_the_stop_is_reached_first(self):
        assert one([(100, 101, 94, 96), (96, 120, 96, 118)]) == (1, 95.0, "stop", pytest.approx(-0.05))

    def test_it_counts_a_bar_reaching_both_barriers_as_the_stop(self):
        assert one([(100, 111, 94, 100)]) == (1, 95.0, "stop", pytest.approx(-0.05))

    def test_it_expires_at_the_close_of_the_last_session(self):
        bars = [(100, 101, 99, 100)] * 4 + [(100, 101, 99, 103), (100, 200, 1, 100)]
        assert one(bars, expiry=5)[:3] == (5, 103.0, "expiry")

    def test_a_gap_down_through_the_stop_fills_at_the_open(self):
        t, price, outcome, gross = one([(90, 92, 88, 91)])
        assert (t, price, outcome) == (1, 90.0, "stop") and gross == pytest.approx(-0.10)

    def test_a_gap_up_through_the_target_fills_at_the_open_even_if_the_bar_then_falls_through_the_stop(self):
        t, price, outcome, gross = one([(115, 116, 90, 92)])
        assert (t, price, outcome) == (1, 115.0, "target") and gross == pytest.approx(0.15)

    def test_a_sell_mirrors_the_barriers(self):
        t, price, outcome, gross = one([(100, 104, 98, 99), (99, 100, 89, 90)], side=-1, target=90, stop=105)
        assert (t, price, outcome) == (2, 90.0, "target") and gross == pytest.approx(0.10)

    def test_a_sell_stopped_on_a_gap_up_loses_from_the_open(self):
        t, price, outcome, gross = one([(108, 109, 107, 108)], side=-1, target=90, stop=105)
        assert (t, price, outcome) == (1, 108.0, "stop") and gross == pytest.approx(-0.08)

    def test_a_trade_the_data_ends_under_is_closed_at_the_last_close(self):
        assert one([(100, 101, 99, 102)], expiry=5)[:3] == (1, 102.0, "open")

    def test_missing_bars_touch_nothing_and_expiry_uses_the_last_close(self):
        assert one([None, (100, 101, 99, 101), None], expiry=3)[:3] == (3, 101.0, "expiry")

    @pytest.mark.parametrize("field,value", [("side", 0), ("expiry", 0)])
    def test_it_rejects_invalid_signals(self, field, value):
        args = {"sym": [0], "t": [0], "side": [1], "target": [1.0], "stop": [1.0], "expiry": [1]}
        args[field] = [value]
        with pytest.raises(ValueError):
            bt.Signals.of(**args)

    def test_it_matches_a_bar_by_bar_reference_on_random_paths(self):
        rng = np.random.default_rng(7)
        n_sym, n_days = 5, 120
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_sym, n_days)), axis=1))
        opn = close * np.exp(rng.normal(0, 0.01, close.shape))
        high = np.maximum(opn, close) * np.exp(np.abs(rng.normal(0, 0.01, close.shape)))
        low = np.minimum(opn, close) * np.exp(-np.abs(rng.normal(0, 0.01, close.shape)))
        p = bt.make_prices(opn, high, low, close)
        n = 400
        sym, t = rng.integers(0, n_sym, n), rng.integers(0, n_days - 1, n)
        side = rng.choice([-1, 1], n)
        c0 = close[sym, t]
        width = c0 * rng.uniform(0.01, 0.05, n)
        target, stop = c0 + side * 2 * width, c0 - side * width
        expiry = rng.integers(1, 15, n)
        ex = bt.find_exits(p, bt.Signals.of(sym, t, side, target, stop, expiry))
        for i in range(n):
            want = reference_exit(opn[sym[i]], high[sym[i]], low[sym[i]], close[sym[i]], t[i], side[i],
                                  target[i], stop[i], expiry[i])
            assert (ex.t[i], ex.price[i], bt.OUTCOMES[ex.outcome[i]]) == want


def reference_exit(o, h, l, c, t, side, target, stop, expiry):
    for d in range(t + 1, min(t + expiry, len(c) - 1) + 1):
        if side * o[d] <= side * stop:
            return d, o[d], "stop"
        if side * o[d] >= side * target:
            return d, o[d], "target"
        up, dn = h[d] >= max(target, stop), l[d] <= min(target, stop)
        hit_stop = dn if side > 0 else up
        hit_target = up if side > 0 else dn
        if hit_stop:
            return d, stop, "stop"
        if hit_target:
            return d, target, "target"
    end = min(t + expiry, len(c) - 1)
    return end, c[end], "expiry" if t + expiry <= len(c) - 1 else "open"


class TestOnePositionPerSymbol:
    def test_a_signal_while_the_symbol_is_held_is_skipped(self):
        exits = np.array([3, 4, 6, 9, 2])
        sig = bt.Signals.of([0, 0, 0, 0, 1], [0, 1, 3, 5, 1], 1, 1.0, 1.0, 1)
        assert bt.one_position_per_symbol(sig, exits).tolist() == [0, 2, 4]

    def test_order_of_the_signals_does_not_matter(self):
        exits = np.array([9, 2, 6, 4, 3])
        sig = bt.Signals.of([0, 1, 0, 0, 0], [5, 1, 3, 1, 0], 1, 1.0, 1.0, 1)
        assert bt.one_position_per_symbol(sig, exits).tolist() == [1, 2, 4]

    def test_of_two_signals_on_one_session_the_first_listed_is_taken(self):
        sig = bt.Signals.of([0, 0], [2, 2], [1, -1], 1.0, 1.0, 1)
        assert bt.one_position_per_symbol(sig, np.array([4, 3])).tolist() == [0]

    def test_it_accepts_no_signals(self):
        assert bt.one_position_per_symbol(bt.Signals.of([], [], [], [], [], []), np.array([])).size == 0


class TestPortfolio:
    def test_daily_returns_are_the_equal_weight_mean_of_open_positions_with_costs_on_entry_and_exit(self):
        a = [(100, 100, 100, 100), (100, 100, 100, 110), (110, 120, 110, 121)]  # BUY, target 120 on day 2
        b = [(50, 50, 50, 50), (50, 50, 50, 50), (50, 50, 50, 45), (45, 45, 45, 45)]  # SELL, expires day 2
        p = prices(a, b)
        sig = bt.Signals.of([0, 1], [0, 0], [1, -1], [120.0, 10.0], [90.0, 60.0], [5, 2])
        res = bt.simulate(p, sig, cost_bps=10.0, start=0, end=3)
        c = 0.001
        assert res.portfolio.returns.tolist() == pytest.approx([0, (0.1 - c + 0 - c) / 2,
                                                                (120 / 110 - 1 - c + 0.1 - c) / 2, 0])
        assert res.portfolio.n_open.tolist() == [0, 2, 2, 0]
        assert res.net.tolist() == pytest.approx([0.2 - 2 * c, 0.1 - 2 * c])
        assert res.metrics["trades"] == 2 and res.metrics["hit_rate"] == 0.5
        assert res.metrics["exposure"] == pytest.approx(2 / 3)

    def test_a_day_without_positions_earns_nothing(self):
        p = prices([FLAT, (100, 100, 100, 200), (200, 200, 200, 400)])
        res = bt.simulate(p, bt.Signals.of([], [], [], [], [], []), cost_bps=5, start=0, end=2)
        assert res.portfolio.returns.tolist() == [0, 0, 0] and res.metrics["total_return"] == 0
        assert res.metrics["trades"] == 0 and math.isnan(res.metrics["hit_rate"])

    def test_buy_and_hold_is_the_mean_return_of_the_symbols_trading_both_days(self):
        p = prices([FLAT, (1, 1, 1, 110), (1, 1, 1, 121)], [None, (1, 1, 1, 50), (1, 1, 1, 40)])
        assert bt.buy_and_hold(p, 0, 2).tolist() == pytest.approx([0, 0.1, (0.1 - 0.2) / 2])
        assert bt.buy_and_hold(p, 1, 2).tolist() == pytest.approx([0, (0.1 - 0.2) / 2])


class TestMetrics:
    def test_series_metrics_of_a_known_series(self):
        r = np.array([0.0, 0.1, -0.5, 0.2])
        m = bt.series_metrics(r, np.array([0, 1, 0, 3]))
        tail = r[1:]
        assert m["sharpe"] == pytest.approx(tail.mean() / tail.std(ddof=1) * math.sqrt(252))
        assert m["max_drawdown"] == pytest.approx(0.55 / 1.1 - 1)
        assert m["total_return"] == pytest.approx(1.1 * 0.5 * 1.2 - 1)
        assert m["exposure"] == pytest.approx(2 / 3)

    def test_trade_metrics_of_known_returns(self):
        m = bt.trade_metrics(np.array([0.1, -0.05, 0.02, -0.01]),
                             np.array([bt.TARGET, bt.STOP, bt.EXPIRY, bt.STOP]))
        assert m == pytest.approx({"trades": 4, "hit_rate": 0.25, "mean_return": 0.015, "profit_factor": 2.0})

    def test_a_flat_series_has_no_sharpe_and_no_drawdown(self):
        m = bt.series_metrics(np.zeros(5), np.zeros(5))
        assert math.isnan(m["sharpe"]) and m["max_drawdown"] == 0

    def test_clean_turns_undefined_numbers_into_none(self):
        assert bt.clean({"a": math.nan, "b": [math.inf, np.float64(2.5)], "c": np.int64(3)}) == \
            {"a": None, "b": [None, 2.5], "c": 3}


class TestPlanFolds:
    def test_folds_tile_the_test_period_and_train_up_to_the_embargo(self):
        folds = bt.plan_folds(first=20, start=100, last=199, n_folds=4, embargo=10)
        assert [(f.test_start, f.test_end) for f in folds] == [(100, 124), (125, 149), (150, 174), (175, 199)]
        assert all(f.train_start == 20 and f.train_end == f.test_start - 11 for f in folds)
        assert [f.number for f in folds] == [1, 2, 3, 4]

    def test_uneven_lengths_differ_by_at_most_one_session(self):
        lengths = {f.test_end - f.test_start + 1 for f in bt.plan_folds(0, 50, 152, 5, 10)}
        assert lengths <= {20, 21}

    @pytest.mark.parametrize("first,start,last,folds,embargo,min_train,fragment", [
        (0, 100, 102, 5, 10, 1, "fewer than the 5 folds"),
        (0, 10, 50, 2, 10, 1, "train on 0 sessions"),
        (0, 100, 200, 2, 10, 200, "fewer than 200"),
        (0, 100, 200, 0, 10, 1, "at least one fold"),
        (0, 100, 200, 2, -1, 1, "negative"),
    ])
    def test_it_refuses_windows_that_cannot_work(self, first, start, last, folds, embargo, min_train, fragment):
        with pytest.raises(ValueError, match=fragment):
            bt.plan_folds(first, start, last, folds, embargo, min_train)


class TestHacStandardError:
    def test_independent_observations_on_distinct_sessions_get_the_iid_error_at_lag_zero(self):
        rng = np.random.default_rng(3)
        x = rng.normal(size=400)
        se = bt.hac_se_of_mean(x, np.arange(400), lag=0)
        assert se == pytest.approx(x.std(ddof=0) / math.sqrt(400))

    def test_copies_on_one_session_do_not_shrink_the_error(self):
        rng = np.random.default_rng(4)
        x = rng.normal(size=200)
        one = bt.hac_se_of_mean(x, np.arange(200), lag=0)
        five = bt.hac_se_of_mean(np.repeat(x, 5), np.repeat(np.arange(200), 5), lag=0)
        assert five == pytest.approx(one)

    def test_positively_correlated_neighbours_widen_the_error(self):
        rng = np.random.default_rng(5)
        x = np.convolve(rng.normal(size=2000), np.ones(10), mode="same")  # overlapping 10-day sums
        t = np.arange(2000)
        assert bt.hac_se_of_mean(x, t, lag=10) > 2 * bt.hac_se_of_mean(x, t, lag=0)
