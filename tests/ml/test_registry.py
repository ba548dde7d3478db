from datetime import datetime, timezone

import numpy as np
import pytest

from tests.ml.synth import SECTORS2, make_panel
from turbomode.config import defaults
from turbomode.context import Context
from turbomode.errors import ModelMissing
from turbomode.ml import registry
from turbomode.ml.features import compute_features, latest
from turbomode.ml.predict import load_champions
from turbomode.ml.train import build_dataset, data_dates, split_windows, train_sector
from turbomode.store import models as store

CFG = defaults().with_overrides(models__trees=5, models__n_jobs=1, models__valid_days=60, models__calib_days=60,
                                models__min_train_rows=100, models__types=["logistic", "lightgbm"])
NOW = datetime(2026, 1, 23, 12, 0, tzinfo=timezone.utc)
PANEL = make_panel(days=700, seed=4)


@pytest.fixture(scope="module")
def fits():
    data = build_dataset(PANEL, SECTORS2, CFG)
    w = split_windows(data_dates(data), CFG)
    return [train_sector(data[data["sector"] == s], w, CFG, sector=s) for s in ("Energy", "Utilities")]


@pytest.fixture
def ctx(home, fresh_db):
    c = Context(home=home, config=CFG)
    yield c
    c.close()


def _register(ctx, version, fits, promoted):
    records = registry.write_version(ctx.models_dir, version, fits)
    by_sector = {f.sector: f for f in fits}
    rows = [{"sector": r.sector, "model_type": r.model_type, "path": r.path, "sha256": r.sha256,
             "windows": by_sector[r.sector].windows.as_dict(), "metrics": {}, "feature_names": []}
            for r in records]
    store.record_version(ctx.connect(), version=version, now=NOW, files=rows, promoted=promoted,
                         run={"status": "succeeded"})
    return records


def test_no_champion_is_a_model_missing_error_that_says_to_train(ctx):
    with pytest.raises(ModelMissing, match="run `turbomode train`"):
        load_champions(ctx)


def test_champions_predict_probabilities_aligned_to_the_input(ctx, fits):
    _register(ctx, "v1", fits, {"Energy", "Utilities"})
    champs = load_champions(ctx)
    assert champs.version("Energy") == "v1" and champs.version("Materials") is None
    feats = latest(compute_features(PANEL, SECTORS2)).iloc[::-1]  # any order
    out = champs.predict(feats)
    assert list(out.columns) == ["prob_buy", "prob_sell", "prob_hold"]
    assert out.index.equals(feats.index)
    assert np.allclose(out.sum(axis=1), 1.0)
    assert set(champs.feature_names) <= set(feats.columns)


def test_rows_of_a_sector_without_a_champion_or_with_missing_features_get_nan(ctx, fits):
    _register(ctx, "v1", fits[:1], {"Energy"})
    feats = compute_features(PANEL, SECTORS2).groupby(level="symbol").nth([0, -1])
    out = load_champions(ctx).predict(feats)
    energy = (feats["sector"] == "Energy").to_numpy()
    warm = feats.index.get_level_values("date") == feats.index.get_level_values("date").min()
    assert out[energy & ~warm].notna().all().all()
    assert out[~energy | warm].isna().all().all()


def test_the_version_folder_appears_whole_with_a_file_per_model_and_sector(ctx, fits):
    records = _register(ctx, "v1", fits, {"Energy"})
    assert {(r.sector, r.model_type) for r in records} == {
        (s, t) for s in ("Energy", "Utilities") for t in ("logistic", "lightgbm", "ensemble")}
    assert all((ctx.models_dir / r.path).is_file() for r in records)
    assert not [p for p in ctx.models_dir.iterdir() if p.name.startswith(".tmp")]
    with pytest.raises(FileExistsError):
        registry.write_version(ctx.models_dir, "v1", fits)


def test_a_failed_write_leaves_no_version_folder(ctx, fits, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(registry, "_fsync_dir", boom)
    with pytest.raises(OSError):
        registry.write_version(ctx.models_dir, "v9", fits)
    assert list(ctx.models_dir.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncate", "delete", "flip"])
def test_a_corrupt_champion_file_is_refused_and_the_previous_champion_is_used(ctx, fits, damage):
    _register(ctx, "v1", fits, {"Energy", "Utilities"})
    records = _register(ctx, "v2", fits, {"Energy", "Utilities"})
    victim = ctx.models_dir / next(r.path for r in records if r.sector == "Energy" and r.model_type == "lightgbm")
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "delete":
        victim.unlink()
    else:
        victim.write_bytes(bytes([data[0] ^ 1]) + data[1:])
    champs = load_champions(ctx)
    assert champs.version("Energy") == "v1" and champs.version("Utilities") == "v2"
    assert "Energy" in champs.problems and "turbomode train --sector" in champs.problems["Energy"]


def test_with_no_intact_champion_anywhere_loading_refuses(ctx, fits):
    records = _register(ctx, "v1", fits[:1], {"Energy"})
    (ctx.models_dir / records[-1].path).write_text("{}")
    with pytest.raises(ModelMissing, match="unusable.*turbomode train"):
        load_champions(ctx)


def test_promotion_retires_the_old_champion_and_challengers_stay_challengers(ctx, fits):
    _register(ctx, "v1", fits, {"Energy", "Utilities"})
    _register(ctx, "v2", fits, {"Energy"})
    assert {s: v for s, (v, _) in store.champion_files(ctx.connect()).items()} == {"Energy": "v2", "Utilities": "v1"}
    status = {d["sector"]: d for d in store.sector_status(ctx.connect())}
    assert status["Utilities"]["challenger"] == "v2" and status["Energy"]["challenger"] is None
    assert [v for v, _ in store.former_champions(ctx.connect(), "Energy")] == ["v1"]
