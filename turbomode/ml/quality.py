"""How good are the signals, as a share of the best possible? (the sample market's oracle, SPEC §7)

Given held-out forecasts (the ensemble's P(BUY), P(SELL), P(HOLD)), their labels and, on the sample
market, the oracle's probabilities for the same rows (``data.sample.oracle``), ``measure`` reports
for each side, at the signal threshold:

* the signals the product would emit (ml.metrics.signals), their precision (share that reached
  the target) and the base rate of the side over all held-out rows;
* the oracle's precision at the **same number** of signals (its top rows by P(side)): the best any
  model could do with that many signals. A model above it by more than two standard errors has
  seen the future (leakage); ``recovered`` = (model - base) / (oracle - base) is the share of the
  achievable edge the model found;
* the BUY share of the signals, overall and per sector;
* calibration of P(BUY) and P(SELL) one-vs-rest (ECE, Brier, reliability table);
* the base rates of BUY and SELL labels, their difference and its standard error;
* a threshold-free ranking edge (ml.metrics.edge_vs_base): each sector's and date's top decile by
  P(side) - P(other side) against the base rate of the same sector and date — on a random walk,
  where no signal clears a threshold above break-even, this is what shows there is no edge.

Standard errors are clustered by blocks of ``BLOCK`` consecutive sessions: one date's stocks share
the market's move, and labels of neighbouring dates share most of their horizon, so neither a
binomial error nor one clustered by single dates is honest (on a random walk a date-clustered error
called a held-out year's market trend a 2.6-sigma difference between BUY and SELL).
"""

from __future__ import annotations

from typing import Any, Sequence

SIDES = (("BUY", 0, "p_buy"), ("SELL", 1, "p_sell"))
BLOCK = 21  # sessions per cluster: about a month, two label horizons


def clustered_se(values: Any, clusters: Any) -> float:
    """Standard error of the mean of ``values`` with observations clustered (CR1, by ``clusters``)."""
    import numpy as np
    import pandas as pd

    v = np.asarray(values, dtype=float)
    n = len(v)
    if n < 2:
        return float("nan")
    codes = pd.factorize(np.asarray(clusters))[0]
    g = int(codes.max()) + 1
    if g < 2:
        return float("nan")
    resid = np.bincount(codes, weights=v - v.mean())
    return float(np.sqrt(np.sum(resid ** 2) * g / (g - 1)) / n)


def measure(proba: Any, y: Any, dates: Any, sectors: Sequence[str], threshold: float,
            oracle: Any = None, min_sector_signals: int = 20, symbols: Sequence[str] | None = None) -> dict[str, Any]:
    """Held-out quality figures (see the module docstring). ``oracle``: (n, 2) P(BUY), P(SELL) or None."""
    import numpy as np

    from turbomode.ml import metrics

    import pandas as pd

    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y)
    day = np.asarray(dates)
    dates = pd.factorize(day, sort=True)[0] // BLOCK  # the clusters of the standard errors
    sectors = np.asarray(sectors, dtype=object)
    sig = metrics.signals(proba, threshold)
    out: dict[str, Any] = {"rows": int(len(y)), "threshold": threshold, "dates": int(len(np.unique(day)))}
    for name, c, _ in SIDES:
        picked = sig == c
        n = int(picked.sum())
        hit = (y == c).astype(float)
        d: dict[str, Any] = {"signals": n, "base": float(hit.mean()) if len(y) else float("nan")}
        d["precision"] = float(hit[picked].mean()) if n else float("nan")
        d["se"] = clustered_se(hit[picked], dates[picked]) if n else float("nan")
        d["mean_confidence"] = float(proba[picked, c].mean()) if n else float("nan")
        if oracle is not None and n:
            p_or = np.asarray(oracle, dtype=float)[:, c]
            top = np.argsort(-p_or, kind="stable")[:n]
            d["oracle_precision"] = float(hit[top].mean())
            d["oracle_se"] = clustered_se(hit[top], dates[top])
            d["oracle_mean_probability"] = float(p_or[top].mean())
            edge = d["oracle_precision"] - d["base"]
            d["recovered"] = float((d["precision"] - d["base"]) / edge) if edge > 0 else float("nan")
            d["leak_margin"] = float(d["oracle_precision"] + 2 * np.hypot(d["se"], d["oracle_se"]) - d["precision"])
        out[name] = d
    nb, ns = out["BUY"]["signals"], out["SELL"]["signals"]
    out["buy_share"] = nb / (nb + ns) if nb + ns else float("nan")
    if oracle is not None:  # the best forecast's own mix at the same threshold: what the market offered
        o = np.asarray(oracle, dtype=float)
        o_sig = metrics.signals(np.column_stack([o, np.clip(1.0 - o.sum(axis=1), 0.0, 1.0)]), threshold)
        ob, os_ = int((o_sig == 0).sum()), int((o_sig == 1).sum())
        out["oracle_buy_share"] = ob / (ob + os_) if ob + os_ else float("nan")
        for sec in sorted(set(sectors)):
            m = sectors == sec
            b, sl = int((o_sig[m] == 0).sum()), int((o_sig[m] == 1).sum())
            out.setdefault("oracle_sectors", {})[sec] = {"buy": b, "sell": sl,
                                                          "buy_share": b / (b + sl) if b + sl else None}
    per_sector = {}
    for s in sorted(set(sectors)):
        m = sectors == s
        b, sl = int((sig[m] == 0).sum()), int((sig[m] == 1).sum())
        per_sector[s] = {"buy": b, "sell": sl, "buy_share": b / (b + sl) if b + sl else None}
    out["sectors"] = per_sector
    judged = [v["buy_share"] for v in per_sector.values() if v["buy"] + v["sell"] >= min_sector_signals]
    out["sector_buy_share_range"] = (min(judged), max(judged)) if judged else None
    cal = metrics.side_calibration(proba, y)
    out["calibration"] = {k: {"ece": v["ece"], "brier": v["brier"], "reliability": v["reliability"]}
                          for k, v in cal.items()}
    out["calibration"]["pooled_ece"] = metrics.pooled_side_ece(proba, y)
    if oracle is not None:
        # The best forecast's own calibration on the same rows: what no forecast could do better. A
        # window in which the market trended misses on both sides for the oracle too (the BUY and SELL
        # rates move apart; only the pooled error cancels it).
        o = np.asarray(oracle, dtype=float)
        o3 = np.column_stack([o, np.clip(1.0 - o.sum(axis=1), 0.0, 1.0)])
        o_cal = metrics.side_calibration(o3, y)
        out["oracle_calibration"] = {"BUY": o_cal["BUY"]["ece"], "SELL": o_cal["SELL"]["ece"],
                                     "pooled_ece": metrics.pooled_side_ece(o3, y)}
    diff = (y == 0).astype(float) - (y == 1).astype(float)
    out["base_rate_difference"] = float(diff.mean()) if len(y) else float("nan")
    out["base_rate_difference_se"] = clustered_se(diff, dates)
    out["mean_probability"] = {"BUY": float(proba[:, 0].mean()), "SELL": float(proba[:, 1].mean())}
    if symbols is not None:
        out["ranking"] = {name: metrics.edge_vs_base(proba, y, day, np.asarray(symbols), c, sectors=sectors)
                          for name, c, _ in SIDES}
    return out


def one_line(q: dict[str, Any]) -> str:
    """The figures in one line (the demo's summary); ± two standard errors."""
    parts = []
    for name, _, _ in SIDES:
        d = q[name]
        if not d["signals"]:
            parts.append(f"{name} no signals")
            continue
        text = f"{name} {d['signals']} hit {d['precision']:.0%} ±{2 * d['se']:.0%} (base {d['base']:.0%}"
        if "oracle_precision" in d:
            text += f"; the oracle's best {d['signals']}: {d['oracle_precision']:.0%} ±{2 * d['oracle_se']:.0%}"
        parts.append(text + ")")
    cal = q["calibration"]
    tail = f"; BUY share {q['buy_share']:.0%}" if q["buy_share"] == q["buy_share"] else ""
    pooled = f", both sides {cal['pooled_ece']:.3f}" if "pooled_ece" in cal else ""
    best = q.get("oracle_calibration")
    oracle = (f" (the oracle's on the same rows: BUY {best['BUY']:.3f}, SELL {best['SELL']:.3f}, both sides "
              f"{best['pooled_ece']:.3f})") if best else ""
    return ("held-out " + "; ".join(parts) + tail
            + f"; calibration error BUY {cal['BUY']['ece']:.3f}, SELL {cal['SELL']['ece']:.3f}{pooled}{oracle}")


def held_out_year(*, years: int, symbols: int | None, strength: float, seed: int | None, end: Any,
                  n_jobs: int = 2, overrides: dict | None = None, paths: int = 300, held_out: int = 252,
                  oracle: bool = True, log: Any = print) -> dict[str, Any]:
    """``measure`` on the sample market's final ``held_out`` sessions, never fitted, chosen or tuned on.

    The market is ``years`` of the sample generator up to ``end`` (``symbols`` spread over the
    sectors, all when None). The models are trained exactly as `train` trains them (features, labels,
    windows, six calibrated members, mean ensemble) on the rows whose labels end before the held-out
    year (per symbol, in bars); then they predict it, and the oracle gives the best possible forecast
    of the same rows. benchmarks/quality.py prints it; tests/ml/test_quality.py asserts on it.
    """
    import time
    from datetime import date

    import numpy as np
    import pandas as pd

    from turbomode import config
    from turbomode.data import sample
    from turbomode.data.universe import load_universe
    from turbomode.ml.labels import LabelParams, triple_barrier
    from turbomode.ml.train import NotTrainable, build_dataset, data_dates, ensemble_proba, split_windows, train_sector
    from turbomode.tasks.demo import pick_universe

    cfg = config.defaults().with_overrides(models__n_jobs=n_jobs, **(overrides or {}))
    seed = cfg["data.sample.seed"] if seed is None else seed
    secs = pick_universe(load_universe(None), symbols)
    start = date(end.year - years, end.month, end.day)
    t0 = time.perf_counter()
    panel = sample.generate(secs, start, end, seed=seed, strength=strength)
    params = LabelParams.from_config(cfg)
    sectors = {s.symbol: s.sector for s in secs}
    data = build_dataset(panel, sectors, cfg, labels=triple_barrier(panel, params))
    label_dates = pd.DatetimeIndex(np.unique(data_dates(data)))
    held_start = label_dates[-held_out]
    held = data[data_dates(data) >= held_start]
    fit_rows = data[data["horizon_end"] < held_start]  # no label of the fitted rows reads the held-out year
    windows = split_windows(data_dates(fit_rows), cfg)
    log(f"  {len(secs)} symbols x {years} years, strength {strength}; fitted on rows up to {windows.test[1]}, "
        f"held out {held_start.date()}..{label_dates[-1].date()} ({held_out} dates)")
    parts = []
    for sector in sorted(set(sectors.values())):
        try:
            fit = train_sector(fit_rows[fit_rows["sector"] == sector], windows, cfg, sector=sector)
        except NotTrainable as exc:
            log(f"  {sector}: not trained ({exc})")
            continue
        rows = held[held["sector"] == sector]
        proba = ensemble_proba(fit.members, rows[fit.feature_names].to_numpy(np.float32))
        parts.append(pd.DataFrame(proba, index=rows.index, columns=["pb", "ps", "ph"]).assign(
            y=rows["label_id"].to_numpy(), sector=sector))
        log(f"  {sector:24s} trained ({time.perf_counter() - t0:.0f} s)")
    v = pd.concat(parts)
    fit_seconds = time.perf_counter() - t0
    o = None
    if oracle:
        t1 = time.perf_counter()
        orc = sample.oracle(secs, start, end, seed=seed, strength=strength, label_params=params,
                            dates=sorted(set(v.index.get_level_values("date"))), paths=paths)
        o = orc.set_index(["symbol", "date"]).reindex(v.index)[["p_buy", "p_sell"]].to_numpy()
        log(f"  oracle: {len(orc):,} symbol-days x {paths} paths in {time.perf_counter() - t1:.0f} s")
    q = measure(v[["pb", "ps", "ph"]].to_numpy(), v["y"].to_numpy(), v.index.get_level_values("date"),
                v["sector"].to_numpy(), float(cfg["signals.min_confidence"]), oracle=o,
                symbols=v.index.get_level_values("symbol"))
    q.update(strength=strength, years=years, symbols=len(secs), seed=seed, seconds=round(time.perf_counter() - t0, 1),
             fit_seconds=round(fit_seconds, 1), held_out=[str(held_start.date()), str(label_dates[-1].date())])
    return q
