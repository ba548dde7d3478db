"""Drift statistics as pure functions: levels, PSI noise floors, the mix and the binomial test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from turbomode.ml import drift


@pytest.mark.parametrize("value, expected", [
    (0.0, "none"), (0.0999, "none"), (0.1, "moderate"), (0.2499, "moderate"), (0.25, "significant"),
    (3.0, "significant"), (None, "insufficient"), (math.nan, "insufficient"),
])
def test_psi_levels_follow_the_configured_thresholds(value, expected):
    assert drift.level(value, 0.1, 0.25) == expected


def test_the_worst_level_ignores_insufficient_data():
    assert drift.worst(["none", "insufficient", "moderate"]) == "moderate"
    assert drift.worst(["insufficient"]) == "none"
    assert drift.worst([]) == "none"


def bins_of(values, n=10):
    from turbomode.ml.metrics import psi_bins

    return psi_bins(values, n)


def test_window_psis_agree_with_the_psi_of_each_window():
    from turbomode.ml.metrics import psi

    rng = np.random.default_rng(1)
    days = np.repeat(np.arange(100), 5)  # 100 days, 5 values a day
    values = rng.standard_normal(500) * (1 + (days > 60))
    b = bins_of(values)
    got = drift.window_psis(b, values, days, window=20, stride=20)
    want = [psi(b, values[(days >= s) & (days < s + 20)]) for s in range(0, 81, 20)]
    assert got == pytest.approx(want)


def test_same_distribution_stays_under_its_floor_and_a_doubled_scale_passes_it():
    rng = np.random.default_rng(7)
    days = np.repeat(np.arange(1000), 10)
    train = rng.standard_normal(len(days))
    b = bins_of(train)
    floor = drift.noise_floor(drift.window_psis(b, train, days, 63, 16), 10, 33)
    same = drift.feature_psi({"x": b}, {"x": rng.standard_normal(630)})["x"]
    wider = drift.feature_psi({"x": b}, {"x": 2.0 * rng.standard_normal(630)})["x"]

    assert drift.feature_level(same, floor, 0.1, 0.25) == "none"
    assert drift.feature_level(wider, floor, 0.1, 0.25) == "significant"
    assert floor.moderate < floor.significant


def test_a_persistent_feature_gets_a_floor_that_absorbs_its_ordinary_swings():
    # A slow random walk: any quarter of it is far from the whole (raw PSI >> 0.25) in an
    # unchanged world; its own training quarters are just as far, so it is not called drift.
    rng = np.random.default_rng(3)
    n_days, n_sym = 1500, 8
    walk = np.cumsum(rng.standard_normal((n_days, n_sym)) * 0.05, axis=0) + rng.standard_normal(n_sym)
    days = np.repeat(np.arange(n_days), n_sym)
    train, recent = walk[:1200].ravel(), walk[-63:].ravel()
    b = bins_of(train)
    floor = drift.noise_floor(drift.window_psis(b, train, days[: train.size], 63, 16), 10, 33)
    value = drift.feature_psi({"x": b}, {"x": recent})["x"]

    assert value > 0.25  # the raw rule would call it significant
    assert drift.feature_level(value, floor, 0.1, 0.25) != "significant"


@pytest.mark.parametrize("value, floor, expected", [
    (0.30, None, "significant"),  # no floor: the raw thresholds
    (0.30, drift.Floor(0.2, 0.5, 0.1, 30), "moderate"),  # above 0.25 but within the significant floor
    (0.30, drift.Floor(0.4, 0.5, 0.1, 30), "none"),
    (0.60, drift.Floor(0.2, 0.5, 0.1, 30), "significant"),
    (0.15, drift.Floor(0.05, 0.1, 0.02, 30), "moderate"),  # beyond both floors, but PSI < 0.25
    (0.05, drift.Floor(0.01, 0.02, 0.005, 30), "none"),  # beyond its floor, but below the threshold
    (None, drift.Floor(0.1, 0.2, 0.05, 30), "insufficient"),
])
def test_a_feature_level_needs_both_the_threshold_and_the_floor(value, floor, expected):
    assert drift.feature_level(value, floor, 0.1, 0.25) == expected


@pytest.mark.parametrize("levels, expected", [
    (["none"] * 30, "none"),
    (["significant"] + ["none"] * 29, "moderate"),
    (["moderate"] * 3 + ["none"] * 27, "moderate"),
    (["significant"] * 3 + ["none"] * 27, "significant"),
    (["moderate", "insufficient"], "none"),
])
def test_a_sector_drifts_significantly_only_when_several_features_do(levels, expected):
    assert drift.sector_feature_level(levels, min_features=3) == expected


def test_the_signal_mix_psi_is_zero_for_the_same_mix_and_large_for_a_flip():
    assert drift.category_psi({"BUY": 50, "SELL": 50}, {"BUY": 20, "SELL": 20}) == pytest.approx(0.0)
    assert drift.category_psi({"BUY": 50, "SELL": 50}, {"BUY": 95, "SELL": 5}) > 0.25
    assert drift.category_psi({"BUY": 0, "SELL": 0}, {"BUY": 5, "SELL": 5}) is None


def test_confidence_drift_sees_a_shifted_distribution():
    rng = np.random.default_rng(2)
    before = 0.55 + rng.beta(2, 8, 400) * 0.4
    assert drift.distribution_psi(before, 0.55 + rng.beta(2, 8, 300) * 0.4) < 0.1
    assert drift.distribution_psi(before, 0.75 + rng.beta(2, 8, 300) * 0.2) > 0.25
    assert drift.distribution_psi(before, before[:5]) is None


@pytest.mark.parametrize("hits, n, expected, level", [
    (30, 100, 0.45, "significant"),  # worse than the backtest: p < 0.01
    (36, 100, 0.45, "none"),  # p ~ 0.08: within chance
    (62, 100, 0.45, "moderate"),  # better than the backtest is never significant
    (44, 100, 0.45, "none"),
    (2, 10, 0.45, "insufficient"),  # too few closed signals
    (30, 100, None, "insufficient"),  # no backtest hit rate to compare with
])
def test_the_hit_rate_is_tested_against_the_backtest(hits, n, expected, level):
    out = drift.hit_rate_test(hits, n, expected)
    assert out["level"] == level
    if level != "insufficient":
        from scipy.stats import binomtest

        assert out["p_value"] == pytest.approx(binomtest(hits, n, expected).pvalue)
