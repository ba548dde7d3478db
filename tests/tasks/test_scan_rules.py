"""The scan's pure rules: how an open signal is filled and finished, and which candidates become signals."""

import math

import pytest

from turbomode.ml.labels import LabelParams
from turbomode.tasks.scan_rules import (Bar, Candidate, decide, one_sided_warning, provisional_levels, settle,
                                        signed_return)

SIGMA = 0.02
P = LabelParams(target_multiple=2.0, stop_multiple=1.0, horizon_days=5, atr_days=14)
# Emitted at the close of 2026-01-02 (100), not yet filled: shows the reference close and provisional levels.
BUY = {"id": 1, "symbol": "AAA", "signal_type": "BUY", "entry_price": 100.0, "reference_price": 100.0,
       "target_price": 100 * math.exp(0.04), "stop_loss": 100 * math.exp(-0.02), "sigma": SIGMA,
       "price_basis": "close", "market_date": "2026-01-02", "expiry_date": "2026-01-09"}
SELL = dict(BUY, signal_type="SELL", target_price=100 * math.exp(-0.04), stop_loss=100 * math.exp(0.02))


def lvl(k, fill=100.0):
    return fill * math.exp(k * SIGMA)


def bar(d, low_k, high_k, close_k=None, open_k=0.0, fill=100.0):
    """A bar in sigma units around ``fill``."""
    close_k = (low_k + high_k) / 2 if close_k is None else close_k
    return Bar(d, lvl(open_k, fill), lvl(high_k, fill), lvl(low_k, fill), lvl(close_k, fill))


class TestFill:
    def test_a_signal_is_filled_at_the_next_open_and_its_levels_follow_the_fill(self):
        st = settle(BUY, [bar("2026-01-05", 0.2, 1.2, open_k=0.7)], "2026-01-05", P)
        fill = lvl(0.7)
        assert st.fill == pytest.approx(("2026-01-05", fill, fill * math.exp(0.04), fill * math.exp(-0.02)))
        assert st.outcome is None  # filled, still open

    def test_before_the_fill_bar_exists_nothing_happens(self):
        assert settle(BUY, [], "2026-01-02", P) == settle(BUY, [], "2026-01-05", P)
        assert settle(BUY, [], "2026-01-05", P).fill is None

    def test_a_signal_already_filled_is_not_filled_again(self):
        filled = dict(BUY, price_basis="fill", entry_price=100.0)
        assert settle(filled, [bar("2026-01-05", -0.5, 0.5)], "2026-01-05", P).fill is None

    def test_a_signal_whose_symbol_never_traded_again_ends_unfilled_after_its_expiry(self):
        assert settle(BUY, [], "2026-01-09", P).outcome is None
        st = settle(BUY, [], "2026-01-12", P)
        assert (st.outcome, st.exit_price, st.realized_return) == ("unfilled", 100.0, 0.0)


class TestExit:
    def test_a_buy_whose_high_reaches_the_target_closes_at_the_target(self):
        st = settle(BUY, [bar("2026-01-05", -0.5, 0.5), bar("2026-01-06", 0, 2.2)], "2026-01-06", P)
        assert (st.outcome, st.exit_date) == ("target", "2026-01-06") and st.exit_price == pytest.approx(lvl(2))

    def test_a_buy_whose_low_reaches_the_stop_closes_at_the_stop(self):
        st = settle(BUY, [bar("2026-01-05", -1.3, 0.5)], "2026-01-05", P)
        assert (st.outcome, st.exit_date) == ("stop", "2026-01-05") and st.exit_price == pytest.approx(lvl(-1))

    @pytest.mark.parametrize("signal", [BUY, SELL], ids=["buy", "sell"])
    def test_a_bar_touching_both_levels_counts_as_the_stop(self, signal):
        st = settle(signal, [bar("2026-01-05", -2.5, 2.5)], "2026-01-05", P)
        assert st.outcome == "stop" and st.exit_price == pytest.approx(lvl(-1 if signal is BUY else 1))

    @pytest.mark.parametrize("signal, open_k, outcome", [
        (BUY, -1.5, "stop"), (BUY, 2.5, "target"), (SELL, 1.5, "stop"), (SELL, -2.5, "target"),
    ])
    def test_a_gap_through_a_level_after_the_fill_bar_fills_at_the_open(self, signal, open_k, outcome):
        bars = [bar("2026-01-05", -0.5, 0.5), bar("2026-01-06", -3, 3, open_k=open_k)]
        st = settle(signal, bars, "2026-01-06", P)
        assert (st.outcome, st.exit_date) == (outcome, "2026-01-06") and st.exit_price == pytest.approx(lvl(open_k))

    def test_it_expires_at_the_close_of_the_horizons_last_bar(self):
        bars = [bar(f"2026-01-{d:02d}", -0.5, 0.5, close_k=d / 10) for d in (5, 6, 7, 8, 9, 12)]
        st = settle(BUY, bars, "2026-01-12", P)
        assert (st.outcome, st.exit_date) == ("expired", "2026-01-09") and st.exit_price == pytest.approx(lvl(0.9))

    def test_a_filled_symbol_that_stopped_trading_expires_at_its_last_close_after_the_expiry_date(self):
        bars = [bar("2026-01-05", -0.5, 0.5, close_k=-0.3)]
        assert settle(BUY, bars, "2026-01-09", P).outcome is None
        st = settle(BUY, bars, "2026-01-12", P)
        assert (st.outcome, st.exit_date) == ("expired", "2026-01-05") and st.exit_price == pytest.approx(lvl(-0.3))

    def test_the_realised_return_runs_from_the_fill_and_pays_the_round_trip(self):
        st = settle(BUY, [bar("2026-01-05", 0.0, 2.7, open_k=0.5)], "2026-01-05", P, cost=0.0012)
        fill = lvl(0.5)
        assert st.realized_return == pytest.approx(math.exp(0.04) - 1 - 0.0012)
        assert st.exit_price == pytest.approx(fill * math.exp(0.04))

    def test_re_adjusted_history_is_compared_on_the_signals_own_price_basis(self):
        # a 2:1 split after the signal: today's basis is half the signal's
        half = [Bar(b.date, b.open / 2, b.high / 2, b.low / 2, b.close / 2)
                for b in [bar("2026-01-05", -0.5, 0.5), bar("2026-01-06", 0, 2.2)]]
        st = settle(BUY, half, "2026-01-06", P, scale=0.5)
        assert st.outcome == "target" and st.exit_price == pytest.approx(lvl(2))

    def test_a_signal_adopted_from_the_old_system_keeps_its_fixed_levels_and_close_entry(self):
        old = {"signal_type": "BUY", "entry_price": 100.0, "target_price": 104.0, "stop_loss": 98.0,
               "market_date": "2026-01-02", "expiry_date": "2026-01-09"}
        st = settle(old, [Bar("2026-01-05", 105.0, 106.0, 103.0, 105.0)], "2026-01-05", P)
        assert (st.outcome, st.exit_price, st.fill) == ("target", 105.0, None)  # a gap from its close entry


class TestReturns:
    @pytest.mark.parametrize("direction, exit_price, expected", [
        ("BUY", 110.0, 0.10), ("BUY", 95.0, -0.05), ("SELL", 95.0, 0.05), ("SELL", 110.0, -0.10),
    ])
    def test_the_realised_return_is_sign_aware(self, direction, exit_price, expected):
        assert signed_return(direction, 100.0, exit_price) == pytest.approx(expected)

    def test_provisional_levels_mirror_in_log_price(self):
        assert provisional_levels(100, SIGMA, "BUY", P) == pytest.approx((lvl(2), lvl(-1)))
        assert provisional_levels(100, SIGMA, "SELL", P) == pytest.approx((lvl(-2), lvl(1)))


def cand(symbol, pb, ps, ph=None):
    return Candidate(symbol, "Energy", 100.0, 2.0, SIGMA, pb, ps, 1 - pb - ps if ph is None else ph, "v1")


class TestDecide:
    def test_only_candidates_at_or_above_the_threshold_become_signals(self):
        d = decide([cand("A", 0.6, 0.1), cand("B", 0.5, 0.2), cand("C", 0.1, 0.55)], {}, "2026-01-05", 0.55)
        assert [(c.symbol, c.direction, c.confidence) for c in d.emit] == [("A", "BUY", 0.6), ("C", "SELL", 0.55)]

    def test_a_same_direction_candidate_keeps_the_old_signal(self):
        d = decide([cand("A", 0.7, 0.1)], {"A": dict(BUY, symbol="A")}, "2026-01-05", 0.55)
        assert d.emit == [] and d.kept == ["A"] and d.held == []

    def test_an_opposite_candidate_leaves_the_open_position_alone_as_the_backtest_does(self):
        d = decide([cand("A", 0.1, 0.8)], {"A": dict(BUY, symbol="A")}, "2026-01-05", 0.55)
        assert d.emit == [] and d.held == ["A"]

    def test_a_signal_already_emitted_for_this_session_is_kept_on_a_re_run(self):
        old = dict(BUY, symbol="A", market_date="2026-01-05")
        d = decide([cand("A", 0.1, 0.8)], {"A": old}, "2026-01-05", 0.55)
        assert d.emit == [] and d.kept == ["A"]

    def test_a_weak_view_emits_nothing(self):
        d = decide([cand("A", 0.3, 0.4)], {}, "2026-01-05", 0.55)
        assert d.emit == [] and d.kept == [] and d.held == []


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
