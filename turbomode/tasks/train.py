"""`train`: label the history, fit 6 calibrated models per sector, score, register, promote.

Order of work:
  1. the universe and the stored (adjusted) prices; features over the whole panel (the sector-
     relative features need every symbol of a sector) and the trade labels (ml/labels.py);
  2. one set of date windows for every sector (train | calibration | validation | test, an embargo
     between each, and per symbol no label reaching into the next window); each sector's six
     models are fitted on train, calibrated on calibration, scored on validation (which chooses)
     and on test (which reports, and chose nothing);
  3. promotion: a sector's new ensemble becomes champion when its validation log loss is not worse
     than the current champion's re-scored on the same validation rows and its signal calibration
     (the ECE of P(BUY) and P(SELL) pooled, ml.metrics.signal_ece) is within models.max_signal_ece, unless the
     champion's is worse, and its validation signals are not over-confident (ml.metrics.overconfident;
     this one holds for a sector's first version too) (``promote`` forces it);
  4. the version folder is written whole (temporary name, then renamed), then its
     ``model_metadata`` rows, the ``training_runs`` row and the promotions in one transaction;
     then the labelled trades replace the `trades` table's rows (of the trained sectors) in one
     transaction. A run refused or failed before that leaves every table and champion untouched.

Options: sector (train one sector), promote (force), progress (callable(completed, total, label)),
workers / dask (where the fits run: turbomode/compute; default from the config's [compute]).

The 66 fits are the pieces (sector x model type) that the compute backend runs, on local processes
or a Dask cluster; the pieces only return models and metrics, and steps 3-4 happen here after every
piece is back, so a run that loses its workers writes nothing.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

from turbomode.clock import iso
from turbomode.errors import ConfigError, MissingInput
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
    from turbomode.data.universe import pick_sector

    return available if requested is None else [pick_sector(requested, available)]


def run(ctx, now: datetime, options: dict[str, Any]) -> TaskResult:
    """The fits run on the compute backend (turbomode/compute) the config and options choose;
    everything else, and every write, happens here."""
    from turbomode import compute
    from turbomode.ml import registry

    _check_types(ctx.config)
    registry.check_models_dir(ctx.models_dir)
    with compute.open_backend(compute.settings(ctx.config, options)) as backend, ExitStack() as cleanup:
        return _train(ctx, now, options, backend, cleanup)


def _train(ctx, now: datetime, options: dict[str, Any], backend, cleanup: ExitStack) -> TaskResult:
    import numpy as np

    from turbomode.data.universe import load_universe, membership
    from turbomode.ml import registry
    from turbomode.ml import metrics
    from turbomode.ml.labels import LabelParams, trade_rows, triple_barrier
    from turbomode.ml.train import (NotTrainable, build_dataset, features_on, sector_rows, split_windows,
                                    train_sectors)
    from turbomode.store import models as store
    from turbomode.store import trades as trades_store
    from turbomode.store.prices import data_source, read_panel

    from turbomode.ml.libraries import collector_paused, import_model_libraries

    t0 = time.perf_counter()
    if backend.in_process:
        # the fits run here: what they need, imported once, up front (ml/libraries.py). With
        # workers, this process never loads a new model (it writes the bytes the pieces return),
        # and imports the libraries only to re-score a champion (_compare_with_champion).
        with collector_paused():
            import_model_libraries()
    cfg = ctx.config
    types = _check_types(cfg)
    report = options.get("progress") or (lambda done, total, label: None)
    universe = load_universe(cfg["general.universe"] or None)
    sector_of = {s.symbol: s.sector for s in universe}
    members = membership(universe)  # a stock counts only on the dates it was in the universe
    targets = _pick_sectors(options.get("sector"), sorted(set(sector_of.values())))
    total = 2 + len(targets) * len(types)
    done = 0
    report(done, total, "reading prices, features and labels")

    conn = ctx.connect()
    source = data_source(conn) or cfg["data.source"]  # every figure names its data (SPEC 9a)
    panel = read_panel(conn, symbols=sorted(sector_of), adjusted=True)
    if panel.empty:
        raise MissingInput("no prices are stored yet; run `turbomode ingest` first")
    params = LabelParams.from_config(cfg)
    labels = triple_barrier(panel, params)
    target_symbols = {s for s, sec in sector_of.items() if sec in targets}
    labels = labels[labels["symbol"].isin(target_symbols)]
    # The labelled trades are written to a scratch file on a thread from here on, while this one
    # computes the features (the second core is otherwise idle then) and the models fit.
    # They replace the stored ones only once the version is recorded (leaving `cleanup` deletes
    # the file).
    staged = cleanup.enter_context(
        trades_store.stage(lambda rows=labels: trade_rows(rows, sector_of, params, iso(now))))
    features = features_on(backend, panel, sector_of, members)
    data = build_dataset(panel, sector_of, cfg, features=features, labels=labels)
    del panel, features
    done += 1
    report(done, total, "features and labels ready")

    have_rows = set(data.index.get_level_values("symbol").unique())  # unique() first: 240 strings, not 900k
    skipped_symbols = sorted(target_symbols - have_rows)
    try:
        windows = split_windows(data.index.get_level_values("date"), cfg)
    except NotTrainable as exc:
        raise MissingInput(f"not enough history to train ({exc}); ingest more years (config data.start)") from None

    fits, skipped, comparisons = [], {}, {}

    def tick(sector: str, kind: str) -> None:
        nonlocal done
        done += 1
        report(done, total, f"{sector} · {kind}")

    report(done, total, f"fitting {len(targets)} sector(s) x {len(types)} model types "
                        f"({backend.kind}, {backend.workers} worker(s))")
    rows_of = sector_rows(data)
    for sector, fit, reason in train_sectors(backend, data, windows, cfg, targets, types, on_piece=tick,
                                             rows_of=rows_of):
        if fit is None:
            skipped[sector] = reason
            log.warning("sector %s not trained: %s", sector, reason)
            done += len(types)
            report(done, total, f"{sector} · skipped")
            continue
        fits.append(fit)
        comparisons[sector] = _compare_with_champion(ctx, sector, fit, rows_of, windows)
    # the sectors in the universe's order, whatever order their last pieces finished in
    fits.sort(key=lambda f: targets.index(f.sector))
    skipped = {s: skipped[s] for s in targets if s in skipped}
    comparisons = {f.sector: comparisons[f.sector] for f in fits}

    if not fits:
        reasons = "; ".join(f"{s}: {r}" for s, r in skipped.items())
        raise MissingInput(f"no sector could be trained ({reasons}); ingest more history or lower "
                           "models.min_train_rows")

    force = bool(options.get("promote"))
    max_ece = float(cfg["models.max_signal_ece"])
    promoted = []
    for fit in fits:
        c = comparisons[fit.sector]
        c.update(decide_promotion(fit.ensemble_metrics, c, max_ece, force))
        if c["promoted"]:
            promoted.append(fit.sector)

    report(done, total, "writing the model version")
    version = version_id(now, lambda v: store.version_exists(conn, v) or (ctx.models_dir / v).exists())
    records = registry.write_version(ctx.models_dir, version, fits, label_rule=params.as_dict())
    by_sector = {f.sector: f for f in fits}
    files = []
    for r in records:
        fit = by_sector[r.sector]
        m = fit.ensemble_metrics if r.model_type == "ensemble" else fit.member_metrics[r.model_type]
        if r.model_type == "ensemble":
            c = comparisons[r.sector]
            m = {**m, "champion_log_loss": c["champion_log_loss"], "champion_version": c["champion_version"],
                 "calibration": fit.calibration, "rows": fit.rows, "test": fit.test_metrics,
                 "signal_ece": metrics.signal_ece(fit.ensemble_metrics),
                 "champion_signal_ece": c["champion_signal_ece"], "promotion": c["reason"]}
        # what chose the version: its validation labels, or, when --promote forced it, whatever a person
        # saw (the test window too): `scan --as-of` uses it only for later dates
        decided = fit.labels_end if force and r.sector in promoted else fit.decided_end
        files.append({"sector": r.sector, "model_type": r.model_type, "path": r.path, "sha256": r.sha256,
                      "windows": {**fit.windows.as_dict(), "data_end": fit.data_end, "decided_end": decided},
                      "metrics": m,
                      "feature_names": fit.feature_names})

    warnings = []
    for fit in fits:
        sig = fit.ensemble_metrics["signals"]
        if sig["one_sided"]:
            n_side = sig["buy_signals"] if sig["one_sided"] == "BUY" else sig["sell_signals"]
            warnings.append(f"{fit.sector}: {n_side} of {sig['signals']} validation signals are {sig['one_sided']}; "
                            "a one-sided model set is a warning, not a result")
    pooled = _pooled_test(fits, float(cfg["signals.min_confidence"]))
    warnings += _model_set_mix(fits, (pooled["buy_signals"], pooled["sell_signals"]) if pooled else None)
    overstated = test_window_overconfidence(pooled, max_ece)
    if overstated:
        warnings.append(overstated)
    if skipped:
        warnings.append("sector(s) not trained: " + "; ".join(f"{s} ({r})" for s, r in skipped.items()))
    if skipped_symbols:
        warnings.append(f"{len(skipped_symbols)} symbol(s) without enough history to label and train: "
                        + ", ".join(skipped_symbols[:20]) + (" ..." if len(skipped_symbols) > 20 else ""))
    for sector, c in comparisons.items():
        if c.get("note"):
            warnings.append(c["note"])
        if c.get("warning"):
            warnings.append(f"{sector}: {c['warning']}")

    status = "partial" if skipped else "succeeded"
    sectors_summary = {}
    for fit in fits:
        e, c, t = fit.ensemble_metrics, comparisons[fit.sector], fit.test_metrics
        sectors_summary[fit.sector] = {
            "status": "champion" if c["promoted"] else "challenger",
            "forced": c["forced"], "reason": c["reason"],
            "log_loss": e["log_loss"], "champion_log_loss": c["champion_log_loss"],
            "champion_version": c["champion_version"], "brier": e["brier"], "accuracy": e["accuracy"],
            "ece": e["ece"], "ece_buy": e["ece_buy"], "ece_sell": e["ece_sell"],
            "signal_ece": metrics.signal_ece(e), "champion_signal_ece": c["champion_signal_ece"],
            "signals": e["signals"]["signals"], "precision": e["signals"]["precision"],
            "signal_check": e.get("signal_check"),
            "buy_signals": e["signals"]["buy_signals"], "sell_signals": e["signals"]["sell_signals"],
            "mean_net_return": e["signals"].get("mean_net_return"),
            "test": _test_summary(t),
            "class_mix": e["class_mix"], "rows": fit.rows, "calibration": fit.calibration,
            "members": {k: {"log_loss": m["log_loss"], "ece": m["ece"], "ece_buy": m["ece_buy"],
                            "ece_sell": m["ece_sell"]} for k, m in fit.member_metrics.items()},
        }
    elapsed = time.perf_counter() - t0
    summary = {
        **({"scope": "subset"} if options.get("sector") else {}),  # one sector is not the weekly train
        "version": version,
        "windows": windows.as_dict(),
        "models": len(fits) * len(types),
        "sectors": sectors_summary,
        "promoted": sorted(promoted),
        "challengers": sorted(f.sector for f in fits if f.sector not in promoted),
        "skipped_sectors": skipped,
        "skipped_symbols": skipped_symbols,
        "trades_written": 0,
        "test": pooled,
        "threshold": float(cfg["signals.min_confidence"]),
        "label_rule": params.as_dict(),
        "seconds": round(elapsed, 1),
        "compute": backend.describe(),
        "data_source": source,
        "warnings": warnings,
    }
    valid_ll = float(np.mean([f.ensemble_metrics["log_loss"] for f in fits]))
    store.record_version(
        conn, version=version, now=now, files=files, promoted=promoted,
        run={"run_id": options.get("run_id") or store.running_run_id(conn, "train", os.getpid()),
             "started_at": iso(now), "finished_at": iso(now + timedelta(seconds=elapsed)), "status": status,
             "sectors": [f.sector for f in fits], **{k: v for k, v in windows.as_dict().items()
                                                     if k in ("train_start", "train_end", "valid_start", "valid_end")},
             "metrics": {"mean_valid_log_loss": valid_ll, "sectors": sectors_summary, "test": pooled},
             "notes": "; ".join(warnings) or None})
    # The labelled trades of the trained sectors, now that the run has produced a version.
    written = trades_store.replace_trades(conn, staged, sectors=targets if options.get("sector") else None)
    summary["trades_written"] = written
    done = total
    report(done, total, "done")

    challengers = summary["challengers"]
    message = (f"trained {summary['models']} models in {len(fits)} sector(s) as version {version}: "
               f"champion in {len(promoted)}"
               + (f", challenger in {len(challengers)} ({', '.join(challengers)}: see the reasons above; "
                  "--promote forces)" if challengers else "")
               + (f"; {len(skipped)} sector(s) skipped" if skipped else "")
               + f"; {written:,} labelled trades; {elapsed:.0f} s"
               + (" [SAMPLE DATA]" if source == "sample" else ""))
    return TaskResult(status, summary, message, warnings)


def _compare_with_champion(ctx, sector: str, fit, rows_of, windows) -> dict[str, Any]:
    """The current champion's log loss on the new validation rows (None when there is none usable);
    ``rows_of(sector)`` gives the sector's rows, taken only when there is a champion to re-score."""
    import numpy as np

    from turbomode.ml import metrics
    from turbomode.ml.labels import LabelParams
    from turbomode.ml.libraries import collector_paused, import_model_libraries
    from turbomode.ml.registry import CorruptModel, load_sector
    from turbomode.ml.train import window_masks
    from turbomode.store import models as store

    out: dict[str, Any] = {"champion_version": None, "champion_log_loss": None, "champion_signal_ece": None,
                           "champion_signal_check": None, "note": None}
    champ = store.champion_files(ctx.connect()).get(sector)
    if champ is None:
        return out
    version, files = champ
    out["champion_version"] = version
    try:
        with collector_paused():  # a no-op when the fits ran here and imported them already
            import_model_libraries()
            # a champion fitted for another trade rule is no yardstick: its probabilities are of other trades
            loaded = load_sector(ctx.models_dir, sector, version, files, LabelParams.from_config(ctx.config).as_dict())
    except CorruptModel as exc:
        out["note"] = f"{sector}: the champion {version} cannot be re-scored ({exc}); the new version replaces it"
        return out
    rows = rows_of(sector)
    missing = [n for n in loaded.feature_names if n not in rows.columns]
    if missing:
        out["note"] = (f"{sector}: the champion {version} uses features this version no longer computes "
                       f"({', '.join(missing[:5])}); the new version replaces it")
        return out
    valid = rows[window_masks(rows, windows)["valid"]]
    X = np.ascontiguousarray(valid[loaded.feature_names].to_numpy(dtype=np.float32))
    y = valid["label_id"].to_numpy()
    proba = loaded.predict_proba(X)
    out["champion_log_loss"] = metrics.log_loss(proba, y)
    out["champion_signal_ece"] = metrics.pooled_side_ece(proba, y)
    out["champion_signal_check"] = metrics.signal_confidence_check(
        proba, y, float(ctx.config["signals.min_confidence"]), dates=valid.index.get_level_values("date"),
        symbols=valid.index.get_level_values("symbol"))
    return out


def decide_promotion(new: dict[str, Any], champion: dict[str, Any], max_ece: float, force: bool) -> dict[str, Any]:
    """Champion or challenger, and why (pure: the validation metrics of both and the bound).

    Promoted when the new ensemble's validation log loss is not worse than the champion's on the
    same rows and its signal calibration error (``metrics.signal_ece``: P(BUY) and P(SELL) pooled) is within
    ``max_ece`` — or beyond it but not worse than the champion's (a retrain on the same data is the
    champion again, and must not be refused for the champion's own error). A sector without a usable
    champion takes the new version (nothing is worse than no model), with a warning when its
    calibration error is out of bounds: on a small sector's window that error is mostly noise.

    The signals themselves (``metrics.signal_confidence_check``: the rows at or above the threshold,
    a tail the calibration error over every row hardly sees) must not hit their targets less often
    than their confidence says by more than ``max_ece`` and two standard errors
    (``metrics.overconfident``). That is not noise: a version whose signals fail it is not promoted,
    even where there is no champion (the sector then gets no signals: a confidence the signals do not
    earn is worse than none), unless the champion's signals on the same rows fall shorter still.
    ``force`` (--promote) overrides, and says so.
    """
    from turbomode.ml import metrics

    ll, ece = new["log_loss"], metrics.signal_ece(new)
    c_ll, c_ece = champion.get("champion_log_loss"), champion.get("champion_signal_ece")
    reasons, warning = [], None
    if c_ll is not None and ll > c_ll + LOSS_TOLERANCE:
        reasons.append(f"validation log loss {ll:.4f} is worse than the champion's {c_ll:.4f}")
    if ece is not None and ece > max_ece:
        if c_ll is None:
            warning = (f"signal calibration error {ece:.3f} exceeds models.max_signal_ece {max_ece:.3f}; promoted "
                       "because the sector has no usable champion")
        elif c_ece is None or ece > c_ece + LOSS_TOLERANCE:  # as with the loss: not worse than the champion's
            reasons.append(f"signal calibration error {ece:.3f} exceeds models.max_signal_ece {max_ece:.3f}"
                           + (f" (the champion's is {c_ece:.3f})" if c_ece is not None else ""))
    check, c_check = new.get("signal_check"), champion.get("champion_signal_check")
    if metrics.overconfident(check, max_ece):
        champion_worse = (c_ll is not None and metrics.overconfident(c_check, max_ece)
                          and c_check["overconfidence"] > check["overconfidence"])
        if not champion_worse:
            reasons.append(overconfidence_text(check, max_ece, c_check if c_ll is not None else None))
    promoted = force or not reasons
    if not reasons:
        reason = "no champion yet" if c_ll is None else "not worse than the champion on the validation window"
    elif force:
        reason = "forced by --promote although " + "; ".join(reasons)
    else:
        reason = "; ".join(reasons)
    return {"promoted": promoted, "forced": bool(force and reasons), "reason": reason, "warning": warning}


def overconfidence_text(check: dict[str, Any], max_ece: float, champion: dict[str, Any] | None = None) -> str:
    """'its N validation signals claimed 0.44 on average and hit 0.16 of the time (± 2 SE) ...'."""
    text = (f"its {check['signals']} validation signals claimed {check['mean_confidence']:.2f} on average and "
            f"reached their target {check['hit_rate']:.2f} of the time (±{2 * check['se']:.2f}): over-confident "
            f"beyond models.max_signal_ece {max_ece:.3f} and beyond chance")
    if champion and champion.get("signals"):
        text += (f" (the champion's {champion['signals']}: {champion['mean_confidence']:.2f} claimed, "
                 f"{champion['hit_rate']:.2f} reached)")
    return text


def test_window_overconfidence(pooled: dict[str, Any], max_ece: float) -> str | None:
    """The warning when the model set's test-window signals (``_pooled_test``: the window that chose
    nothing) hit their targets less often than their confidence says (ml.metrics.overconfident).
    It cannot refuse anything (that window must not choose), so it says so where the user looks."""
    from turbomode.ml import metrics

    c = (pooled or {}).get("signal_check")
    if not metrics.overconfident(c, max_ece):
        return None
    return (f"model set: its {c['signals']} test-window signals claimed {c['mean_confidence']:.2f} on average and "
            f"reached their target {c['hit_rate']:.2f} of the time (±{2 * c['se']:.2f}): their confidence "
            "overstates what they did on the window that chose nothing; check the calibration table and "
            "models.calibration before acting on them")


def _model_set_mix(fits, test: tuple[int, int] | None) -> list[str]:
    """The signal-mix rule (ml.metrics.one_sided) on the whole model set: its validation signals over
    every sector (a sector's handful is too few to judge on its own, eleven handfuls are not) and its
    test-window signals (the window that chose nothing)."""
    from turbomode.ml import metrics

    out = []
    if len(fits) > 1:  # one sector's mix is judged above, per sector
        b = sum(f.ensemble_metrics["signals"]["buy_signals"] for f in fits)
        s = sum(f.ensemble_metrics["signals"]["sell_signals"] for f in fits)
        text = metrics.one_sided_text(b, s, f"the {len(fits)} sectors' {{total}} validation signals")
        if text:
            out.append(f"model set: {text}")
    if test is not None:
        text = metrics.one_sided_text(*test, "the {total} test-window signals")
        if text:
            out.append(f"model set: {text}")
    return out


def _test_summary(t: dict[str, Any]) -> dict[str, Any]:
    """The test window's figures for one sector (the reported quality)."""
    if not t:
        return {}
    sig = t["signals"]
    return {"rows": t["rows"], "log_loss": t["log_loss"], "ece_buy": t["ece_buy"], "ece_sell": t["ece_sell"],
            "brier_buy": t["brier_buy"], "brier_sell": t["brier_sell"], "signals": sig["signals"],
            "buy_signals": sig["buy_signals"], "sell_signals": sig["sell_signals"], "precision": sig["precision"],
            "mean_net_return": sig.get("mean_net_return"), "reliability": t["reliability"]}


def _pooled_test(fits, threshold: float) -> dict[str, Any]:
    """The whole model set on the test window: every sector's ensemble probabilities pooled."""
    import numpy as np

    from turbomode.ml import metrics

    fits = [f for f in fits if f.test_proba is not None and len(f.y_test)]
    if not fits:
        return {}
    proba = np.concatenate([f.test_proba for f in fits])
    y = np.concatenate([f.y_test for f in fits])
    e = metrics.evaluate(proba, y, threshold)
    out = {"rows": e["rows"], "ece_buy": e["ece_buy"], "ece_sell": e["ece_sell"], "brier_buy": e["brier_buy"],
           "brier_sell": e["brier_sell"], "reliability": e["reliability"], "signals": e["signals"]["signals"],
           "buy_signals": e["signals"]["buy_signals"], "sell_signals": e["signals"]["sell_signals"],
           "precision": e["signals"]["precision"], "class_mix": e["class_mix"]}
    if all(f.test_index is not None for f in fits):
        index = [f.test_index for f in fits]
        out["signal_check"] = metrics.signal_confidence_check(
            proba, y, threshold, dates=np.concatenate([i.get_level_values("date").to_numpy() for i in index]),
            symbols=np.concatenate([i.get_level_values("symbol").to_numpy() for i in index]))
    return out
