"""A tiny sample market in a fresh home, and ways to read back what a run stored (for comparing runs)."""

from __future__ import annotations

import json
import pickle
import shutil
import sqlite3
from datetime import date
from pathlib import Path

from tests.conftest import NOW
from turbomode.data.universe import Security

SECURITIES = [Security(f"E{i}", f"Energy {i}", "Energy") for i in range(4)] + \
             [Security(f"U{i}", f"Utility {i}", "Utilities") for i in range(4)]
TYPES = ["lightgbm", "random_forest"]  # two seeded model types: a seed that did not travel would show


def write_config(home: Path, *, securities=SECURITIES, types=TYPES, trees: int = 5, extra: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    uni = home / "universe.csv"
    uni.write_text("symbol,name,sector\n" + "".join(f"{s.symbol},{s.name},{s.sector}\n" for s in securities))
    (home / "turbomode.toml").write_text(
        f'[general]\nuniverse = "{uni.as_posix()}"\n[data]\nsource = "sample"\n'
        f"[models]\ntrees = {trees}\nmin_train_rows = 200\nvalid_days = 120\ncalib_days = 120\n"
        f"test_days = 100\nmax_signal_ece = 1.0\ntypes = {json.dumps(types)}\n"
        "[drift]\nrecent_sessions = 40\nmin_features = 3\n" + extra)


def write_market(home: Path, *, securities=SECURITIES, start=date(2021, 1, 4), end=date(2025, 12, 31),
                 strength: float = 0.6) -> None:
    from turbomode.data.sample import generate
    from turbomode.store.db import connect
    from turbomode.store.prices import write_bars

    conn = connect(home / "turbomode.db")
    write_bars(conn, generate(securities, start, end, seed=5, strength=strength), "sample", NOW)
    conn.close()


def copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    uni = dst / "universe.csv"
    text = (dst / "turbomode.toml").read_text().replace((src / "universe.csv").as_posix(), uni.as_posix())
    (dst / "turbomode.toml").write_text(text)
    return dst


def rows(home: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(home / "turbomode.db")
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def stored_models(home: Path) -> dict[tuple[str, str], object]:
    """(sector, model type) -> the model loaded from the newest version's file."""
    out = {}
    for sector, kind, path in rows(home, "SELECT sector, model_type, path FROM model_metadata WHERE model_type != "
                                         "'ensemble' ORDER BY id"):
        out[(sector, kind)] = pickle.loads((home / "models" / path).read_bytes())
    return out


def stored_metrics(home: Path) -> dict[tuple[str, str], dict]:
    return {(s, k): json.loads(m) for s, k, m in rows(home, "SELECT sector, model_type, metrics FROM model_metadata")}


def features_of(home: Path):
    """Every usable feature row of the home's market, as the models see them."""
    import numpy as np

    from turbomode.ml.features import FEATURE_NAMES, compute_features, usable
    from turbomode.store.db import connect
    from turbomode.store.prices import read_panel

    conn = connect(home / "turbomode.db")
    panel = read_panel(conn, adjusted=True)
    conn.close()
    f = compute_features(panel, {s.symbol: s.sector for s in SECURITIES})
    f = f[usable(f)]
    return np.ascontiguousarray(f[list(FEATURE_NAMES)].to_numpy(dtype=np.float32))
