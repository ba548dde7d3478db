import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    pd.testing.assert_frame_equal(past, full.loc[past.index])


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
    pd.testing.assert_frame_equal(past[on_or_before], full.loc[past.index[on_or_before]])


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
