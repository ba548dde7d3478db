"""Model quality on the sample market (figures for the README):
`uv run python benchmarks/quality.py [--years 15] [--symbols N] [--strength 0.6] [--seed S]`.

Trains every sector exactly as `turbomode train` does (same features, labels, windows, six
calibrated models, mean ensemble) on the sample market, then measures on the held-out validation
dates (never seen by fitting or calibration):

* calibration of the ensemble: top-label ECE, BUY and SELL ECE, Brier score, log loss, pooled
  over sectors;
* the signals the product would emit (signals.min_confidence): how many, their precision
  (share that reached their target) against the base rate of their dates, per side;
* the best achievable: the generator's own planted rule (its expected next-day return, known at
  the close) choosing the same number of BUY and SELL signals among the same rows;
* a ranking view that needs no threshold: each sector's and date's top decile by
  P(side) - P(other side), for the models and for the planted rule, with the precision's standard error clustered two ways
  (symbol; blocks of 21 dates) and z against the base rate of the same sector and date; "net" also subtracts the
  opposite side's rise among the picks (volatility timing lifts both sides, direction only one).

With ``--strength 0`` (a pure random walk) the last figure must stay within two standard errors
of the base rate: no edge where none exists (tests/ml/test_train.py asserts it on a small market).
"""

from __future__ import annotations

import argparse
import time
from datetime import date

END = date(2026, 1, 9)


def _securities(symbols: int | None):
    from turbomode.data.universe import load_universe
    from turbomode.tasks.demo import pick_universe

    return pick_universe(load_universe(None), symbols)


def run(years: int, symbols: int | None, strength: float, seed: int | None, n_jobs: int,
        overrides: dict | None = None) -> dict:
    import numpy as np
    import pandas as pd

    from turbomode import config
    from turbomode.data.sample import generate, planted_component
    from turbomode.ml import metrics
    from turbomode.ml.train import NotTrainable, build_dataset, data_dates, ensemble_proba, split_windows, train_sector

    cfg = config.defaults().with_overrides(models__n_jobs=n_jobs, **(overrides or {}))
    seed = cfg["data.sample.seed"] if seed is None else seed
    secs = _securities(symbols)
    start = date(END.year - years, END.month, END.day)
    t0 = time.perf_counter()
    panel = generate(secs, start, END, seed=seed, strength=strength)
    planted = planted_component(secs, start, END, seed=seed, strength=strength).set_index(["symbol", "date"])
    sectors = {s.symbol: s.sector for s in secs}
    data = build_dataset(panel, sectors, cfg)
    windows = split_windows(data_dates(data), cfg)
    valid_mask = windows.masks(data_dates(data))["valid"]
    parts = []
    for sector in sorted(set(sectors.values())):
        rows = data[data["sector"] == sector]
        try:
            fit = train_sector(rows, windows, cfg, sector=sector)
        except NotTrainable as exc:
            print(f"  {sector}: not trained ({exc})")
            continue
        valid = rows[windows.masks(data_dates(rows))["valid"]]
        proba = ensemble_proba(fit.members, valid[fit.feature_names].to_numpy(np.float32))
        parts.append(pd.DataFrame(proba, index=valid.index, columns=["pb", "ps", "ph"]).assign(
            y=valid["label_id"].to_numpy()))
        e = fit.ensemble_metrics
        print(f"  {sector:24s} log loss {e['log_loss']:.4f}  ECE {e['ece']:.4f}  signals {e['signals']['signals']:5d}"
              f"  precision {e['signals']['precision'] if e['signals']['precision'] is not None else float('nan'):.3f}"
              f"  ({time.perf_counter() - t0:.0f} s)")
    v = pd.concat(parts)
    v["planted"] = planted["planted_next"].reindex(v.index).to_numpy()
    proba = v[["pb", "ps", "ph"]].to_numpy()
    y = v["y"].to_numpy()
    dates = v.index.get_level_values("date")
    syms = v.index.get_level_values("symbol")
    out = {"rows": len(v), "valid": (windows.valid[0].isoformat(), windows.valid[1].isoformat()),
           "seconds": time.perf_counter() - t0, "strength": strength, "years": years, "symbols": len(secs)}
    out["log_loss"] = metrics.log_loss(proba, y)
    out["brier"] = metrics.brier(proba, y)
    out["ece"] = metrics.top_label_ece(proba, y)
    cw = metrics.classwise_ece(proba, y)
    out["ece_buy"], out["ece_sell"] = cw[0], cw[1]
    out["class_mix"] = metrics.class_mix(y)
    out["mean_proba"] = proba.mean(axis=0).tolist()

    thr = cfg["signals.min_confidence"]
    sig = metrics.signals(proba, thr)
    base_by_date = {c: pd.Series(y == c).groupby(np.asarray(dates)).transform("mean").to_numpy() for c in (0, 1)}
    emitted = {}
    ok = np.isfinite(v["planted"].to_numpy())
    for c, name in ((0, "BUY"), (1, "SELL")):
        m = sig == c
        n = int(m.sum())
        d = {"signals": n, "precision": float(np.mean(y[m] == c)) if n else None,
             "base": float(base_by_date[c][m].mean()) if n else None,
             "mean_confidence": float(proba[m, c].mean()) if n else None}
        if n:  # the planted rule picks the same number of rows: the highest (BUY) or lowest (SELL) expectation
            score = v["planted"].to_numpy() * (1 if c == 0 else -1)
            order = np.argsort(-np.where(ok, score, -np.inf), kind="stable")[:n]
            d["planted_precision"] = float(np.mean(y[order] == c))
        emitted[name] = d
    out["emitted"] = emitted
    ladder = []
    for t in (0.40, 0.45, 0.50, 0.55, 0.60):
        st = metrics.signals(proba, t)
        row = {"threshold": t}
        for c, name in ((0, "BUY"), (1, "SELL")):
            m = st == c
            row[name] = (int(m.sum()), float(np.mean(y[m] == c)) if m.any() else None,
                         float(proba[m, c].mean()) if m.any() else None)
        ladder.append(row)
    out["ladder"] = ladder
    out["one_sided"] = metrics.one_sided(emitted["BUY"]["signals"], emitted["SELL"]["signals"])

    ranking = {}
    secs_of = [sectors[s] for s in syms]
    planted_score = np.where(ok, v["planted"].to_numpy(), 0.0)
    fake = np.stack([planted_score, -planted_score, np.zeros_like(planted_score)], axis=1)
    for c, name in ((0, "BUY"), (1, "SELL")):
        ranking[name] = {"model": metrics.edge_vs_base(proba, y, dates, syms, c, sectors=secs_of),
                         "planted": metrics.edge_vs_base(fake, y, dates, syms, c, sectors=secs_of)}
    out["ranking"] = ranking
    return out


def show(r: dict) -> None:
    print(f"\nstrength {r['strength']}: {r['symbols']} symbols x {r['years']} years; validation "
          f"{r['valid'][0]}..{r['valid'][1]}, {r['rows']:,} held-out rows; {r['seconds']:.0f} s")
    mix = r["class_mix"]
    print(f"  labels BUY/SELL/HOLD {mix[0]:.3f}/{mix[1]:.3f}/{mix[2]:.3f}; mean forecast "
          + "/".join(f"{p:.3f}" for p in r["mean_proba"]))
    print(f"  ensemble: log loss {r['log_loss']:.4f}  Brier {r['brier']:.4f}  ECE {r['ece']:.4f} "
          f"(BUY {r['ece_buy']:.4f}, SELL {r['ece_sell']:.4f})  target ECE <= 0.05")
    for name, d in r["emitted"].items():
        if d["signals"]:
            print(f"  emitted {name:4s}: {d['signals']:6d} signals, mean confidence {d['mean_confidence']:.3f}, "
                  f"precision {d['precision']:.3f} vs base {d['base']:.3f}; planted rule, same count: "
                  f"{d['planted_precision']:.3f}")
        else:
            print(f"  emitted {name:4s}: no signal reached the threshold")
    print("  threshold ladder (signals, precision, mean confidence):")
    for row in r["ladder"]:
        cells = []
        for name in ("BUY", "SELL"):
            n, prec, conf = row[name]
            cells.append(f"{name} {n:6d}" + (f" {prec:.3f} @ {conf:.3f}" if n else "      -        "))
        print(f"    >= {row['threshold']:.2f}: " + "   ".join(cells))
    if r["one_sided"]:
        print(f"  WARNING: more than 90% of the emitted signals are {r['one_sided']}")
    for name, d in r["ranking"].items():
        m, p = d["model"], d["planted"]
        print(f"  top decile {name:4s}: models {m['precision']:.3f} vs base {m['base']:.3f} "
              f"(se {m['se']:.3f}, z {m['z']:+.2f}; net of the opposite side {m['net']:+.3f}, z {m['z_net']:+.2f})"
              f"; planted rule {p['precision']:.3f} (z {p['z']:+.2f}, net z {p['z_net']:+.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--symbols", type=int, default=None)
    ap.add_argument("--strength", type=float, action="append", help="repeatable; default 0.6 and 0")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. models.calibration=sigmoid (value parsed as TOML)")
    args = ap.parse_args()
    import tomllib

    overrides = {k.replace(".", "__"): tomllib.loads(f"v = {v}")["v"] for k, v in (o.split("=", 1) for o in args.set)}
    for s in args.strength or [0.6, 0.0]:
        print(f"strength {s}:")
        show(run(args.years, args.symbols, s, args.seed, args.n_jobs, overrides))


if __name__ == "__main__":
    main()
