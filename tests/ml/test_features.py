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


def test_sector_relative_strength_is_measured_against_the_same_day_sector_mean():
    f = compute_features(PANEL, SECTORS2)
    ok = f[usable(f)]
    sums = ok.groupby([ok["sector"], ok.index.get_level_values("date")])["sector_rel_1"].sum()
    assert np.abs(sums).max() < 1e-6
    # one stock's jump moves its own relative strength up and its sector peers' down, same day only
    bumped = PANEL.copy()
    day = PANEL["date"].drop_duplicates().sort_values().iloc[WARMUP_BARS + 30]
    m = (bumped["symbol"] == "AAA") & (bumped["date"] >= day)
    bumped.loc[m, ["open", "high", "low", "close", "adj_close"]] *= 1.10
    g = compute_features(bumped, SECTORS2)
    assert g.loc[("AAA", day), "sector_rel_1"] > f.loc[("AAA", day), "sector_rel_1"] + 0.05
    assert g.loc[("BBB", day), "sector_rel_1"] < f.loc[("BBB", day), "sector_rel_1"] - 0.02
    assert g.loc[("DDD", day), "sector_rel_1"] == pytest.approx(f.loc[("DDD", day), "sector_rel_1"])


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
