import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ml import reference_features as R
from tests.ml.synth import SECTORS2, make_panel
from turbomode.ml.features import FEATURE_NAMES, WARMUP_BARS, compute_features, latest, usable

PANEL = make_panel(days=WARMUP_BARS + 80, seed=11)


def _cut(panel: pd.DataFrame, end: pd.Timestamp, symbols=None) -> pd.DataFrame:
    keep = panel["date"] <= end
    if symbols is not None:  # only these symbols lose their bars after `end`
        keep |= ~panel["symbol"].isin(symbols)
    return panel[keep]


def test_appending_future_bars_leaves_past_features_unchanged():
    dates = PANEL["date"].drop_duplicates().sort_values()
    end = dates.iloc[WARMUP_BARS + 20]
    past = compute_features(_cut(PANEL, end), SECTORS2)
    full = compute_features(PANEL, SECTORS2)
    assert usable(past).sum() > 0
    # to the last bit: features feed models whose fits must not depend on later bars in any way
    pd.testing.assert_frame_equal(past, full.loc[past.index], check_exact=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=WARMUP_BARS - 5, max_value=WARMUP_BARS + 70),
       who=st.sets(st.sampled_from(sorted(SECTORS2)), min_size=1))
def test_no_feature_looks_at_a_later_bar(cut, who):
    """Removing every bar after `cut` for some symbols changes no feature on or before `cut`."""
    dates = PANEL["date"].drop_duplicates().sort_values()
    end = dates.iloc[cut]
    full = compute_features(PANEL, SECTORS2)
    past = compute_features(_cut(PANEL, end, who), SECTORS2)
    on_or_before = past.index.get_level_values("date") <= end
    pd.testing.assert_frame_equal(past[on_or_before], full.loc[past.index[on_or_before]], check_exact=True)


def test_rows_inside_the_warm_up_have_no_features():
    f = compute_features(PANEL, SECTORS2)
    first = f.groupby(level="symbol").head(WARMUP_BARS)
    assert first[list(FEATURE_NAMES)].isna().all().all()
    later = f.groupby(level="symbol").nth(slice(WARMUP_BARS, None))
    assert usable(later).all()


def test_directional_features_are_relative_to_the_same_days_sector_mean():
    from turbomode.ml.features import DIRECTIONAL

    f = compute_features(PANEL, SECTORS2)
    ok = f[usable(f)]
    sums = ok.groupby([ok["sector"], ok.index.get_level_values("date")])[list(DIRECTIONAL)].sum()
    assert np.abs(sums.to_numpy()).max() < 1e-4
    # a rally of the whole sector changes no log-linear directional feature (returns, distances from
    # means, MACD); volatility stays absolute
    linear = [n for n in DIRECTIONAL if n.startswith(("ret_", "ma_", "macd")) or n in ("gap", "intraday")]
    rally = PANEL.copy()
    day = PANEL["date"].drop_duplicates().sort_values().iloc[WARMUP_BARS + 30]
    energy = rally["symbol"].isin([s for s, sec in SECTORS2.items() if sec == "Energy"]) & (rally["date"] >= day)
    rally.loc[energy, ["open", "high", "low", "close", "adj_close"]] *= 1.10
    g = compute_features(rally, SECTORS2)
    np.testing.assert_allclose(g.loc[("AAA", day), linear].astype(float), f.loc[("AAA", day), linear].astype(float),
                               atol=1e-5)
    assert g.loc[("AAA", day), "vol_10"] > f.loc[("AAA", day), "vol_10"]
    # one stock's jump moves its own relative return up and its sector peers' down, same day only
    bumped = PANEL.copy()
    m = (bumped["symbol"] == "AAA") & (bumped["date"] >= day)
    bumped.loc[m, ["open", "high", "low", "close", "adj_close"]] *= 1.10
    h = compute_features(bumped, SECTORS2)
    assert h.loc[("AAA", day), "ret_1"] > f.loc[("AAA", day), "ret_1"] + 0.05
    assert h.loc[("BBB", day), "ret_1"] < f.loc[("BBB", day), "ret_1"] - 0.02
    assert h.loc[("DDD", day), "ret_1"] == pytest.approx(f.loc[("DDD", day), "ret_1"])


def test_the_mirror_image_market_negates_exactly_the_directional_features():
    from turbomode.ml.features import DIRECTIONAL, mirror

    mirrored = PANEL.copy()
    # every log move negated: prices become 1/price (scaled), highs and lows swap
    for c in ("open", "close", "adj_close"):
        mirrored[c] = 1e4 / PANEL[c]
    mirrored["high"], mirrored["low"] = 1e4 / PANEL["low"], 1e4 / PANEL["high"]
    f, g = compute_features(PANEL, SECTORS2), compute_features(mirrored, SECTORS2)
    ok = usable(f)
    names = list(FEATURE_NAMES)
    want = mirror(f.loc[ok, names].to_numpy(np.float64), names)
    got = g.loc[ok, names].to_numpy(np.float64)
    np.testing.assert_allclose(got, want, atol=2e-4, rtol=2e-3)  # every feature: negated or unchanged
    assert set(DIRECTIONAL) < set(names)


def test_symbols_without_a_sector_are_left_out_and_the_index_is_symbol_date():
    f = compute_features(PANEL, {k: v for k, v in SECTORS2.items() if k != "AAA"})
    assert "AAA" not in f.index.get_level_values("symbol")
    assert list(f.index.names) == ["symbol", "date"]
    assert list(f.columns) == [*FEATURE_NAMES, "sector"]
    assert f[list(FEATURE_NAMES)].dtypes.eq(np.float32).all()


def test_input_order_and_date_type_do_not_matter():
    shuffled = PANEL.sample(frac=1.0, random_state=3).copy()
    shuffled["date"] = shuffled["date"].dt.strftime("%Y-%m-%d")
    pd.testing.assert_frame_equal(compute_features(shuffled, SECTORS2), compute_features(PANEL, SECTORS2))


def test_latest_gives_each_symbols_last_row():
    f = compute_features(PANEL, SECTORS2)
    last = latest(f)
    assert len(last) == len(SECTORS2)
    assert (last.index.get_level_values("date") == PANEL["date"].max()).all()


class TestAgreementWithThePreviousCode:
    """TA-Lib and whole-column rolling replaced pandas' grouped ewm/rolling and hand-written RSI/MACD/ATR
    (tests/ml/reference_features.py); after the warm-up the values are the same to ~1e-6."""

    LONG = make_panel(days=WARMUP_BARS + 400, seed=5)

    def _both(self):
        from turbomode.ml import features as F

        p = F.prepare_panel(self.LONG)
        layout = F._Layout(p["symbol"].to_numpy())
        rsi, macd, signal = F._momentum(layout, np.log(p["close"].to_numpy()))
        new = {"rsi": rsi, "macd": macd, "signal": signal,
               "log_atr": F._log_atr(layout, *F._hlc(p), F.FEATURE_ATR_DAYS)}
        return layout.pos >= WARMUP_BARS, R.indicators(p), new

    def test_rsi_and_macd_agree_after_the_warm_up(self):
        after, old, new = self._both()
        assert np.abs(old["rsi"] - new["rsi"])[after].max() < 1e-5  # RSI points (0-100)
        assert np.abs(old["macd"] - new["macd"])[after].max() < 1e-8  # MACD of log closes: a share of the price
        assert np.abs(old["signal"] - new["signal"])[after].max() < 1e-8

    def test_the_true_range_means_are_the_same_from_the_first_full_window(self):
        from turbomode.ml import features as F

        p = F.prepare_panel(self.LONG)
        np.testing.assert_allclose(F.atr(p, 14).to_numpy(), R.atr(p, 14).to_numpy(), rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(F.log_atr(p, 14).to_numpy(), R.log_atr(p, 14).to_numpy(), rtol=1e-10,
                                   equal_nan=True)

    def test_the_whole_feature_table_is_the_same(self):
        old, new = R.compute_features(self.LONG, SECTORS2), compute_features(self.LONG, SECTORS2)
        pd.testing.assert_index_equal(old.index, new.index, exact=True)
        cols = list(FEATURE_NAMES)
        assert (old[cols].isna().to_numpy() == new[cols].isna().to_numpy()).all()
        # float32 features; the RSI (0-100) differs by ~1e-6 points, near zero after the sector mean is taken out
        pd.testing.assert_frame_equal(old, new, rtol=1e-5, atol=1e-5)

    def test_the_same_with_members_joining_and_leaving(self):
        dates = self.LONG["date"].drop_duplicates().sort_values().dt.strftime("%Y-%m-%d").to_list()
        members = {"AAA": (dates[WARMUP_BARS + 50], None), "DDD": (None, dates[WARMUP_BARS + 200])}
        old = R.compute_features(self.LONG, SECTORS2, members)
        new = compute_features(self.LONG, SECTORS2, members)
        assert (old[list(FEATURE_NAMES)].isna().to_numpy() == new[list(FEATURE_NAMES)].isna().to_numpy()).all()
        pd.testing.assert_frame_equal(old, new, rtol=1e-5, atol=1e-5)


def test_a_missing_close_restarts_the_indicators_of_that_symbol_only():
    """TA-Lib carries a NaN forward for ever; each run of complete bars is computed on its own instead."""
    holed = PANEL.copy()
    dates = PANEL["date"].drop_duplicates().sort_values()
    holed.loc[(holed["symbol"] == "AAA") & (holed["date"] == dates.iloc[20]), "close"] = np.nan
    f, g = compute_features(PANEL, SECTORS2), compute_features(holed, SECTORS2)
    late = g.index.get_level_values("date") >= dates.iloc[WARMUP_BARS + 60]
    aaa = g.index.get_level_values("symbol") == "AAA"
    assert usable(g[late & aaa]).all()  # the hole is far behind: AAA's features are back
    assert np.abs(g.loc[late & aaa, "rsi_14"] - f.loc[late & aaa, "rsi_14"]).max() < 1e-3
    others = ~g.index.get_level_values("symbol").isin(["AAA", "BBB", "CCC"])  # AAA's sector peers see its mean
    pd.testing.assert_frame_equal(g[others], f[others])


def test_a_price_that_never_moved_has_no_rsi():
    flat = PANEL.copy()
    flat.loc[flat["symbol"] == "AAA", ["open", "high", "low", "close", "adj_close"]] = 10.0
    g = compute_features(flat, SECTORS2)
    assert g.xs("AAA", level="symbol")["rsi_14"].isna().all()


@pytest.mark.parametrize("how", ["mean", "std", "max", "min"])
def test_a_symbols_rolling_values_depend_on_its_own_rows_only_to_the_last_bit(how):
    from turbomode.ml.features import _Layout

    rng = np.random.default_rng(11)
    n = 300
    symbols = np.repeat(np.array(["AAA", "BBB", "CCC"], dtype=object), n)
    x = 4.6 + rng.normal(0, 0.02, 3 * n).cumsum() / 10
    layout = _Layout(symbols)
    y = x.copy()
    y[:n] = 1e3 * rng.normal(size=n)  # another symbol, on the rows before, entirely different
    for window in (5, 20, 63):
        a, b = layout.roll(x, window, how), layout.roll(y, window, how)
        assert np.array_equal(a[n:], b[n:], equal_nan=True)
        assert np.isnan(a[n:n + window - 1]).all() and not np.isnan(a[n + window - 1:2 * n]).any()
