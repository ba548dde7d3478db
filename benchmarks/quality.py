"""Model quality on the sample market, against its oracle (figures for the README):
`uv run python benchmarks/quality.py [--years 15] [--symbols N] [--strength 0.6 --strength 0] [--seed S]`.

The final year of the sample market is held out: nothing in it is fitted, calibrated, chosen or
tuned on. The models are trained exactly as `turbomode train` trains them (same features, labels,
windows, six calibrated models, side-symmetric calibration, mean ensemble) on the rows whose
labels end before that year (per symbol, in bars), then predict the held-out year. Measured there
(turbomode.ml.quality):

* per side, at the default threshold (signals.min_confidence): signals, precision, base rate, and
  the oracle's precision at the same number of signals — the best any model can do on this market
  (data.sample.oracle: the probability, by Monte Carlo from the generator's own state, that the
  trade reaches its target first under the product's fill and barrier rules). Precision above the
  oracle's by more than 2 standard errors (clustered by date) would mean leakage; "recovered" is
  the share of the oracle's edge over the base rate that the model found;
* BUY share of the signals overall and per sector (sectors with >= 20 signals);
* ECE and Brier of P(BUY) and P(SELL) one-vs-rest, with the reliability tables;
* BUY and SELL base rates and their difference (with its clustered standard error).

With ``--strength 0`` (a pure random walk) there is nothing to find: no edge, equal base rates,
confidence near the base rate (tests/ml/test_quality.py asserts these on a smaller market).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

END = date(2026, 1, 9)
HELD_OUT_DATES = 252


def run(years: int, symbols: int | None, strength: float, seed: int | None, *, n_jobs: int = 2,
        overrides: dict | None = None, paths: int = 300, log=print) -> dict:
    from turbomode.ml.quality import held_out_year

    return held_out_year(years=years, symbols=symbols, strength=strength, seed=seed, end=END, n_jobs=n_jobs,
                         overrides=overrides, paths=paths, held_out=HELD_OUT_DATES, log=log)


def show(q: dict) -> None:
    from turbomode.ml.quality import one_line

    print(f"\nstrength {q['strength']}: {q['symbols']} symbols x {q['years']} years (seed {q['seed']}); held out "
          f"{q['held_out'][0]}..{q['held_out'][1]}: {q['rows']:,} rows; threshold {q['threshold']:.2f}; "
          f"{q['seconds']:.0f} s")
    for name in ("BUY", "SELL"):
        d = q[name]
        line = f"  {name:4s}: {d['signals']:5d} signals, base rate {d['base']:.3f}"
        if d["signals"]:
            line += (f", precision {d['precision']:.3f} (se {d['se']:.3f}), mean confidence "
                     f"{d['mean_confidence']:.3f}")
            if "oracle_precision" in d:
                line += (f"; oracle at the same count {d['oracle_precision']:.3f} (se {d['oracle_se']:.3f}); "
                         f"edge recovered {d['recovered']:.2f}")
        print(line)
    lo_hi = q["sector_buy_share_range"]
    print(f"  BUY share of signals {q['buy_share']:.2f}"
          + (f"; per sector (>= 20 signals) {lo_hi[0]:.2f}..{lo_hi[1]:.2f}" if lo_hi else ""))
    cal = q["calibration"]
    print(f"  calibration: ECE BUY {cal['BUY']['ece']:.4f}, SELL {cal['SELL']['ece']:.4f}; "
          f"Brier BUY {cal['BUY']['brier']:.4f}, SELL {cal['SELL']['brier']:.4f}")
    if q.get("oracle_calibration"):
        o = q["oracle_calibration"]
        print(f"  the oracle's calibration on the same rows: ECE BUY {o['BUY']:.4f}, SELL {o['SELL']:.4f}, "
              f"both sides {o['pooled_ece']:.4f}")
    print(f"  base rates: BUY - SELL = {q['base_rate_difference']:+.4f} (se {q['base_rate_difference_se']:.4f}); "
          f"mean P(BUY) {q['mean_probability']['BUY']:.3f}, P(SELL) {q['mean_probability']['SELL']:.3f}")
    for name, e in q.get("ranking", {}).items():
        print(f"  top decile by P({name}) - P(other) per sector and date: precision {e['precision']:.3f} vs base "
              f"{e['base']:.3f} (z {e['z']:+.2f}; net of the opposite side z {e['z_net']:+.2f})")
    print("  " + one_line(q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--symbols", type=int, default=None)
    ap.add_argument("--strength", type=float, action="append", help="repeatable; default 0.6 and 0")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--paths", type=int, default=300, help="oracle Monte Carlo paths per symbol-day")
    ap.add_argument("--json", type=str, default=None, help="also write the figures to this file")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. models.calibration=sigmoid (value parsed as TOML)")
    args = ap.parse_args()
    import tomllib

    overrides = {k.replace(".", "__"): tomllib.loads(f"v = {v}")["v"] for k, v in (o.split("=", 1) for o in args.set)}
    results = []
    for s in args.strength or [0.6, 0.0]:
        print(f"strength {s}:")
        q = run(args.years, args.symbols, s, args.seed, n_jobs=args.n_jobs, overrides=overrides, paths=args.paths)
        show(q)
        results.append(q)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
