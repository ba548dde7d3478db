import numpy as np
import pytest

from turbomode.ml import metrics

Y = np.array([0, 1, 2, 2])
PERFECT = np.eye(3)[Y]
UNIFORM = np.full((4, 3), 1 / 3)


def test_perfect_and_uniform_forecasts_score_as_expected():
    assert metrics.log_loss(PERFECT, Y) == pytest.approx(0.0, abs=1e-5)
    assert metrics.log_loss(UNIFORM, Y) == pytest.approx(np.log(3))
    assert metrics.brier(PERFECT, Y) == 0.0
    assert metrics.brier(UNIFORM, Y) == pytest.approx(2 / 3)
    assert metrics.accuracy(PERFECT, Y) == 1.0


def test_ece_is_zero_when_confidence_matches_the_hit_rate_and_large_when_overconfident():
    conf = np.full(1000, 0.7)
    hits = np.arange(1000) < 700
    assert metrics.ece(conf, hits) == pytest.approx(0.0)
    assert metrics.ece(np.full(1000, 0.93), hits) == pytest.approx(0.23)


@pytest.mark.parametrize("proba, expected", [
    ([0.60, 0.10, 0.30], 0),    # BUY above the threshold
    ([0.10, 0.56, 0.34], 1),    # SELL above the threshold
    ([0.50, 0.10, 0.40], -1),   # below the threshold
    ([0.55, 0.00, 0.45], 0),    # exactly at the threshold counts
])
def test_signals_follow_the_scan_rule(proba, expected):
    assert metrics.signals(np.array([proba]), 0.55)[0] == expected


def test_signal_precision_counts_each_side():
    proba = np.array([[0.7, 0.1, 0.2], [0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    y = np.array([0, 2, 1, 0])
    s = metrics.signal_precision(proba, y, 0.55)
    assert (s["signals"], s["buy_signals"], s["sell_signals"]) == (3, 2, 1)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["buy_precision"] == 0.5 and s["sell_precision"] == 1.0


@pytest.mark.parametrize("buys, sells, expected", [(95, 5, "BUY"), (3, 97, "SELL"), (50, 50, None),
                                                   (90, 10, None), (9, 0, None)])
def test_one_sided_warns_above_ninety_percent_of_enough_signals(buys, sells, expected):
    assert metrics.one_sided(buys, sells) == expected


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shifted_one():
    rng = np.random.default_rng(0)
    bins = metrics.psi_bins(rng.normal(size=20000))
    assert bins["edges"][0] == -np.inf and bins["edges"][-1] == np.inf
    assert sum(bins["expected"]) == pytest.approx(1.0)
    assert metrics.psi(bins, rng.normal(size=5000)) < 0.02
    assert metrics.psi(bins, rng.normal(1.0, size=5000)) > 0.25


def _panel_labels(seed=0, days=250, symbols=40):
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(days), symbols)
    syms = np.tile(np.arange(symbols), days)
    y = rng.choice(3, size=days * symbols, p=[0.3, 0.3, 0.4])
    return rng, dates, syms, y


def test_edge_vs_base_sees_no_edge_in_noise_and_a_large_one_in_a_leak():
    rng, dates, syms, y = _panel_labels()
    noise = rng.dirichlet([1, 1, 1], size=len(y))
    for side in (0, 1):
        e = metrics.edge_vs_base(noise, y, dates, syms, side)
        assert abs(e["z"]) < 3 and abs(e["z_net"]) < 3
        assert e["n"] == 250 * 4
    leak = np.eye(3)[y] * 0.9 + 0.1 / 3
    e = metrics.edge_vs_base(leak, y, dates, syms, 0)
    assert e["precision"] > 0.95 and e["z"] > 10 and e["z_net"] > 10


def test_volatility_timing_lifts_precision_but_not_the_net_edge():
    rng, dates, syms, y = _panel_labels(1)
    # the "model" spots the rows about to move (BUY or SELL, not HOLD) but not which way
    moving = (y != 2).astype(float)
    score = rng.normal(size=len(y)) * 0.1 + moving
    proba = np.stack([0.3 + 0.05 * score, 0.3 + 0.05 * score * rng.choice([-1, 1], size=len(y)),
                      np.full(len(y), 0.4)], axis=1)
    e = metrics.edge_vs_base(proba, y, dates, syms, 0)
    assert e["z"] > 3 and e["other"] > e["other_base"]
    assert abs(e["z_net"]) < e["z"] / 2


def test_a_score_that_only_knows_the_sector_has_no_edge_within_the_sector():
    rng, dates, syms, _ = _panel_labels(2)
    sector = np.where(syms < 20, "Utilities", "Energy")
    # over this window Utilities end SELL more often than Energy (a year of market trend x beta)
    p_sell = np.where(sector == "Utilities", 0.4, 0.2)
    u = rng.random(len(syms))
    y = np.where(u < p_sell, 1, np.where(u < p_sell + 0.3, 0, 2))
    proba = np.stack([np.full(len(y), 0.3), np.where(sector == "Utilities", 0.35, 0.25), np.full(len(y), 0.4)],
                     axis=1) + rng.normal(0, 1e-3, (len(y), 3))
    across = metrics.edge_vs_base(proba, y, dates, syms, 1)
    within = metrics.edge_vs_base(proba, y, dates, syms, 1, sectors=sector)
    assert across["z"] > 3
    assert abs(within["z"]) < 3


def test_psi_bins_are_numpys_quantile_edges_and_histogram_shares():
    import numpy as np

    from turbomode.ml.metrics import psi_bins

    rng = np.random.default_rng(7)
    for values in (rng.normal(size=5000), np.round(rng.normal(size=5000), 1),  # many ties
                   np.r_[rng.exponential(size=3000), [np.nan, np.inf, -np.inf] * 5], np.full(100, 2.5)):
        finite = values[np.isfinite(values)]
        inner = np.unique(np.quantile(finite, np.linspace(0, 1, 11)[1:-1]))
        edges = np.concatenate([[-np.inf], inner, [np.inf]])
        got = psi_bins(values)
        assert got["edges"] == [float(e) for e in edges]
        assert got["expected"] == [float(e) for e in np.histogram(finite, edges)[0] / len(finite)]
