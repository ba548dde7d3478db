"""The scan's pure rules: when an open signal finishes, and which candidates become signals."""

import pytest

from turbomode.tasks.scan import (Bar, Candidate, barrier_levels, decide, evaluate, one_sided_warning,
                                  signed_return)

BUY = {"id": 1, "symbol": "AAA", "signal_type": "BUY", "entry_price": 100.0, "target_price": 104.0,
       "stop_loss": 98.0, "market_date": "2026-01-02", "expiry_date": "2026-01-09"}
SELL = dict(BUY, signal_type="SELL", target_price=96.0, stop_loss=102.0)


def bar(d, low, high, close=None, open_=None):
    close = (low + high) / 2 if close is None else close
    return Bar(d, open_ if open_ is not None else close, high, low, close)


class TestEvaluate:
    def test_a_buy_whose_high_reaches_the_target_closes_at_the_target(self):
        got = evaluate(BUY, [bar("2026-01-05", 99, 101), bar("2026-01-06", 100, 104.5)], 5, "2026-01-06")
        assert got == ("target", "2026-01-06", 104.0)

    def test_a_buy_whose_low_reaches_the_stop_closes_at_the_stop(self):
        assert evaluate(BUY, [bar("2026-01-05", 97.5, 101)], 5, "2026-01-05") == ("stop", "2026-01-05", 98.0)

    @pytest.mark.parametrize("signal", [BUY, SELL], ids=["buy", "sell"])
    def test_a_bar_touching_both_barriers_counts_as_the_stop(self, signal):
        got = evaluate(signal, [bar("2026-01-05", 95, 105)], 5, "2026-01-05")
        assert got == ("stop", "2026-01-05", signal["stop_loss"])

    @pytest.mark.parametrize("signal, open_, outcome", [
        (BUY, 97.0, "stop"), (BUY, 105.0, "target"), (SELL, 103.0, "stop"), (SELL, 95.0, "target"),
    ])
    def test_a_gap_through_a_barrier_fills_at_the_open(self, signal, open_, outcome):
        got = evaluate(signal, [bar("2026-01-05", 94, 106, open_=open_)], 5, "2026-01-05")
        assert got == (outcome, "2026-01-05", open_)

    def test_a_sell_wins_when_the_low_reaches_its_target_below_the_entry(self):
        assert evaluate(SELL, [bar("2026-01-05", 95.5, 100)], 5, "2026-01-05") == ("target", "2026-01-05", 96.0)

    def test_a_sell_is_stopped_when_the_high_reaches_its_stop_above_the_entry(self):
        assert evaluate(SELL, [bar("2026-01-05", 99, 102.5)], 5, "2026-01-05")[0] == "stop"

    def test_it_stays_open_while_no_barrier_is_touched_within_the_horizon(self):
        assert evaluate(BUY, [bar("2026-01-05", 99, 101)], 3, "2026-01-05") is None

    def test_it_expires_at_the_close_of_the_last_bar_of_the_horizon(self):
        bars = [bar(f"2026-01-0{d}", 99, 101, close=100 + d / 10) for d in (5, 6, 7, 8)]
        assert evaluate(BUY, bars, 3, "2026-01-08") == ("expired", "2026-01-07", 100.7)

    def test_a_touch_after_the_horizon_does_not_count(self):
        bars = [bar("2026-01-05", 99, 101, close=100.5), bar("2026-01-06", 90, 101)]
        assert evaluate(BUY, bars, 1, "2026-01-06") == ("expired", "2026-01-05", 100.5)

    def test_a_symbol_that_stopped_trading_expires_once_the_expiry_date_has_passed(self):
        bars = [bar("2026-01-05", 99, 101, close=99.5)]
        assert evaluate(BUY, bars, 5, "2026-01-09") is None
        assert evaluate(BUY, bars, 5, "2026-01-12") == ("expired", "2026-01-05", 99.5)

    def test_re_adjusted_history_is_compared_on_the_signals_own_price_basis(self):
        # a 2:1 split after entry: today's basis is half the signal's
        got = evaluate(BUY, [bar("2026-01-05", 49.5, 52.1)], 5, "2026-01-05", scale=0.5)
        assert got == ("target", "2026-01-05", 104.0)


class TestReturns:
    @pytest.mark.parametrize("direction, exit_price, expected", [
        ("BUY", 110.0, 0.10), ("BUY", 95.0, -0.05), ("SELL", 95.0, 0.05), ("SELL", 110.0, -0.10),
    ])
    def test_the_realised_return_is_sign_aware(self, direction, exit_price, expected):
        assert signed_return(direction, 100.0, exit_price) == pytest.approx(expected)

    def test_sell_barriers_mirror_buy_barriers(self):
        assert barrier_levels(100, 2, "BUY", 2.0, 1.0) == (104, 98)
        assert barrier_levels(100, 2, "SELL", 2.0, 1.0) == (96, 102)


def cand(symbol, pb, ps, ph=None):
    return Candidate(symbol, "Energy", 100.0, 2.0, pb, ps, 1 - pb - ps if ph is None else ph, "v1")


class TestDecide:
    def test_only_candidates_at_or_above_the_threshold_become_signals(self):
        d = decide([cand("A", 0.6, 0.1), cand("B", 0.5, 0.2), cand("C", 0.1, 0.55)], {}, "2026-01-05", 0.55)
        assert [(c.symbol, c.direction, c.confidence) for c in d.emit] == [("A", "BUY", 0.6), ("C", "SELL", 0.55)]

    def test_a_same_direction_candidate_keeps_the_old_signal(self):
        old = dict(BUY, symbol="A")
        d = decide([cand("A", 0.7, 0.1)], {"A": old}, "2026-01-05", 0.55)
        assert d.emit == [] and d.reverse == [] and d.kept == ["A"]

    def test_an_opposite_candidate_reverses_the_old_signal(self):
        old = dict(BUY, symbol="A")
        d = decide([cand("A", 0.1, 0.8)], {"A": old}, "2026-01-05", 0.55)
        assert [c.direction for c in d.emit] == ["SELL"] and d.reverse[0][0] is old

    def test_a_signal_already_emitted_for_this_session_is_kept_on_a_re_run(self):
        old = dict(BUY, symbol="A", market_date="2026-01-05")
        d = decide([cand("A", 0.1, 0.8)], {"A": old}, "2026-01-05", 0.55)
        assert d.emit == [] and d.reverse == [] and d.kept == ["A"]

    def test_a_weak_opposite_view_leaves_the_open_signal_alone(self):
        d = decide([cand("A", 0.3, 0.4)], {"A": dict(BUY, symbol="A")}, "2026-01-05", 0.55)
        assert d.emit == [] and d.reverse == []


class TestOneSided:
    @pytest.mark.parametrize("buy, sell, warns", [
        (95, 5, True), (5, 95, True), (90, 10, False), (9, 0, False), (10, 0, True), (0, 0, False),
    ])
    def test_it_warns_when_more_than_90_percent_point_one_way(self, buy, sell, warns):
        assert (one_sided_warning(buy, sell) is not None) is warns


class TestOneSignalRule:
    """scan's decide, train's metrics (signal_precision) and the backtest (metrics.signals) agree."""

    @pytest.mark.parametrize("threshold, pb, ps, ph, expected", [
        (0.40, 0.41, 0.14, 0.45, None),     # above the threshold but below HOLD: no signal anywhere
        (0.40, 0.14, 0.41, 0.45, None),
        (0.40, 0.45, 0.10, 0.45, "BUY"),    # equal to HOLD signals
        (0.40, 0.30, 0.45, 0.25, "SELL"),
        (0.55, 0.50, 0.10, 0.40, None),     # below the threshold
        (0.30, 0.35, 0.35, 0.30, "BUY"),    # a BUY/SELL tie is a BUY
    ])
    def test_a_probability_row_signals_the_same_side_in_scan_train_and_backtest(self, threshold, pb, ps, ph,
                                                                                expected):
        import numpy as np

        from turbomode.ml.metrics import signal_precision, signal_side, signals

        row = np.array([[pb, ps, ph]])
        backtest = signals(row, threshold)[0]
        train = signal_precision(row, np.array([2]), threshold)
        scan = decide([cand("A", pb, ps, ph)], {}, "2026-01-05", threshold).emit
        assert signal_side(pb, ps, ph, threshold) == expected
        assert [c.direction for c in scan] == ([expected] if expected else [])
        assert backtest == {None: -1, "BUY": 0, "SELL": 1}[expected]
        assert (train["buy_signals"], train["sell_signals"]) == (int(expected == "BUY"), int(expected == "SELL"))
