"""The quality figures' arithmetic (ml/quality.py: measure, one_line) on rows made by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from turbomode.ml.quality import measure, one_line


def trended_window(n: int = 4000, buy_rate: float = 0.35, sell_rate: float = 0.15):
    """Rows whose every forecast says 25% for each side, in a window whose market rose: BUY targets
    were hit on 35% of the rows and SELL targets on 15%."""
    rng = np.random.default_rng(7)
    y = np.full(n, 2)
    y[:int(n * buy_rate)] = 0
    y[int(n * buy_rate):int(n * (buy_rate + sell_rate))] = 1
    y = rng.permutation(y)
    proba = np.tile([0.25, 0.25, 0.5], (n, 1))
    dates = pd.bdate_range("2026-01-05", periods=n // 20).repeat(20)
    sectors = np.where(np.arange(n) % 2, "Energy", "Utilities")
    return proba, y, dates, sectors


def test_the_oracles_calibration_on_the_same_rows_shows_what_a_trended_window_does_to_each_side():
    proba, y, dates, sectors = trended_window()
    q = measure(proba, y, dates, sectors, 0.4, oracle=proba[:, :2])

    # the model forecast what the oracle forecast: each side misses by the window's trend, ...
    assert q["calibration"]["BUY"]["ece"] == pytest.approx(0.10, abs=1e-9)
    assert q["calibration"]["SELL"]["ece"] == pytest.approx(0.10, abs=1e-9)
    assert q["oracle_calibration"]["BUY"] == pytest.approx(0.10, abs=1e-9)
    assert q["oracle_calibration"]["SELL"] == pytest.approx(0.10, abs=1e-9)
    # ... and the pooled error, over both sides, cancels it for both
    assert q["calibration"]["pooled_ece"] == pytest.approx(0.0, abs=1e-9)
    assert q["oracle_calibration"]["pooled_ece"] == pytest.approx(0.0, abs=1e-9)
    assert ("calibration error BUY 0.100, SELL 0.100, both sides 0.000 (the oracle's on the same rows: "
            "BUY 0.100, SELL 0.100, both sides 0.000)") in one_line(q)


def test_a_model_worse_calibrated_than_the_oracle_shows_it_beside_the_oracle():
    proba, y, dates, sectors = trended_window(buy_rate=0.25, sell_rate=0.25)
    model = proba.copy()
    model[:, 0] = 0.40  # every row 15 points too confident of BUY
    model[:, 2] = 0.35
    q = measure(model, y, dates, sectors, 0.45, oracle=proba[:, :2])
    assert q["calibration"]["BUY"]["ece"] == pytest.approx(0.15, abs=1e-9)
    assert q["oracle_calibration"]["BUY"] == pytest.approx(0.0, abs=1e-9)


def test_without_an_oracle_the_line_names_no_oracle():
    proba, y, dates, sectors = trended_window()
    q = measure(proba, y, dates, sectors, 0.4)
    assert "oracle_calibration" not in q and "oracle" not in one_line(q)
