"""The signals' own calibration (ml/metrics.py: signal_confidence_check, overconfident) and the promotion
gate that reads it: the rows that become signals are a thin tail of P(BUY) and P(SELL), which the
calibration error over every row hardly sees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from turbomode.ml import metrics

THRESHOLD = 0.40
BOUND = 0.05  # models.max_signal_ece


def random_walk_rows(*, tail_hit: float, symbols: int = 40, dates: int = 120, tail_share: float = 0.08,
                     seed: int = 0):
    """A held-out window of a random walk: BUY and SELL targets each hit 30% of the time whatever the
    row. Most rows get P(BUY) = P(SELL) = 0.30 (calibrated, no signal); a ``tail_share`` of them get
    0.46 on one side (a signal), and those reach their target ``tail_hit`` of the time."""
    rng = np.random.default_rng(seed)
    index = pd.MultiIndex.from_product([[f"S{i:02d}" for i in range(symbols)],
                                        pd.bdate_range("2025-01-02", periods=dates)], names=["symbol", "date"])
    n = len(index)
    y = rng.choice(3, size=n, p=[0.3, 0.3, 0.4])
    proba = np.column_stack([np.full(n, 0.30), np.full(n, 0.30), np.full(n, 0.40)])
    tail = rng.random(n) < tail_share
    side = rng.integers(0, 2, size=n)
    for s in (0, 1):
        rows = tail & (side == s)
        proba[rows] = [0.46, 0.25, 0.29] if s == 0 else [0.25, 0.46, 0.29]
        # the tail's labels: its side's target reached tail_hit of the time, the rest split
        u = rng.random(rows.sum())
        y[rows] = np.where(u < tail_hit, s, np.where(u < tail_hit + (1 - tail_hit) / 2, 1 - s, 2))
    return proba, y, index


def check(proba, y, index):
    return metrics.signal_confidence_check(proba, y, THRESHOLD, dates=index.get_level_values("date"),
                                           symbols=index.get_level_values("symbol"))


def test_signals_at_046_that_hit_030_are_overconfident_where_the_ece_over_every_row_passes():
    proba, y, index = random_walk_rows(tail_hit=0.30)
    assert metrics.pooled_side_ece(proba, y) < BOUND  # what the promotion gate measured alone
    c = check(proba, y, index)
    assert c["signals"] > 300 and c["mean_confidence"] == pytest.approx(0.46)
    assert c["overconfidence"] == pytest.approx(0.16, abs=0.04)
    assert metrics.overconfident(c, BOUND)


def test_signals_that_reach_their_target_as_often_as_they_claim_are_not_overconfident():
    proba, y, index = random_walk_rows(tail_hit=0.46)
    c = check(proba, y, index)
    assert abs(c["overconfidence"]) < 2 * c["se"]
    assert not metrics.overconfident(c, BOUND)


def test_a_handful_of_signals_that_all_missed_is_not_evidence_of_overconfidence():
    proba, y, index = random_walk_rows(tail_hit=0.0, tail_share=0.0)
    proba[:3] = [0.46, 0.25, 0.29]
    y[:3] = 2
    c = check(proba, y, index)
    assert c["signals"] == 3 and c["hit_rate"] == 0.0
    assert not metrics.overconfident(c, BOUND)  # a calibrated 0.46 misses all three 16% of the time


def test_without_signals_there_is_nothing_to_judge():
    proba, y, index = random_walk_rows(tail_hit=0.3, tail_share=0.0)
    c = check(proba, y, index)
    assert c["signals"] == 0 and c["overconfidence"] is None and not metrics.overconfident(c, BOUND)


def test_correlated_signals_count_as_the_clusters_they_come_from():
    # every signal of a symbol shares one outcome (one stock's state persisting): four symbols, one
    # always right and three always wrong, hit 25% at 0.46 -- hundreds of rows, but four draws
    proba, y, index = random_walk_rows(tail_hit=0.30, symbols=4, dates=250, tail_share=0.3)
    sym = index.get_level_values("symbol")
    s = metrics.signals(proba, THRESHOLD)
    for name in ("S00", "S01", "S02", "S03"):
        rows = (sym == name) & (s >= 0)
        y[rows] = s[rows] if name == "S00" else 2
    c = check(proba, y, index)
    assert c["signals"] > 250 and c["overconfidence"] > 0.15
    binomial = np.sqrt(0.46 * 0.54 / c["signals"])
    assert c["overconfidence"] > 2 * binomial  # rows counted as independent would call it over-confident
    assert c["se"] > 0.2 and not metrics.overconfident(c, BOUND)


def test_train_does_not_promote_a_version_whose_validation_signals_overstate_their_confidence():
    """The gate train applies (ml.train.finish_sector scores the ensemble, tasks.train.decide_promotion
    decides), on a random walk whose models give a third of the validation rows 0.46 on a random side:
    those signals reach their target at the base rate, while P(BUY) and P(SELL) over every row stay
    within the calibration bound. A first version, with no champion to fall back on, included."""
    from tests.ml.synth import make_panel
    from turbomode.config import defaults
    from turbomode.ml.train import MemberFit, build_dataset, finish_sector, sector_inputs, split_windows
    from turbomode.tasks.train import decide_promotion

    cfg = defaults().with_overrides(models__valid_days=150, models__calib_days=100, models__test_days=60,
                                    models__min_train_rows=100, signals__min_confidence=THRESHOLD)
    sectors = {f"E{i:02d}": "Energy" for i in range(12)}
    data = build_dataset(make_panel(sectors, days=900, seed=11, strength=0.0), sectors, cfg)
    windows = split_windows(data.index.get_level_values("date"), cfg)
    inputs, masks = sector_inputs(data, windows, cfg, sector="Energy")
    rng = np.random.default_rng(1)

    def answers(y):
        share = np.bincount(y, minlength=3) / len(y)
        base = (share[0] + share[1]) / 2  # the forecast a calibrated model of a random walk gives
        p = np.tile([base, base, 1 - 2 * base], (len(y), 1))
        tail = rng.random(len(y)) < 0.3
        side = rng.integers(0, 2, size=len(y))
        p[tail & (side == 0)] = [0.46, 0.25, 0.29]
        p[tail & (side == 1)] = [0.25, 0.46, 0.29]
        return p

    fitted = {k: MemberFit(b"", {}, answers(inputs.y_valid), answers(inputs.y_test)) for k in ("logistic",)}
    fit = finish_sector(data, windows, cfg, inputs, masks, fitted, ["logistic"])
    e = fit.ensemble_metrics
    assert metrics.signal_ece(e) < 0.05  # the calibration over every row passes the bound
    out = decide_promotion(e, {"champion_log_loss": None}, 0.05, False)
    assert out["promoted"] is False and "over-confident" in out["reason"]
    assert e["signal_check"]["signals"] > 400 and e["signal_check"]["hit_rate"] < 0.36
    assert decide_promotion(e, {"champion_log_loss": None}, 0.05, True)["promoted"] is True  # --promote


OVER = {"signals": 200, "mean_confidence": 0.45, "hit_rate": 0.30, "overconfidence": 0.15, "se": 0.04}
WORSE = {"signals": 200, "mean_confidence": 0.46, "hit_rate": 0.25, "overconfidence": 0.21, "se": 0.04}
FINE = {"signals": 200, "mean_confidence": 0.45, "hit_rate": 0.44, "overconfidence": 0.01, "se": 0.04}


@pytest.mark.parametrize("new_check, champ_ll, champ_check, promoted, words", [
    (OVER, None, None, False, "over-confident"),        # no champion: no signals rather than these
    (FINE, None, None, True, "no champion yet"),
    (OVER, 0.95, FINE, False, "the champion's 200: 0.45 claimed, 0.44 reached"),
    (OVER, 0.95, WORSE, True, "not worse"),              # the champion's signals fall shorter still
    (WORSE, 0.95, OVER, False, "over-confident"),
])
def test_a_version_whose_signals_overstate_their_confidence_is_not_promoted_unless_the_champions_do_more(
        new_check, champ_ll, champ_check, promoted, words):
    from turbomode.tasks.train import decide_promotion

    new = {"log_loss": 0.90, "ece_signal": 0.02, "signal_check": new_check}
    champion = {"champion_log_loss": champ_ll, "champion_signal_ece": 0.02, "champion_signal_check": champ_check}
    out = decide_promotion(new, champion, BOUND, False)
    assert out["promoted"] is promoted and words in out["reason"]
    forced = decide_promotion(new, champion, BOUND, True)
    assert forced["promoted"] and forced["forced"] is (not promoted)


def test_train_warns_when_the_model_sets_test_window_signals_overstate_their_confidence():
    """The test window chooses nothing, so it cannot refuse a version; what its signals did is said."""
    from types import SimpleNamespace

    from turbomode.tasks.train import _pooled_test, test_window_overconfidence

    def sector(seed, tail_hit):
        proba, y, index = random_walk_rows(tail_hit=tail_hit, symbols=20, seed=seed)
        return SimpleNamespace(test_proba=proba, y_test=y, test_index=index)

    over = _pooled_test([sector(1, 0.30), sector(2, 0.30)], THRESHOLD)
    text = test_window_overconfidence(over, BOUND)
    assert text is not None and "test-window signals claimed 0.46" in text
    fine = _pooled_test([sector(1, 0.46), sector(2, 0.46)], THRESHOLD)
    assert test_window_overconfidence(fine, BOUND) is None
