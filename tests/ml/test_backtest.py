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


def trades(sym, t, side, exit_t, fill_t=None, fill=100.0, exit_price=100.0, outcome=bt.TARGET):
    sym = np.atleast_1d(sym)
    t = np.broadcast_to(np.asarray(t), sym.shape)
    fill_t = t + 1 if fill_t is None else fill_t
    return bt.Trades.of(sym, t, side, fill_t, fill, exit_t, exit_price, outcome)


class TestTradesFromTheTradeRule:
    """Every trade comes from ml.labels (tests/ml/test_exit_rule.py proves the rule); here: its use."""

    def test_the_walk_forward_takes_every_trade_from_the_trade_rule(self):
        from tests.ml.synth import make_panel
        from turbomode.ml.labels import LabelParams, panel_trades

        panel = make_panel(days=200, seed=4)
        tr = panel_trades(panel, LabelParams())
        p = tr["panel"]
        i = int(np.flatnonzero(tr["BUY"]["outcome"] == bt.TARGET)[0])
        assert tr["BUY"]["fill_idx"][i] == i + 1 and tr["BUY"]["fill"][i] == p["open"].iloc[i + 1]
        assert tr["BUY"]["exit_idx"][i] > i and p["symbol"].iloc[tr["BUY"]["exit_idx"][i]] == p["symbol"].iloc[i]

    def test_a_signal_on_the_last_bar_is_pending_and_never_taken(self):
        sig = bt.Trades.of([0, 0], [3, 5], 1, [4, -1], [100.0, np.nan], [4, -1], [101.0, np.nan],
                           [bt.TARGET, bt.PENDING])
        assert bt.one_position_per_symbol(sig).tolist() == [0]

    @pytest.mark.parametrize("field,value", [("side", 0), ("fill_t", 0), ("exit_t", 0)])
    def test_it_rejects_impossible_trades(self, field, value):
        args = {"sym": [0], "t": [1], "side": [1], "fill_t": [2], "fill": [1.0], "exit_t": [3], "exit_price": [1.0],
                "outcome": [bt.TARGET]}
        args[field] = [value]
        with pytest.raises(ValueError):
            bt.Trades.of(**args)


class TestOnePositionPerSymbol:
    def test_a_signal_while_the_symbol_is_held_is_skipped(self):
        sig = trades([0, 0, 0, 0, 1], [0, 1, 3, 5, 1], 1, [3, 4, 6, 9, 2])
        assert bt.one_position_per_symbol(sig).tolist() == [0, 2, 4]

    def test_order_of_the_signals_does_not_matter(self):
        sig = trades([0, 1, 0, 0, 0], [5, 1, 3, 1, 0], 1, [9, 2, 6, 4, 3])
        assert bt.one_position_per_symbol(sig).tolist() == [1, 2, 4]

    def test_of_two_signals_on_one_session_the_first_listed_is_taken(self):
        sig = trades([0, 0], [2, 2], [1, -1], [4, 3])
        assert bt.one_position_per_symbol(sig).tolist() == [0]

    def test_it_accepts_no_signals(self):
        assert bt.one_position_per_symbol(trades([], [], [], [])).size == 0


class TestPortfolio:
    def test_daily_returns_run_from_the_fill_with_costs_on_the_fill_day_and_the_exit_day(self):
        a = [(100, 100, 100, 100), (100, 100, 100, 110), (110, 120, 110, 121)]  # BUY filled at 100, target 120 day 2
        b = [(50, 50, 50, 50), (50, 50, 50, 50), (50, 50, 50, 45), (45, 45, 45, 45)]  # SELL filled at 50, expires day 2
        p = prices(a, b)
        sig = bt.Trades.of([0, 1], [0, 0], [1, -1], [1, 1], [100.0, 50.0], [2, 2], [120.0, 45.0],
                           [bt.TARGET, bt.EXPIRY])
        res = bt.simulate(p, sig, cost_bps=10.0, start=0, end=3)
        c = 0.001
        assert res.portfolio.returns.tolist() == pytest.approx([0, (0.1 - c + 0 - c) / 2,
                                                                (120 / 110 - 1 - c + 0.1 - c) / 2, 0])
        assert res.portfolio.n_open.tolist() == [0, 2, 2, 0]
        assert res.net.tolist() == pytest.approx([0.2 - 2 * c, 0.1 - 2 * c])
        assert res.metrics["trades"] == 2 and res.metrics["hit_rate"] == 0.5
        assert res.metrics["exposure"] == pytest.approx(2 / 3)

    def test_a_fill_away_from_the_previous_close_counts_from_the_fill(self):
        p = prices([FLAT, (110, 112, 108, 111), (111, 111, 111, 111)])  # a gap up to a 110 fill
        sig = bt.Trades.of([0], [0], [1], [1], [110.0], [2], [111.0], [bt.EXPIRY])
        res = bt.simulate(p, sig, cost_bps=0.0, start=0, end=2)
        assert res.portfolio.returns.tolist() == pytest.approx([0, 111 / 110 - 1, 0])

    def test_a_day_without_positions_earns_nothing(self):
        p = prices([FLAT, (100, 100, 100, 200), (200, 200, 200, 400)])
        res = bt.simulate(p, trades([], [], [], []), cost_bps=5, start=0, end=2)
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

    def test_below_the_minimum_trades_no_sharpe_or_profit_factor_is_given_as_evidence(self):
        p = prices([FLAT, (100, 110, 100, 110), (110, 110, 110, 110)])
        sig = bt.Trades.of([0], [0], [1], [1], [100.0], [1], [110.0], [bt.TARGET])
        m = bt.simulate(p, sig, cost_bps=0.0, start=0, end=2, min_trades=30).metrics
        assert m["too_few_trades"] and math.isnan(m["sharpe"]) and math.isnan(m["profit_factor"])
        assert m["trades"] == 1 and m["hit_rate"] == 1.0  # counts and rates stay: they are descriptions
        assert not bt.simulate(p, sig, cost_bps=0.0, start=0, end=2, min_trades=1).metrics["too_few_trades"]

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
