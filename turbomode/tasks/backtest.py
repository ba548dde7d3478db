"""`backtest`: regenerate the labelled trades, then a walk-forward backtest of the model set (SPEC §9).

Order of work:
  1. the stored price panel (adjusted) and the universe's sectors; the triple-barrier labels are
     regenerated into ``trades`` (ml.labels, store.trades: the same code `train` uses);
  2. the sessions from ``start`` (default: halfway through the labelled history) to the last
     labelled session are split into ``folds`` contiguous test windows; each fold retrains every
     sector's models (ml.train.train_sector, with its own train/calibration/validation windows) on
     the expanding window that ends ``labels.horizon_days`` sessions (the embargo) before the fold,
     so no training label looks at a price inside the fold; then predicts the fold;
  3. signals by the scan's rule (ml.metrics.signals at ``signals.min_confidence``; target, stop and
     expiry from ml.labels.barriers), simulated by ml.backtest with costs and one position per
     symbol: the ensemble overall, per sector, per model type and per fold, against equal-weight
     buy-and-hold of the universe over the same sessions;
  4. one transaction: backtest_runs, backtest_folds (the windows actually trained on and tested),
     backtest_results and backtest_equity.

``options``: start (YYYY-MM-DD), folds, models (list of model types; the ensemble of them is always
evaluated), progress (callable(done, total, description)), workers / dask (where the fold x sector
pieces run: turbomode/compute; default from the config's [compute]).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date as Date, datetime
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from turbomode.clock import iso
from turbomode.errors import BadInput, ConfigError, JobFailed, MissingInput
from turbomode.tasks import TaskResult

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from turbomode.ml import backtest as bt

log = logging.getLogger("turbomode.backtest")

ENSEMBLE = "ensemble"
MIN_FIRST_TRAIN_SESSIONS = 60  # below this, the first fold cannot even fill train/calib/valid windows
Progress = Callable[[int, int, str], None]


@dataclass
class WalkForward:
    """Everything the walk-forward produced before simulation: price arrays, folds and trades."""

    sessions: "np.ndarray"  # datetime64[D], every session of the panel
    symbols: list[str]
    sectors: list[str]  # sector of each symbol row
    prices: "bt.Prices"
    folds: list["bt.Fold"]
    windows: list[dict[str, Any]]  # per fold: the dates actually trained on and tested
    signals: dict[str, "bt.Trades"]  # per model type and ENSEMBLE: the signals and their trades
    signal_fold: dict[str, "np.ndarray"]  # fold number of each signal
    candidates: "bt.Trades"  # every test row as a BUY and as a SELL (for the base rate)
    skipped: list[str] = field(default_factory=list)


def parse_models(models: Sequence[str] | None, cfg: Any) -> list[str]:
    from turbomode.ml.models import MODEL_TYPES

    if models is not None and not list(models):  # --models "" or ",,": not "every type"
        raise ConfigError(f"--models names no model type; give a comma-separated list such as lightgbm,logistic "
                          f"(from {', '.join(MODEL_TYPES)}), or leave --models out for models.types")
    chosen = list(models) if models is not None else list(cfg["models.types"])
    unknown = [m for m in chosen if m not in MODEL_TYPES]
    if unknown:
        raise ConfigError(f"unknown model type(s) {', '.join(unknown)}; choose from {', '.join(MODEL_TYPES)}")
    if not chosen:
        raise ConfigError(f"no model types chosen; choose from {', '.join(MODEL_TYPES)}")
    return list(dict.fromkeys(chosen))


def _start_date(text: str | None) -> Date | None:
    if text in (None, ""):
        return None
    try:
        return Date.fromisoformat(str(text))
    except ValueError:
        raise BadInput(f"--start {text!r} is not a date; use YYYY-MM-DD, e.g. 2019-01-02") from None


def price_arrays(panel: "pd.DataFrame", symbols: Sequence[str], members: Mapping[str, Any] | None = None
                 ) -> tuple["np.ndarray", "bt.Prices"]:
    """(sessions, Prices) from a long panel: one row per symbol (in ``symbols`` order), one column per
    session; ``members`` marks which bars count for buy-and-hold (Prices.member)."""
    import numpy as np
    import pandas as pd

    from turbomode.data.universe import member_mask
    from turbomode.ml import backtest as bt

    dates = pd.to_datetime(panel["date"]).to_numpy().astype("datetime64[D]")
    sessions = np.unique(dates)
    row = pd.Index(list(symbols)).get_indexer(panel["symbol"])
    ok = row >= 0
    col = np.searchsorted(sessions, dates)
    arrays = []
    for name in ("open", "high", "low", "close"):
        a = np.full((len(symbols), len(sessions)), np.nan)
        a[row[ok], col[ok]] = panel[name].to_numpy(dtype=np.float64)[ok]
        arrays.append(a)
    member = np.zeros((len(symbols), len(sessions)), dtype=bool)
    member[row[ok], col[ok]] = member_mask(panel["symbol"].to_numpy()[ok], panel["date"].to_numpy()[ok],
                                           dict(members or {}))
    return sessions, bt.make_prices(*arrays, member=member)


@dataclass
class SectorRows:
    """One sector's labelled rows for the walk-forward, sent to the compute workers once."""

    sector: str
    data: "pd.DataFrame"  # the data set's rows of this sector (features, label_id, horizon_end, ...)
    t: "np.ndarray"  # session index of each row
    end_t: "np.ndarray"  # session index of each row's last label bar


def fold_sector_signals(rows: SectorRows, fold: "bt.Fold", windows: Any, cfg: Any,
                        models: Sequence[str]) -> dict[str, Any]:
    """One fold x sector of the walk-forward (a compute piece): train the sector's models on the
    fold's expanding window, predict the fold's rows, and return the signals of each model type and
    of the ensemble as (row positions within ``rows``, side 0 BUY / 1 SELL); or {"skipped": why}."""
    import numpy as np

    from turbomode.ml import metrics
    from turbomode.ml.train import NotTrainable, ensemble_proba, train_sector

    train_mask = (rows.t >= fold.train_start) & (rows.t <= fold.train_end) & (rows.end_t < fold.test_start)
    test_rows = np.flatnonzero((rows.t >= fold.test_start) & (rows.t <= fold.test_end))
    try:
        fit = train_sector(rows.data[train_mask], windows, cfg, sector=rows.sector, types=models)
    except NotTrainable as exc:
        return {"skipped": str(exc)}
    out: dict[str, Any] = {}
    if len(test_rows):
        threshold = float(cfg["signals.min_confidence"])
        X = np.ascontiguousarray(rows.data.iloc[test_rows][fit.feature_names].to_numpy(dtype=np.float32))
        # ensemble_proba of one member is that member's probabilities, predicted on one thread
        probas = {m: ensemble_proba({m: fit.members[m]}, X) for m in models}
        probas[ENSEMBLE] = ensemble_proba(fit.members, X)
        for name, proba in probas.items():
            side = metrics.signals(proba, threshold)  # 0 BUY, 1 SELL, -1 none
            keep = side >= 0
            out[name] = (test_rows[keep], side[keep])
    return {"signals": out}


def walk_forward(panel: "pd.DataFrame", sectors: Mapping[str, str], cfg: Any, *, models: Sequence[str],
                 n_folds: int, start: Date | None = None, trades: dict[str, Any] | None = None,
                 progress: Progress | None = None, members: Mapping[str, Any] | None = None,
                 backend: Any = None) -> WalkForward:
    """Retrain per fold on the expanding window, predict the fold, and take each signal's trade.

    ``trades``: ``ml.labels.panel_trades`` of the same panel, when already computed. A fold trains
    on rows whose date is at least ``labels.horizon_days`` sessions before the fold *and* whose
    label's last bar (per symbol, in bars) is before the fold's first session, and predicts every
    usable row of the fold, labelled or not (a stock's last sessions before it stopped trading are
    traded as a live scan would: marked at its last close). ``members``: membership
    dates (data.universe.membership): a stock is trained on, signalled and held in buy-and-hold only
    on the dates it was in the universe. Each fold x sector is one piece (``fold_sector_signals``) on
    ``backend`` (turbomode.compute; none: one after another in this process).
    """
    import numpy as np
    import pandas as pd

    from turbomode import compute
    from turbomode.ml import backtest as bt
    from turbomode.ml.features import prepare_panel
    from turbomode.ml.labels import LabelParams, panel_trades, triple_barrier
    from turbomode.ml.train import NotTrainable, build_dataset, features_on, split_windows

    backend = backend or compute.inline()
    params = LabelParams.from_config(cfg)
    embargo = params.horizon_days
    panel = prepare_panel(panel[panel["symbol"].isin(list(sectors))])
    symbols = sorted(panel["symbol"].unique())
    sessions, prices = price_arrays(panel, symbols, members)
    if trades is None:
        trades = panel_trades(panel, params)
    labels = triple_barrier(panel, params, trades=trades)
    # Every usable feature row, labelled or not: a fold trains on labelled rows only, but tests every
    # row a live scan would have scanned. Testing only rows whose horizon is complete would skip each
    # stock's last sessions before it stopped trading: a choice made with the future.
    data = build_dataset(panel, sectors, cfg, features=features_on(backend, panel, sectors, members), labels=labels,
                         unlabelled=True)
    labelled = data["label_id"].notna().to_numpy()
    if not labelled.any():
        raise MissingInput("no labelled rows with complete features: the price history is too short; "
                           "ingest more history (at least two years)")
    row_sym = pd.Index(symbols).get_indexer(data.index.get_level_values("symbol"))
    row_t = np.searchsorted(sessions, data.index.get_level_values("date").to_numpy().astype("datetime64[D]"))
    # an unlabelled row's label ends after every session: no fold trains on it
    row_end_t = np.where(labelled, np.searchsorted(sessions, data["horizon_end"].to_numpy().astype("datetime64[D]")),
                         len(sessions))
    row_sector = data["sector"].to_numpy()
    # every panel row's session, and each data row's panel row (the trade rule's arrays are per panel row)
    tp = trades["panel"]
    panel_t = np.searchsorted(sessions, tp["date"].to_numpy().astype("datetime64[D]"))
    panel_row = pd.MultiIndex.from_arrays([tp["symbol"].to_numpy(), tp["date"].to_numpy()]).get_indexer(data.index)

    first, last = int(row_t[labelled].min()), int(row_t[labelled].max())
    if start is None:
        start_t = first + (last - first + 1) // 2
    else:
        start_t = int(np.searchsorted(sessions, np.datetime64(start, "D")))
        if start_t > last:
            raise BadInput(f"--start {start} is after the last labelled session {sessions[last]}; "
                           "choose an earlier date")
        start_t = max(start_t, first)
    try:
        folds = bt.plan_folds(first, start_t, last, n_folds, embargo, MIN_FIRST_TRAIN_SESSIONS)
    except ValueError as exc:
        raise BadInput(f"cannot split the backtest into folds from {sessions[start_t]}: {exc}; move --start "
                       "(later for a longer first training window, earlier for longer folds), use fewer "
                       "--folds, or ingest more history") from None

    threshold = float(cfg["signals.min_confidence"])
    sector_names = sorted(set(row_sector))
    names = [*models, ENSEMBLE]
    picked: dict[str, list[tuple[np.ndarray, np.ndarray, int]]] = {n: [] for n in names}
    windows: list[dict[str, Any]] = []
    skipped_by: dict[tuple[int, str], str] = {}  # (fold, sector or "") -> why it was not trained
    total, done = len(folds) * len(sector_names), 0
    day = lambda i: str(sessions[i])  # noqa: E731

    # Each sector's rows are shared with the workers once; a piece is one fold x sector.
    sector_rows = {s: np.flatnonzero(row_sector == s) for s in sector_names}
    shared = {}

    def pieces():
        nonlocal done
        for fold in folds:
            train_mask = (row_t >= fold.train_start) & (row_t <= fold.train_end) & (row_end_t < fold.test_start)
            trained_t = row_t[train_mask]
            windows.append({"fold": fold.number, "train_start": day(int(trained_t.min())) if len(trained_t) else None,
                            "train_end": day(int(trained_t.max())) if len(trained_t) else None,
                            "test_start": day(fold.test_start), "test_end": day(fold.test_end)})
            try:
                w = split_windows(data.index.get_level_values("date")[train_mask], cfg)
            except NotTrainable as exc:
                skipped_by[(fold.number, "")] = f"fold {fold.number}: {exc}"
                done += len(sector_names)
                if progress:
                    progress(done, total, f"fold {fold.number}/{len(folds)} skipped")
                continue
            for sector in sector_names:
                if sector not in shared:
                    idx = sector_rows[sector]
                    shared[sector] = backend.share(SectorRows(sector, data.iloc[idx], row_t[idx], row_end_t[idx]))
                yield (fold.number, sector), (shared[sector], fold, w, cfg, list(models))

    if progress:
        progress(done, total, f"{len(folds)} folds x {len(sector_names)} sectors "
                              f"({backend.kind}, {backend.workers} worker(s))")
    results = {}
    for (number, sector), out in backend.map(fold_sector_signals, pieces()):
        results[(number, sector)] = out
        done += 1
        if progress:
            progress(done, total, f"fold {number}/{len(folds)} · {sector}")
    shared.clear()
    # In fold and sector order, whatever order the pieces finished in.
    for fold in folds:
        if (fold.number, "") in skipped_by:
            continue
        for sector in sector_names:
            out = results[(fold.number, sector)]
            if out.get("skipped"):
                skipped_by[(fold.number, sector)] = f"fold {fold.number} {sector}: {out['skipped']}"
                continue
            for name, (local_rows, side) in out["signals"].items():
                picked[name].append((sector_rows[sector][local_rows], side, fold.number))
    skipped = [skipped_by[k] for k in sorted(skipped_by)]

    def to_trades(rows: np.ndarray, side01: np.ndarray) -> bt.Trades:
        """The trade rule's trade of each (data row, side): fills and exits as sessions."""
        pr = panel_row[rows]
        side = np.where(side01 == 0, 1, -1)
        pick = lambda key: np.where(side > 0, trades["BUY"][key][pr], trades["SELL"][key][pr])  # noqa: E731
        outcome, fill_idx, exit_idx = pick("outcome"), pick("fill_idx"), pick("exit_idx")
        return bt.Trades.of(row_sym[rows], row_t[rows], side, np.where(fill_idx >= 0, panel_t[fill_idx], -1),
                            pick("fill"), np.where(exit_idx >= 0, panel_t[exit_idx], -1), pick("exit_price"), outcome)

    signals, signal_fold = {}, {}
    for name, parts in picked.items():
        rows = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype=np.int64)
        sides = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, dtype=np.int64)
        fold_no = np.concatenate([np.full(len(p[0]), p[2]) for p in parts]) if parts else np.empty(0, dtype=np.int64)
        order = np.lexsort((row_sym[rows], row_t[rows]))  # by signal session, then symbol
        signals[name] = to_trades(rows[order], sides[order])
        signal_fold[name] = fold_no[order]
    tested = np.flatnonzero((row_t >= folds[0].test_start) & (row_t <= folds[-1].test_end))
    both = np.concatenate([tested, tested])
    candidates = to_trades(both, np.r_[np.zeros(len(tested)), np.ones(len(tested))])
    sym_sector = dict(sectors)
    return WalkForward(sessions, symbols, [sym_sector[s] for s in symbols], prices, folds, windows, signals,
                       signal_fold, candidates, skipped)


def _row(kind: str, name: str, m: Mapping[str, Any]) -> dict[str, Any]:
    from turbomode.ml.backtest import clean

    keys = ("trades", "hit_rate", "mean_return", "profit_factor", "sharpe", "max_drawdown", "exposure",
            "total_return")
    return {"slice_kind": kind, "slice": name, **clean({k: m.get(k) for k in keys})}


def evaluate(wf: WalkForward, cost_bps: float, min_trades: int = 0, horizon: int = 10
             ) -> tuple[list[dict[str, Any]], list[tuple[str, float, float]], dict[str, Any]]:
    """(results rows, equity curve, headline metrics) of a walk-forward's signals.

    Below ``min_trades`` trades a slice's profit factor and Sharpe, and the headline's z and t,
    are withheld (None) and marked ``too_few_trades``.
    """
    import numpy as np

    from turbomode.ml import backtest as bt

    start = wf.folds[0].test_start
    end = wf.prices.shape[1] - 1  # trades entered in the last fold run on until they exit
    results: list[dict[str, Any]] = []
    sims: dict[str, bt.SimResult] = {}
    sim = lambda sig, a=start, b=end: bt.simulate(wf.prices, sig, cost_bps=cost_bps, start=a, end=b,  # noqa: E731
                                                  min_trades=min_trades)
    for name, sig in wf.signals.items():
        sims[name] = sim(sig)
        results.append(_row("model", name, sims[name].metrics))
    ens_sig, ens = wf.signals[ENSEMBLE], sims[ENSEMBLE]
    results.insert(0, _row("overall", ENSEMBLE, ens.metrics))
    bh = bt.buy_and_hold(wf.prices, start, end)
    bh_metrics = bt.series_metrics(bh, np.ones(len(bh)))
    results.insert(1, _row("benchmark", "buy_hold", bh_metrics))

    sector_of_row = np.asarray(wf.sectors, dtype=object)
    sig_sector = sector_of_row[ens_sig.sym] if len(ens_sig) else np.empty(0, dtype=object)
    for sector in sorted(set(wf.sectors)):
        results.append(_row("sector", sector, sim(ens_sig.take(np.flatnonzero(sig_sector == sector))).metrics))
    for fold in wf.folds:
        sub = ens_sig.take(np.flatnonzero(wf.signal_fold[ENSEMBLE] == fold.number))
        fold_end = min(end, fold.test_end + horizon + 1)
        results.append(_row("fold", str(fold.number), sim(sub, fold.test_start, fold_end).metrics))

    strategy_eq = ens.portfolio.equity
    bh_eq = np.cumprod(1.0 + bh)
    equity = [(str(wf.sessions[start + i]), float(strategy_eq[i]), float(bh_eq[i])) for i in range(len(bh))]
    headline = _edge_statistics(wf, ens, horizon, min_trades)
    headline["buy_hold"] = bt.clean(bh_metrics)
    headline["ensemble"] = bt.clean(ens.metrics)
    return results, equity, headline


def _edge_statistics(wf: WalkForward, ens: "bt.SimResult", horizon: int, min_trades: int) -> dict[str, Any]:
    """Is there an edge? The ensemble's trades against the same trades taken without a model.

    The base rate of a trade: the share of every tested (symbol, session), traded on the same side
    by the same rule, that exits at its target; ``base_rate`` is its mean over the trades (so it
    follows the ensemble's BUY/SELL mix). Trades entered on one session share the market's path and
    trades entered within a horizon overlap, so the standard errors of the hit rate's excess over
    the base rate and of the mean net return are Newey-West errors over signal sessions with a lag
    of one horizon (ml.backtest.hac_se_of_mean), not binomial ones. Below ``min_trades`` trades the
    z and t are withheld: a t of 23 from two trades is not evidence.
    """
    import numpy as np

    from turbomode.ml import backtest as bt

    cand = wf.candidates
    done = cand.outcome != bt.PENDING
    hit = cand.outcome == bt.TARGET
    base_side = {s: float(hit[(cand.side == s) & done].mean()) if ((cand.side == s) & done).any() else math.nan
                 for s in (1, -1)}
    sig = ens.trades
    side, t = sig.side[ens.taken], sig.t[ens.taken]
    n = len(side)
    n_buy = int((side > 0).sum())
    base = np.where(side > 0, base_side[1], base_side[-1])
    hits = (sig.outcome[ens.taken] == bt.TARGET).astype(np.float64)
    excess = hits - base
    hit_se = bt.hac_se_of_mean(excess, t, horizon)
    ret_se = bt.hac_se_of_mean(ens.net, t, horizon)
    few = n < min_trades
    return bt.clean({
        "signals": len(sig), "trades": n, "buy_trades": n_buy, "sell_trades": n - n_buy,
        "too_few_trades": few, "min_trades": min_trades,
        "hit_rate": ens.metrics["hit_rate"], "base_rate": float(base.mean()) if n else math.nan,
        "base_rate_buy": base_side[1], "base_rate_sell": base_side[-1],
        "hit_rate_se": hit_se,
        "hit_rate_z": float(excess.mean() / hit_se) if n > 1 and hit_se > 0 and not few else math.nan,
        "mean_return": ens.metrics["mean_return"], "mean_return_se": ret_se,
        "mean_return_t": float(ens.net.mean() / ret_se) if n > 1 and ret_se > 0 and not few else math.nan,
    })


def run(ctx: Any, now: datetime, options: dict[str, Any]) -> TaskResult:
    cfg = ctx.config
    models = parse_models(options.get("models"), cfg)
    n_folds = int(options.get("folds") or cfg["backtest.folds"])
    start = _start_date(options.get("start"))
    progress: Progress | None = options.get("progress")
    from turbomode import compute

    settings = compute.settings(cfg, options)
    compute.check(settings)
    conn = ctx.connect()
    from turbomode.data.universe import load_universe, membership, survivorship_note
    from turbomode.ml.labels import LabelParams, panel_trades, trade_rows, triple_barrier
    from turbomode.store import backtests, trades as trades_store
    from turbomode.store.prices import data_source, read_panel

    universe = load_universe(cfg["general.universe"] or None)
    sectors = {s.symbol: s.sector for s in universe}
    members = membership(universe)
    bias = survivorship_note(universe)
    panel = read_panel(conn)
    panel = panel[panel["symbol"].isin(list(sectors))]
    if panel.empty:
        raise MissingInput("no prices stored for the universe's symbols; run `turbomode ingest` first")
    params = LabelParams.from_config(cfg)
    if progress:
        progress(0, 1, "labelling trades")
    trades = panel_trades(panel, params)
    with compute.open_backend(settings) as backend:
        if backend.in_process:
            # the folds' fits and predictions run here: their libraries, imported once (ml/libraries.py);
            # with workers, this process never fits nor predicts and does not need them
            from turbomode.ml.libraries import collector_paused, import_model_libraries

            with collector_paused():
                import_model_libraries()
        wf = walk_forward(panel, sectors, cfg, models=models, n_folds=n_folds, start=start, trades=trades,
                          progress=progress, members=members, backend=backend)
        ran_on = backend.describe()
    if not any(len(s) for s in wf.signals.values()) and len(wf.skipped) >= len(wf.folds) * len(set(wf.sectors)):
        raise JobFailed("no fold could be trained: " + "; ".join(wf.skipped[:3])
                        + "; ingest more history or choose a later --start")
    cost_bps = float(cfg["backtest.commission_bps"]) + float(cfg["backtest.slippage_bps"])
    results, equity, headline = evaluate(wf, cost_bps, int(cfg["backtest.min_trades"]), params.horizon_days)
    # Nothing is written before here: a refused or failed backtest leaves every table as it was.
    labels = triple_barrier(panel, params, trades=trades)
    n_trades = trades_store.replace_trades(conn, trade_rows(labels, sectors, cfg, iso(now)))

    source = data_source(conn)
    window = {"start": str(wf.sessions[wf.folds[0].test_start]), "end": str(wf.sessions[-1])}
    run_params = {
        "commission_bps": cfg["backtest.commission_bps"], "slippage_bps": cfg["backtest.slippage_bps"],
        "min_confidence": cfg["signals.min_confidence"], "embargo_days": params.horizon_days,
        "labels": params.as_dict(), "symbols": len(wf.symbols), "skipped": wf.skipped,
        "fills": "next open", "min_trades": int(cfg["backtest.min_trades"]),
        "universe": "fixed list" if bias else "point in time", "survivorship_note": bias,
    }
    headline["survivorship_note"] = bias
    backtest_id = backtests.save(
        conn, now=now, run_id=options.get("run_id"), start_date=window["start"], end_date=window["end"],
        folds=wf.windows, models=[*models, ENSEMBLE], params=run_params, metrics=headline, data_source=source,
        results=results, equity=equity)
    ens, bh = headline["ensemble"], headline["buy_hold"]

    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{v * 100:.1f}%"

    message = (f"backtest {backtest_id}: {ens['trades']} trades, hit rate {pct(ens['hit_rate'])} "
               f"(base {pct(headline['base_rate'])}), total {pct(ens['total_return'])} vs buy-and-hold "
               f"{pct(bh['total_return'])}" + (f" [{bias.split(' (')[0]}]" if bias else ""))
    warnings = [f"not trained: {s}" for s in wf.skipped]
    summary = {"backtest_id": backtest_id, "window": window, "folds": len(wf.folds), "fold_windows": wf.windows,
               "models": [*models, ENSEMBLE], "data_source": source, "labelled_trades": n_trades,
               "cost_bps_per_side": cost_bps, "survivorship_note": bias, "metrics": headline, "results": results,
               "compute": ran_on}
    return TaskResult("succeeded", summary, message, warnings)
