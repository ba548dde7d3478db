from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.ml.synth import SECTORS2, make_panel
from turbomode.config import defaults
from turbomode.ml import metrics
from turbomode.ml.train import (NotTrainable, build_dataset, data_dates, ensemble_proba, sector_rows,
                                side_balanced_weights, split_windows, train_sector, window_masks)

TINY = defaults().with_overrides(models__trees=10, models__n_jobs=1, models__valid_days=60,
                                 models__calib_days=60, models__test_days=40, models__min_train_rows=100)


@pytest.fixture(scope="module")
def dataset():
    return build_dataset(make_panel(days=700, seed=3, strength=1.0), SECTORS2, TINY)


def test_windows_are_chronological_with_an_embargo_of_the_horizon(dataset):
    w = split_windows(data_dates(dataset), TINY)
    days = pd.DatetimeIndex(data_dates(dataset).unique()).sort_values()
    pos = {d.date(): i for i, d in enumerate(days)}
    for earlier, later in (("train", "calib"), ("calib", "valid"), ("valid", "test")):
        assert pos[getattr(w, later)[0]] - pos[getattr(w, earlier)[1]] == TINY["labels.horizon_days"] + 1
    assert w.test[1] == days[-1].date()
    m = w.masks(data_dates(dataset))
    names = list(m)
    assert names == ["train", "calib", "valid", "test"]
    assert not any((m[a] & m[b]).any() for i, a in enumerate(names) for b in names[i + 1:])
    # every symbol's rows of one date fall in the same window
    for mask in m.values():
        d = pd.Series(data_dates(dataset))[mask]
        assert set(d) & set(pd.Series(data_dates(dataset))[~mask]) == set()


def test_no_label_of_a_window_reads_a_bar_of_the_next_even_when_a_symbol_misses_sessions():
    panel = make_panel(days=700, seed=3, strength=1.0)
    w = split_windows(data_dates(build_dataset(panel, SECTORS2, TINY)), TINY)
    # AAA does not trade in the embargo before the calibration window: its label on the last
    # training date then reads calibration-window bars (its horizon counts bars, not sessions)
    days = pd.DatetimeIndex(panel["date"].unique()).sort_values()
    gap = days[(days > pd.Timestamp(w.train[1])) & (days < pd.Timestamp(w.calib[0]))]
    data = build_dataset(panel[~((panel["symbol"] == "AAA") & panel["date"].isin(gap))], SECTORS2, TINY)
    assert split_windows(data_dates(data), TINY) == w
    starts = {"train": w.calib[0], "calib": w.valid[0], "valid": w.test[0]}
    by_date_only = w.masks(data_dates(data))
    leaking = data[by_date_only["train"]]["horizon_end"] >= pd.Timestamp(w.calib[0])
    assert leaking.sum() > 0  # what a date embargo alone would have let through
    m = window_masks(data, w)
    for name, nxt in starts.items():
        assert (data[m[name]]["horizon_end"] < pd.Timestamp(nxt)).all(), name


def test_a_sectors_rows_are_the_rows_a_comparison_selects_in_the_same_order(dataset):
    rows_of = sector_rows(dataset)
    shuffled = dataset.sample(frac=1.0, random_state=3)  # order must follow the frame, not the groups
    rows_of_shuffled = sector_rows(shuffled)
    assert len(set(dataset["sector"])) >= 2
    for sector in sorted(set(dataset["sector"])):
        pd.testing.assert_frame_equal(rows_of(sector), dataset[dataset["sector"] == sector])
        pd.testing.assert_frame_equal(rows_of_shuffled(sector), shuffled[shuffled["sector"] == sector])
    none = rows_of("No Such Sector")
    assert none.empty and list(none.columns) == list(dataset.columns)
    assert sector_rows(dataset.iloc[:0])("Anything").empty


def test_too_short_a_history_is_not_trainable():
    days = pd.bdate_range("2024-01-01", periods=40)
    with pytest.raises(NotTrainable, match="labelled dates"):
        split_windows(days, TINY)


def test_a_sector_trains_six_calibrated_models_and_an_ensemble(dataset):
    w = split_windows(data_dates(dataset), TINY)
    seen = []
    fit = train_sector(dataset[dataset["sector"] == "Energy"], w, TINY, sector="Energy", progress=seen.append)
    assert sorted(seen) == sorted(TINY["models.types"]) and list(fit.members) == list(TINY["models.types"])
    X = dataset[fit.feature_names].to_numpy(np.float32)[:50]
    p = ensemble_proba(fit.members, X)
    assert p.shape == (50, 3) and np.allclose(p.sum(axis=1), 1.0) and (p > 0).all()
    for m in [*fit.member_metrics.values(), fit.ensemble_metrics]:
        assert {"log_loss", "brier", "accuracy", "ece", "class_mix", "signals"} <= set(m)
        assert 0 < m["log_loss"] < 2
    assert fit.rows["valid"] == len(fit.y_valid) > 0 and fit.rows["test"] == len(fit.y_test) > 0
    assert set(fit.psi) == set(fit.feature_names)
    assert {"ece_buy", "ece_sell", "brier_buy", "brier_sell", "reliability"} <= set(fit.ensemble_metrics)
    assert fit.test_metrics["rows"] == fit.rows["test"]
    assert fit.data_end < str(w.valid[0])  # nothing fitted read a price of the validation window
    # what chose it reads on to the validation window's last labels; the test window's come after that
    rows = dataset[dataset["sector"] == "Energy"]
    m = window_masks(rows, w)
    assert fit.decided_end == str(rows["horizon_end"][m["train"] | m["calib"] | m["valid"]].max())[:10]
    assert str(w.valid[1])[:10] < fit.decided_end < str(w.test[0])[:10]
    assert fit.data_end < fit.decided_end < fit.labels_end


def test_a_fits_models_stay_the_bytes_its_pieces_returned_until_something_predicts(dataset, tmp_path, monkeypatch):
    """The version folder holds each piece's pickle as it came back, and nothing is unpickled to
    write it: the coordinating process of a train on workers needs neither the models nor their
    libraries (it imports them only to re-score a champion)."""
    import hashlib
    import pickle

    from turbomode.ml import registry
    from turbomode.ml.train import PickledModels, fit_piece

    returned = {}
    real_fit_piece = fit_piece

    def recording(inputs, kind):
        out = real_fit_piece(inputs, kind)
        returned[kind] = out.model
        return out

    monkeypatch.setattr("turbomode.ml.train.fit_piece", recording)
    w = split_windows(data_dates(dataset), TINY)
    fit = train_sector(dataset[dataset["sector"] == "Energy"], w, TINY, sector="Energy")
    assert isinstance(fit.members, PickledModels) and set(returned) == set(TINY["models.types"])

    loads = []
    real_loads = pickle.loads
    monkeypatch.setattr(pickle, "loads", lambda data, *a, **k: loads.append(len(data)) or real_loads(data, *a, **k))
    records = registry.write_version(tmp_path, "v1", [fit])
    assert loads == []  # written without loading a single model
    files = {r.model_type: r for r in records if r.model_type != "ensemble"}
    for kind, data in returned.items():
        assert (tmp_path / files[kind].path).read_bytes() == data
        assert files[kind].sha256 == hashlib.sha256(data).hexdigest()

    X = dataset[fit.feature_names].to_numpy(np.float32)[:20]
    kind = TINY["models.types"][0]
    model = fit.members[kind]  # loaded on first use, once
    assert fit.members[kind] is model and len(loads) == 1
    assert np.allclose(ensemble_proba({kind: model}, X), ensemble_proba({kind: real_loads(returned[kind])}, X))


def test_members_are_side_symmetric_a_mirrored_row_swaps_buy_and_sell(dataset):
    from turbomode.ml.features import mirror

    w = split_windows(data_dates(dataset), TINY)
    fit = train_sector(dataset[dataset["sector"] == "Energy"], w, TINY, sector="Energy")
    X = dataset[fit.feature_names].to_numpy(np.float32)[:200]
    p, q = ensemble_proba(fit.members, X), ensemble_proba(fit.members, mirror(X, fit.feature_names))
    np.testing.assert_allclose(p[:, 0], q[:, 1], atol=1e-9)
    np.testing.assert_allclose(p[:, 2], q[:, 2], atol=1e-9)


def test_balanced_weights_give_each_dates_buy_and_sell_equal_weight_and_the_sides_equal_totals():
    y = np.array([0, 0, 0, 1, 2, 0, 1, 1, 2, 0])
    day = np.array([1, 1, 1, 1, 1, 2, 2, 2, 2, 3])
    w = side_balanced_weights(y, day)
    assert w[y == 2].tolist() == [1.0, 1.0]
    # on the dates with both sides, BUY and SELL weigh alike (up to the one overall factor per side)
    ratio = [w[(day == d) & (y == 0)].sum() / w[(day == d) & (y == 1)].sum() for d in (1, 2)]
    assert ratio[0] == pytest.approx(ratio[1])
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum())


def test_a_sector_with_too_few_rows_is_not_trainable(dataset):
    w = split_windows(data_dates(dataset), TINY)
    with pytest.raises(NotTrainable, match="min_train_rows"):
        train_sector(dataset[dataset["sector"] == "Energy"], w, TINY.with_overrides(models__min_train_rows=10**6))


def test_a_missing_class_in_the_training_window_is_not_trainable(dataset):
    w = split_windows(data_dates(dataset), TINY)
    no_buy = dataset[(dataset["sector"] == "Energy") & (dataset["label_id"] != 0)]
    with pytest.raises(NotTrainable, match="BUY"):
        train_sector(no_buy, w, TINY)


def _sample(strength: float):
    from turbomode.data.sample import generate
    from turbomode.data.universe import load_universe

    secs = [s for s in load_universe() if s.sector == "Energy"][:16]
    panel = generate(secs, date(2018, 1, 2), date(2022, 12, 30), seed=defaults()["data.sample.seed"],
                     strength=strength)
    return panel, {s.symbol: s.sector for s in secs}


def _held_out_edges(strength: float, types=None):
    cfg = TINY.with_overrides(models__trees=20, models__valid_days=120, models__calib_days=200, models__test_days=250)
    if types:
        cfg = cfg.with_overrides(models__types=types)
    panel, sectors = _sample(strength)
    data = build_dataset(panel, sectors, cfg)
    w = split_windows(data_dates(data), cfg)
    fit = train_sector(data, w, cfg, sector="Energy")
    valid = data[window_masks(data, w)["test"]]
    proba = ensemble_proba(fit.members, valid[fit.feature_names].to_numpy(np.float32))
    y = valid["label_id"].to_numpy()
    return [metrics.edge_vs_base(proba, y, data_dates(valid), valid.index.get_level_values("symbol"), side)
            for side in (0, 1)]


@pytest.mark.slow
def test_the_same_measurement_finds_the_planted_edge_when_there_is_one():
    edges = _held_out_edges(1.0, ["lightgbm", "logistic"])
    assert max(e["z"] for e in edges) > 2, edges
