"""`drift`: is the world still the one the champion models were trained on? (SPEC §9)

Three families of measures, per sector and (for predictions and outcomes) for the whole universe:

1. features: PSI of each feature over the last ``drift.recent_sessions`` sessions against the bins
   of the champion's training features, saved in its ensemble.json at train time (computed from the
   champion's recorded training window when a model predates that), judged against the feature's
   noise floor inside that window (ml/drift.py explains why); one verdict row per sector says
   whether its features drifted (at least ``drift.min_features`` significant);
2. predictions: PSI of the BUY/SELL mix and of the confidences of the signals emitted in the last
   ``drift.prediction_days`` days against the same span before;
3. outcomes: hit rate (closed at the target) of signals closed in the last ``drift.outcome_days``
   days against the latest backtest's, exact binomial test.

Everything is stored (drift_runs/drift_results). Significant drift alerts; with ``retrain`` (option
or ``drift.retrain``) the sectors with significant drift are retrained through the normal train job.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from turbomode.clock import iso
from turbomode.errors import MissingInput, ModelMissing
from turbomode.ml import drift as stats
from turbomode.tasks import TaskResult

log = logging.getLogger("turbomode.drift")

ALL = "ALL"
MIN_FEATURE_ROWS = 100  # recent rows of a sector below which its feature PSI is not computed
MIN_SIGNALS = 20  # signals per period below which prediction drift is 'insufficient'
MIN_CLOSED = 20  # closed signals below which the outcome test is 'insufficient'


@dataclass
class Champion:
    sector: str
    version: str
    bins: dict[str, dict[str, list[float]]]  # feature -> psi_bins of its training values
    train_start: str | None
    train_end: str | None


@dataclass
class DriftCheck:
    results: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, sector: str, kind: str, name: str, value: float | None, level: str, **detail: Any) -> None:
        self.results.append({"sector": sector, "kind": kind, "name": name,
                             "value": None if value is None else float(value), "level": level, "detail": detail})

    def verdicts(self) -> list[dict[str, Any]]:
        """The rows that decide (per-sector feature verdicts, predictions, outcomes), not single features."""
        return [r for r in self.results if r["kind"] != "feature"]

    def significant_sectors(self) -> list[str]:
        return sorted({r["sector"] for r in self.verdicts() if r["level"] == "significant" and r["sector"] != ALL})


def run(ctx, now: datetime, options: dict[str, Any]) -> TaskResult:
    cfg = ctx.config
    conn = ctx.connect()
    progress: Callable[[str, int, int], None] = options.get("progress") or (lambda label, done, total: None)
    moderate, significant = cfg["drift.moderate"], cfg["drift.significant"]

    from turbomode import compute

    compute_settings = compute.settings(cfg, options)
    champions = load_champion_bins(ctx, conn)
    check = DriftCheck()
    with compute.open_backend(compute_settings) as backend:
        feature_drift(ctx, conn, champions, check, progress, backend)
        ran_on = backend.describe()
    prediction_drift(conn, now, check, moderate, significant, cfg["drift.prediction_days"])
    outcome_drift(conn, now, check, cfg["drift.outcome_days"])

    overall = stats.worst([r["level"] for r in check.verdicts()])
    sectors = check.significant_sectors()
    counts = {lv: sum(1 for r in check.verdicts() if r["level"] == lv) for lv in (*stats.LEVELS, stats.INSUFFICIENT)}
    versions = sorted({c.version for c in champions.values()})
    summary: dict[str, Any] = {"level": overall, "counts": counts, "significant_sectors": sectors,
                               "model_versions": {c.sector: c.version for c in champions.values()},
                               "notes": check.notes, "compute": ran_on}
    from turbomode.store import drift as store

    from turbomode.store.models import running_run_id

    run_id = options.get("run_id") or running_run_id(conn, "drift", os.getpid())  # the wrapper passes it
    drift_id = store.save(conn, now=now, run_id=run_id, model_version=",".join(versions),
                          level=overall, summary=summary, results=check.results)
    summary["drift_id"] = drift_id

    from turbomode.store.prices import data_source

    summary["data_source"] = source = data_source(conn) or cfg["data.source"]
    status, lines = "succeeded", [_headline(overall, counts, sectors) + (" [SAMPLE DATA]" if source == "sample" else "")]
    if overall == "significant":
        _alert(ctx, check, sectors, run_id)
    if sectors and (options.get("retrain") or cfg["drift.retrain"]):
        outcome = _retrain(ctx, sectors, run_id, {k: options[k] for k in ("workers", "dask") if k in options})
        summary["retrain"] = outcome
        lines.append(f"retrain of {', '.join(sectors)}: {outcome['status']}")
        if outcome["status"] not in ("succeeded", "skipped"):
            status = "partial"
    elif sectors:
        lines.append("to retrain them: `turbomode drift --retrain` (or set drift.retrain = true)")
    # Every result is stored; the summary (ledger, --json) carries the ones that drifted.
    summary["flagged"] = [r for r in check.results if r["level"] in ("moderate", "significant")]
    return TaskResult(status, summary, "\n".join(lines), warnings=list(check.notes))


def _headline(overall: str, counts: dict[str, int], sectors: list[str]) -> str:
    text = (f"drift: {overall} (verdicts: {counts['significant']} significant, {counts['moderate']} moderate, "
            f"{counts['none']} stable, {counts['insufficient']} with too little data)")
    if sectors:
        text += f"; significant in {', '.join(sectors)}"
    return text


# --- features --------------------------------------------------------------------------------

def load_champion_bins(ctx, conn) -> dict[str, Champion]:
    """Each sector champion's training bins, read from its ensemble.json (checked against its sha256)."""
    import json

    from turbomode.ml.registry import CorruptModel, read_verified
    from turbomode.store import models as model_store

    found = model_store.champion_files(conn)
    if not found:
        raise ModelMissing("no champion model to compare with; run `turbomode train`")
    out: dict[str, Champion] = {}
    for sector, (version, files) in sorted(found.items()):
        ens = next((f for f in files if f["model_type"] == "ensemble"), None)
        doc: dict[str, Any] = {}
        if ens is not None:
            try:
                doc = json.loads(read_verified(ctx.models_dir, ens["path"], ens["sha256"]))
            except (CorruptModel, ValueError) as exc:
                log.warning("drift: %s champion %s: %s; using its recorded training window", sector, version, exc)
        windows = doc.get("windows") or {}
        row = ens or (files[0] if files else {})
        out[sector] = Champion(sector, version, dict(doc.get("psi") or {}),
                               windows.get("train_start") or row.get("train_start"),
                               windows.get("train_end") or row.get("train_end"))
    return out


def feature_drift(ctx, conn, champions: dict[str, Champion], check: DriftCheck,
                  progress: Callable[[str, int, int], None] = lambda label, done, total: None,
                  backend: Any = None) -> None:
    """Each sector's feature drift, one piece per sector (``sector_feature_check``) on ``backend``
    (turbomode.compute; none: one after another in this process)."""
    import numpy as np

    from turbomode import compute
    from turbomode.data.universe import load_universe
    from turbomode.ml.features import DIRECTIONAL, FEATURE_NAMES, usable
    from turbomode.ml.train import sector_rows

    backend = backend or compute.inline()
    cfg = ctx.config
    moderate, significant = cfg["drift.moderate"], cfg["drift.significant"]
    window = cfg["drift.recent_sessions"]
    from turbomode.data.universe import membership

    universe = load_universe(cfg["general.universe"] or None)
    sector_of = {s.symbol: s.sector for s in universe if s.sector in champions}
    members = membership(universe)
    end = _latest_price_date(conn)
    if end is None:
        raise MissingInput("no prices stored; run `turbomode ingest` first")
    steps = len(champions) + 2
    progress("recent features", 0, steps)
    absolute = [n for n in FEATURE_NAMES if n not in DIRECTIONAL]
    feats = recent_features(conn, sector_of, end, window, members)
    feats = feats[usable(feats)]
    dates = feats.index.get_level_values("date")
    recent = {"raw": feats[dates.isin(sorted(set(dates))[-window:])]}
    recent["relative"] = stats.stationary(feats, absolute).loc[recent["raw"].index]
    progress("training-window features", 1, steps)
    training = _training_features(conn, champions, sector_of, absolute, members)
    settings = {"moderate": moderate, "significant": significant, "window": window,
                "calibrate": bool(cfg["drift.calibrate"]), "min_features": cfg["drift.min_features"]}

    def columns(frame) -> dict[str, Any]:
        return {n: frame[n].to_numpy() for n in _feature_names(frame)}

    recent_of = {view: sector_rows(frame) for view, frame in recent.items()}

    def pieces():
        for sector, champ in sorted(champions.items()):
            mine = {}
            for view in recent:
                rows = recent_of[view](sector)
                mine[view] = (columns(rows), len(rows))
            train = {}
            for view, frame in (training.get(sector) or {}).items():
                _, day = np.unique(frame.index.get_level_values("date").to_numpy(), return_inverse=True)
                train[view] = (columns(frame), day)
            yield sector, (sector, champ.version, champ.bins, mine, train, settings)

    # One piece per sector (the noise floors are the work); results in sector order, whatever order
    # the pieces finished in.
    found: dict[str, tuple[list[dict[str, Any]], list[str]]] = {}
    for sector, out in backend.map(sector_feature_check, pieces()):
        found[sector] = out
        progress(sector, 2 + len(found), steps)
    for sector in sorted(found):
        results, notes = found[sector]
        check.results.extend(results)
        check.notes.extend(notes)
    progress("predictions and outcomes", steps, steps)


def sector_feature_check(sector: str, version: str, saved_bins: dict[str, dict[str, list[float]]],
                         recent: dict[str, tuple[dict[str, Any], int]],
                         train: dict[str, tuple[dict[str, Any], Any]], settings: dict[str, Any]
                         ) -> tuple[list[dict[str, Any]], list[str]]:
    """One sector's feature drift (a compute piece): per view ("raw", and "relative": the absolute
    features as distances from each date's median), each feature's PSI over the recent rows against
    bins of the champion's training window, judged against its noise floor inside that window; a
    feature drifted when it did in both views; then the sector's verdict. Pure: ``recent`` (view ->
    (feature values, rows)) and ``train`` (view -> (feature values, day index of each row)) in,
    (result rows, notes) out."""
    check = DriftCheck()
    moderate, significant, window = settings["moderate"], settings["significant"], settings["window"]
    views: dict[str, tuple[dict, Any, Any]] = {}  # view -> (bins, training values or None, their days)
    if train:
        for view, (values, day) in train.items():
            views[view] = (stats.reference_bins(values), values, day)
    elif saved_bins:  # no training window recorded: the bins saved at train time, raw values only
        views["raw"] = (saved_bins, None, None)
    if not views:
        check.notes.append(f"{sector}: no training bins and no training window recorded; features not checked")
        return check.results, check.notes
    per_view: dict[str, dict[str, tuple[float | None, str, Any]]] = {}
    n_rows = 0
    for view, (bins, values_train, day) in views.items():
        values_recent, n_rows = recent[view]
        values = {name: values_recent[name] for name in bins if name in values_recent}
        psis = stats.feature_psi(bins, values, min_rows=MIN_FEATURE_ROWS)
        floors: dict[str, stats.Floor | None] = {}
        if settings["calibrate"] and values_train is not None:
            for name, b in bins.items():
                if name in values_train and b.get("edges"):
                    w = stats.window_psis(b, values_train[name], day, window, max(1, window // 4))
                    floors[name] = stats.noise_floor(w, len(b["expected"]), len(bins))
        per_view[view] = {name: (value, stats.feature_level(value, floors.get(name), moderate, significant),
                                 floors.get(name)) for name, value in psis.items()}
    levels = []
    for name in per_view["raw"]:
        # a feature has drifted when it moved on its own scale and also against the rest of the
        # market on the same dates (ml/drift.py): a market-wide calm or storm is not drift
        value, lv, fl = per_view["raw"][name]
        rel = per_view.get("relative", {}).get(name)
        if rel is not None:
            lv = stats.least_severe(lv, rel[1])
        levels.append(lv)
        check.add(sector, "feature", name, value, lv, rows=n_rows, version=version,
                  floor_moderate=fl.moderate if fl else None, floor_significant=fl.significant if fl else None,
                  relative_psi=rel[0] if rel else None, relative_level=rel[1] if rel else None)
    verdict = stats.sector_feature_level(levels, settings["min_features"])
    n_sig, n_mod = levels.count("significant"), levels.count("moderate")
    check.add(sector, "features", "drifted_features", n_sig, verdict, moderate=n_mod, checked=len(levels),
              calibrated=settings["calibrate"] and bool(train), version=version,
              top=[n for n, lv in zip(per_view["raw"], levels) if lv == "significant"][:8])
    return check.results, check.notes


def _feature_names(frame) -> list[str]:
    from turbomode.ml.features import FEATURE_NAMES

    return [n for n in FEATURE_NAMES if n in frame.columns]


def _training_features(conn, champions: dict[str, Champion], sector_of: dict[str, str],
                       absolute: list[str], members: dict | None = None) -> dict[str, dict[str, Any]]:
    """sector -> {"raw": its usable feature rows of the champion's training window, "relative": the
    same with the ``absolute`` features as distances from each date's median over all the window's
    symbols (ml/drift.py)}; computed once per distinct window."""
    import pandas as pd

    from turbomode.ml.features import usable
    from turbomode.ml.train import sector_rows

    by_window: dict[tuple[str, str], list[str]] = {}
    for c in champions.values():
        if c.train_start and c.train_end:
            by_window.setdefault((c.train_start[:10], c.train_end[:10]), []).append(c.sector)
    out: dict[str, Any] = {}
    for (a, b), sectors in by_window.items():
        in_window = {s: sec for s, sec in sector_of.items() if sec in sectors}
        # each symbol from its own warm-up before the window (one listed later: from the window's start)
        starts = own_starts(conn, sorted(in_window), date.fromisoformat(a), 0)
        starts = {s: starts.get(s, a) for s in in_window}
        feats = _features(conn, in_window, starts, date.fromisoformat(b), members)
        d = feats.index.get_level_values("date")
        feats = feats[usable(feats) & (d >= pd.Timestamp(a)) & (d <= pd.Timestamp(b))]
        relative = stats.stationary(feats, absolute)
        raw_of, relative_of = sector_rows(feats), sector_rows(relative)
        for sector in sectors:
            out[sector] = {"raw": raw_of(sector), "relative": relative_of(sector)}
    return out


def _latest_price_date(conn) -> date | None:
    row = conn.execute("SELECT MAX(date) FROM price_data").fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


def own_starts(conn, symbols: list[str], on: date, sessions: int) -> dict[str, str]:
    """symbol -> the first date its features must read so that its rows from ``sessions`` sessions
    before ``on`` to ``on`` are past the warm-up, counted in its own bars (``WARMUP_BARS + 5 +
    sessions`` of them back, as scan counts): a symbol with gaps is checked whenever it has the
    history, as train (on the whole history) uses it. Symbols without a bar by ``on`` are left out."""
    from turbomode.ml.features import WARMUP_BARS
    from turbomode.store import prices

    return prices.bars_back(conn, symbols, on.isoformat(), WARMUP_BARS + 5 + sessions)


def recent_features(conn, sector_of: dict[str, str], end: date, window: int, members: dict | None = None):
    """The features of the last ``window`` sessions to ``end`` (and the warm-up rows before them),
    each symbol from its own warm-up on (``own_starts``)."""
    starts = own_starts(conn, sorted(sector_of), end, window)
    return _features(conn, {s: sec for s, sec in sector_of.items() if s in starts}, starts, end, members)


def _features(conn, sector_of: dict[str, str], starts: dict[str, str], end: date, members: dict | None = None):
    """Features of ``sector_of``'s symbols to ``end``, each symbol's bars from ``starts[symbol]`` on."""
    import pandas as pd

    from turbomode.ml.features import compute_features
    from turbomode.store.prices import read_panel

    first = min(starts.values()) if starts else end.isoformat()
    panel = read_panel(conn, symbols=sorted(sector_of), start=first, end=end.isoformat(), adjusted=True)
    if starts:
        own = pd.to_datetime(panel["symbol"].map(starts).fillna(first))
        panel = panel[(panel["date"] >= own).to_numpy()].reset_index(drop=True)
    return compute_features(panel, sector_of, members)


# --- predictions and outcomes ------------------------------------------------------------------

def prediction_drift(conn, now: datetime, check: DriftCheck, moderate: float, significant: float,
                     days: int) -> None:
    from turbomode.store import drift as store

    last = store.latest_signal_session(conn)
    if last is None:
        check.notes.append("no signals emitted yet; prediction drift not checked")
        return
    end = date.fromisoformat(last[:10])
    recent_from = end - timedelta(days=days - 1)
    prev_from, prev_to = recent_from - timedelta(days=days), recent_from - timedelta(days=1)
    recent = store.emitted_signals(conn, recent_from.isoformat(), end.isoformat())
    previous = store.emitted_signals(conn, prev_from.isoformat(), prev_to.isoformat())
    periods = {"recent": [recent_from.isoformat(), end.isoformat()],
               "previous": [prev_from.isoformat(), prev_to.isoformat()]}
    sectors = sorted({s["sector"] for s in recent + previous if s["sector"]})
    for sector in [*sectors, ALL]:
        r = [s for s in recent if sector == ALL or s["sector"] == sector]
        p = [s for s in previous if sector == ALL or s["sector"] == sector]
        mix_r, mix_p = _mix(r), _mix(p)
        enough = len(r) >= MIN_SIGNALS and len(p) >= MIN_SIGNALS
        mix = stats.category_psi(mix_p, mix_r) if enough else None
        check.add(sector, "prediction", "signal_mix", mix, stats.level(mix, moderate, significant),
                  recent=mix_r, previous=mix_p, periods=periods)
        conf_r = [s["confidence"] for s in r if s["confidence"] is not None]
        conf_p = [s["confidence"] for s in p if s["confidence"] is not None]
        conf = stats.distribution_psi(conf_p, conf_r, min_rows=MIN_SIGNALS)
        check.add(sector, "prediction", "confidence", conf, stats.level(conf, moderate, significant),
                  recent_mean=_mean(conf_r), previous_mean=_mean(conf_p), recent_n=len(conf_r),
                  previous_n=len(conf_p), periods=periods)


def outcome_drift(conn, now: datetime, check: DriftCheck, days: int) -> None:
    from turbomode.store import drift as store

    bt = store.backtest_hit_rates(conn)
    if bt is None:
        check.notes.append("no backtest yet; outcome drift not checked (run `turbomode backtest`)")
        return
    since = iso(now - timedelta(days=days))
    closed = store.closed_signals(conn, since)
    sectors = sorted({c["sector"] for c in closed if c["sector"]})
    for sector in [*sectors, ALL]:
        rows = [c for c in closed if sector == ALL or c["sector"] == sector]
        hits = sum(1 for c in rows if c["outcome"] == "target")
        expected = bt["overall"] if sector == ALL else bt["sectors"].get(sector, bt["overall"])
        t = stats.hit_rate_test(hits, len(rows), expected, min_n=MIN_CLOSED)
        check.add(sector, "outcome", "hit_rate", t["realised"], t["level"], hits=hits, n=len(rows),
                  expected=expected, p_value=t["p_value"], backtest_id=bt["id"], closed_since=since)


def _mix(signals: list[dict[str, Any]]) -> dict[str, int]:
    out = {"BUY": 0, "SELL": 0}
    for s in signals:
        t = (s["signal_type"] or "").upper()
        if t in out:
            out[t] += 1
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# --- consequences ------------------------------------------------------------------------------

def _alert(ctx, check: DriftCheck, sectors: list[str], run_id: int | None) -> None:
    from turbomode.ops import alerts

    worst = [r for r in check.verdicts() if r["level"] == "significant"][:10]
    parts = [f"{r['sector']} {r['kind']} {r['name']} = {r['value']:.3g}" if r["value"] is not None
             else f"{r['sector']} {r['kind']} {r['name']}" for r in worst]
    msg = (f"significant drift in {', '.join(sectors) or 'the whole universe'}: " + "; ".join(parts)
           + ". Retrain with `turbomode drift --retrain` or `turbomode train`")
    alerts.notify(ctx, alerts.AlertEvent(job="drift", kind="drift", message=msg, run_id=run_id,
                                         details={"sectors": sectors, "results": worst}))


def _retrain(ctx, sectors: list[str], parent_run_id: int | None,
             compute_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Retrain only ``sectors``, one `train --sector S` run each through the run wrapper (ledger, lock,
    promotion rule), as a person would, on the compute backend this drift run used; a failed sector
    does not stop the others."""
    from turbomode.errors import TurboModeError
    from turbomode.ops.runner import run_job

    runs = []
    for sector in sectors:
        try:
            out = run_job(ctx, "train", {"sector": sector, **(compute_options or {})}, trigger="dependency",
                          parent_run_id=parent_run_id)
            runs.append({"sector": sector, "status": out.status, "run_id": out.run_id,
                         "message": out.result.message if out.result else out.error})
        except TurboModeError as exc:
            runs.append({"sector": sector, "status": "failed", "error": str(exc)})
    ok = all(r["status"] in ("succeeded", "skipped") for r in runs)
    return {"sectors": sectors, "status": "succeeded" if ok else "failed", "runs": runs}
