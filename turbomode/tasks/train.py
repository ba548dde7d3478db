"""`train`: label the history, fit 6 calibrated models per sector, score, register, promote.

Order of work:
  1. the universe and the stored (adjusted) prices; features over the whole panel (the market-
     relative features need every symbol) and triple-barrier labels;
  2. the labelled trades replace the `trades` table's rows (of the trained sectors) in one
     transaction;
  3. one set of date windows for every sector (train | embargo | calibration | embargo |
     validation); each sector's six models are fitted, calibrated and scored on validation;
  4. promotion: a sector's new ensemble becomes champion when its validation log loss is not worse
     than the current champion's re-scored on the same validation rows (``promote`` forces it);
  5. the version folder is written whole (temporary name, then renamed), then its
     ``model_metadata`` rows, the ``training_runs`` row and the promotions in one transaction.
     A failure before that leaves the champions untouched.

Options: sector (train one sector), promote (force), progress (callable(completed, total, label)).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta
from typing import Any

from turbomode.clock import iso
from turbomode.errors import BadInput, ConfigError, MissingInput
from turbomode.tasks import TaskResult

log = logging.getLogger("turbomode.train")
LOSS_TOLERANCE = 1e-9  # "not worse" allows float noise


def version_id(now: datetime, taken) -> str:
    """A UTC timestamp, suffixed when a version of that second exists already."""
    base = iso(now).replace("-", "").replace(":", "")  # 20260123T120000Z
    v, n = base, 1
    while taken(v):
        n += 1
        v = f"{base}-{n}"
    return v


def _check_types(cfg) -> list[str]:
    from turbomode.ml.models import MODEL_TYPES

    types = list(cfg["models.types"])
    unknown = [t for t in types if t not in MODEL_TYPES]
    if unknown or not types:
        raise ConfigError(f"config option models.types has unknown type(s) {', '.join(unknown) or '(none given)'}; "
                          f"choose from {', '.join(MODEL_TYPES)}")
    return types


def _pick_sectors(requested: str | None, available: list[str]) -> list[str]:
    if not requested:
        return available
    by_lower = {s.lower(): s for s in available}
    hit = by_lower.get(requested.strip().lower())
    if hit is None:
        raise BadInput(f"unknown --sector {requested!r}; the universe's sectors are: {', '.join(available)}")
    return [hit]


def run(ctx, now: datetime, options: dict[str, Any]) -> TaskResult:
    import numpy as np

    from turbomode.data.universe import load_universe
    from turbomode.ml import registry
    from turbomode.ml.features import compute_features, usable
    from turbomode.ml.labels import LabelParams, trade_rows, triple_barrier
    from turbomode.ml.train import NotTrainable, split_windows, train_sector
    from turbomode.store import models as store
    from turbomode.store import trades as trades_store
    from turbomode.store.prices import read_panel

    t0 = time.perf_counter()
    cfg = ctx.config
    types = _check_types(cfg)
    report = options.get("progress") or (lambda done, total, label: None)
    universe = load_universe(cfg["general.universe"] or None)
    sector_of = {s.symbol: s.sector for s in universe}
    targets = _pick_sectors(options.get("sector"), sorted(set(sector_of.values())))
    total = 2 + len(targets) * len(types)
    done = 0
    report(done, total, "reading prices, features and labels")

    conn = ctx.connect()
    panel = read_panel(conn, symbols=sorted(sector_of), adjusted=True)
    if panel.empty:
        raise MissingInput("no prices are stored yet; run `turbomode ingest` first")
    params = LabelParams.from_config(cfg)
    features = compute_features(panel, sector_of)
    labels = triple_barrier(panel, params)
    target_symbols = {s for s, sec in sector_of.items() if sec in targets}
    labels = labels[labels["symbol"].isin(target_symbols)]
    written = trades_store.replace_trades(
        conn, trade_rows(labels, sector_of, params, iso(now)), sectors=targets if options.get("sector") else None)
    data = features[usable(features)].join(labels.set_index(["symbol", "date"])["label_id"], how="inner")
    del panel
    done += 1
    report(done, total, "features and labels ready")

    have_rows = set(data.index.get_level_values("symbol"))
    skipped_symbols = sorted(target_symbols - have_rows)
    try:
        windows = split_windows(data.index.get_level_values("date"), cfg)
    except NotTrainable as exc:
        raise MissingInput(f"not enough history to train ({exc}); ingest more years (config data.start)") from None

    fits, skipped, comparisons = [], {}, {}
    for sector in targets:
        rows = data[data["sector"] == sector]
        try:
            def tick(kind: str, _sector=sector) -> None:
                nonlocal done
                done += 1
                report(done, total, f"{_sector} · {kind}")

            report(done, total, f"{sector} · {types[0]}")
            fit = train_sector(rows, windows, cfg, sector=sector, types=types, progress=tick)
        except NotTrainable as exc:
            skipped[sector] = str(exc)
            log.warning("sector %s not trained: %s", sector, exc)
            done += len(types)
            report(done, total, f"{sector} · skipped")
            continue
        fits.append(fit)
        comparisons[sector] = _compare_with_champion(ctx, sector, fit, rows, windows)

    if not fits:
        reasons = "; ".join(f"{s}: {r}" for s, r in skipped.items())
        raise MissingInput(f"no sector could be trained ({reasons}); ingest more history or lower "
                           "models.min_train_rows")

    force = bool(options.get("promote"))
    promoted = []
    for fit in fits:
        c = comparisons[fit.sector]
        c["promoted"] = force or c["champion_log_loss"] is None or \
            fit.ensemble_metrics["log_loss"] <= c["champion_log_loss"] + LOSS_TOLERANCE
        c["forced"] = force and c["champion_log_loss"] is not None and \
            fit.ensemble_metrics["log_loss"] > c["champion_log_loss"] + LOSS_TOLERANCE
        if c["promoted"]:
            promoted.append(fit.sector)

    report(done, total, "writing the model version")
    version = version_id(now, lambda v: store.version_exists(conn, v) or (ctx.models_dir / v).exists())
    records = registry.write_version(ctx.models_dir, version, fits)
    by_sector = {f.sector: f for f in fits}
    files = []
    for r in records:
        fit = by_sector[r.sector]
        m = fit.ensemble_metrics if r.model_type == "ensemble" else fit.member_metrics[r.model_type]
        if r.model_type == "ensemble":
            m = {**m, "champion_log_loss": comparisons[r.sector]["champion_log_loss"],
                 "champion_version": comparisons[r.sector]["champion_version"], "calibration": fit.calibration,
                 "rows": fit.rows}
        files.append({"sector": r.sector, "model_type": r.model_type, "path": r.path, "sha256": r.sha256,
                      "windows": fit.windows.as_dict(), "metrics": m, "feature_names": fit.feature_names})

    warnings = []
    for fit in fits:
        sig = fit.ensemble_metrics["signals"]
        if sig["one_sided"]:
            n_side = sig["buy_signals"] if sig["one_sided"] == "BUY" else sig["sell_signals"]
            warnings.append(f"{fit.sector}: {n_side} of {sig['signals']} validation signals are {sig['one_sided']}; "
                            "a one-sided model set is a warning, not a result")
    if skipped:
        warnings.append("sector(s) not trained: " + "; ".join(f"{s} ({r})" for s, r in skipped.items()))
    if skipped_symbols:
        warnings.append(f"{len(skipped_symbols)} symbol(s) without enough history to label and train: "
                        + ", ".join(skipped_symbols[:20]) + (" ..." if len(skipped_symbols) > 20 else ""))
    for c in comparisons.values():
        if c.get("note"):
            warnings.append(c["note"])

    status = "partial" if skipped else "succeeded"
    sectors_summary = {}
    for fit in fits:
        e, c = fit.ensemble_metrics, comparisons[fit.sector]
        sectors_summary[fit.sector] = {
            "status": "champion" if c["promoted"] else "challenger",
            "forced": c["forced"],
            "log_loss": e["log_loss"], "champion_log_loss": c["champion_log_loss"],
            "champion_version": c["champion_version"], "brier": e["brier"], "accuracy": e["accuracy"],
            "ece": e["ece"], "signals": e["signals"]["signals"], "precision": e["signals"]["precision"],
            "buy_signals": e["signals"]["buy_signals"], "sell_signals": e["signals"]["sell_signals"],
            "class_mix": e["class_mix"], "rows": fit.rows, "calibration": fit.calibration,
            "members": {k: {"log_loss": m["log_loss"], "ece": m["ece"]} for k, m in fit.member_metrics.items()},
        }
    elapsed = time.perf_counter() - t0
    summary = {
        "version": version,
        "windows": windows.as_dict(),
        "models": len(fits) * len(types),
        "sectors": sectors_summary,
        "promoted": sorted(promoted),
        "challengers": sorted(f.sector for f in fits if f.sector not in promoted),
        "skipped_sectors": skipped,
        "skipped_symbols": skipped_symbols,
        "trades_written": written,
        "label_rule": params.as_dict(),
        "seconds": round(elapsed, 1),
        "warnings": warnings,
    }
    valid_ll = float(np.mean([f.ensemble_metrics["log_loss"] for f in fits]))
    store.record_version(
        conn, version=version, now=now, files=files, promoted=promoted,
        run={"run_id": options.get("run_id") or store.running_run_id(conn, "train", os.getpid()),
             "started_at": iso(now), "finished_at": iso(now + timedelta(seconds=elapsed)), "status": status,
             "sectors": [f.sector for f in fits], **{k: v for k, v in windows.as_dict().items()
                                                     if k in ("train_start", "train_end", "valid_start", "valid_end")},
             "metrics": {"mean_valid_log_loss": valid_ll, "sectors": sectors_summary},
             "notes": "; ".join(warnings) or None})
    done = total
    report(done, total, "done")

    challengers = summary["challengers"]
    message = (f"trained {summary['models']} models in {len(fits)} sector(s) as version {version}: "
               f"champion in {len(promoted)}"
               + (f", challenger in {len(challengers)} ({', '.join(challengers)}: validation log loss worse than "
                  "the champion's on the same window; --promote forces)" if challengers else "")
               + (f"; {len(skipped)} sector(s) skipped" if skipped else "")
               + f"; {written:,} labelled trades; {elapsed:.0f} s")
    return TaskResult(status, summary, message, warnings)


def _compare_with_champion(ctx, sector: str, fit, rows, windows) -> dict[str, Any]:
    """The current champion's log loss on the new validation rows (None when there is none usable)."""
    import numpy as np

    from turbomode.ml import metrics
    from turbomode.ml.registry import CorruptModel, load_sector
    from turbomode.store import models as store

    out: dict[str, Any] = {"champion_version": None, "champion_log_loss": None, "note": None}
    champ = store.champion_files(ctx.connect()).get(sector)
    if champ is None:
        return out
    version, files = champ
    out["champion_version"] = version
    try:
        loaded = load_sector(ctx.models_dir, sector, version, files)
    except CorruptModel as exc:
        out["note"] = f"{sector}: the champion {version} cannot be re-scored ({exc}); the new version replaces it"
        return out
    missing = [n for n in loaded.feature_names if n not in rows.columns]
    if missing:
        out["note"] = (f"{sector}: the champion {version} uses features this version no longer computes "
                       f"({', '.join(missing[:5])}); the new version replaces it")
        return out
    valid = rows[windows.masks(rows.index.get_level_values("date"))["valid"]]
    X = np.ascontiguousarray(valid[loaded.feature_names].to_numpy(dtype=np.float32))
    out["champion_log_loss"] = metrics.log_loss(loaded.predict_proba(X), valid["label_id"].to_numpy())
    return out
