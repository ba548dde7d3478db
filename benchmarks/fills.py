"""What filling at the next open costs, against the same-close entry the product used to assume
(README figure): `uv run python benchmarks/fills.py [--years 5] [--symbols N] [--strength 0.6]`.

The nightly scan runs after the close, so the earliest real fill is the next session's open. On the
sample market, the same signals are traded both ways with the same levels rule (log-symmetric, from
the entry) and the same exits (ml/labels.trade_outcomes): entered at the signal session's close (the
old assumption) and filled at the next open (now). Signals: each side's top decile per date by the
generator's own planted drift (what a good model would pick), and every row (the base rate).
Printed: hit rate (target first) and mean gross and net return per trade, both ways.
"""

from __future__ import annotations

import argparse
from datetime import date

END = date(2026, 1, 9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--symbols", type=int, default=None)
    ap.add_argument("--strength", type=float, default=0.6)
    args = ap.parse_args()

    import numpy as np
    import pandas as pd

    from turbomode import config
    from turbomode.data import sample
    from turbomode.data.universe import load_universe
    from turbomode.ml.labels import (TARGET, LabelParams, levels, panel_trades, realised_return,
                                     trade_outcomes)
    from turbomode.tasks.demo import pick_universe

    cfg = config.defaults()
    p = LabelParams.from_config(cfg)
    cost = 2 * (cfg["backtest.commission_bps"] + cfg["backtest.slippage_bps"]) / 1e4
    secs = pick_universe(load_universe(), args.symbols)
    start = date(END.year - args.years, END.month, END.day)
    seed = cfg["data.sample.seed"]
    panel = sample.generate(secs, start, END, seed=seed, strength=args.strength)
    drift = sample.planted_component(secs, start, END, seed=seed, strength=args.strength)
    t = panel_trades(panel, p)
    pp = t["panel"]
    drift = drift.set_index(["symbol", "date"])["planted_next"].reindex(
        pd.MultiIndex.from_arrays([pp["symbol"], pp["date"]])).to_numpy()

    # the same trades entered at the signal's close instead: bars after the signal, levels from the close
    n, h = len(pp), p.horizon_days
    codes = pd.factorize(pp["symbol"])[0]
    j = np.arange(n)[None, :] + np.arange(1, h + 1)[:, None]
    ok = j < n
    j = np.minimum(j, n - 1)
    ok &= codes[j] == codes[None, :]
    bars = {c: np.where(ok, pp[c].to_numpy()[j], np.nan) for c in ("open", "high", "low", "close")}
    close = pp["close"].to_numpy()
    usable = np.isfinite(t["sigma"]) & ok[-1] & np.isfinite(drift)
    dates = pp["date"].to_numpy()
    print(f"{len(secs)} symbols x {args.years} years, planted strength {args.strength}; round-trip cost {cost:.2%}")
    for side, sign in (("BUY", 1.0), ("SELL", -1.0)):
        tgt, stp = levels(close, t["sigma"], side, p)
        old = trade_outcomes(bars["open"], bars["high"], bars["low"], bars["close"], t["sigma"], side, p,
                             entered=(close, tgt, stp))
        old_ret = realised_return(side, close, old["exit_price"])
        new = t[side]
        new_ret = realised_return(side, new["fill"], new["exit_price"])
        score = pd.Series(sign * drift).groupby(dates).rank(pct=True).to_numpy()
        for name, rows in (("top decile by planted drift", usable & (score >= 0.9)), ("every row", usable)):
            o_hit, n_hit = (old["outcome"][rows] == TARGET).mean(), (new["outcome"][rows] == TARGET).mean()
            o_r, n_r = np.nanmean(old_ret[rows]), np.nanmean(new_ret[rows])
            print(f"  {side} {name:28s} ({rows.sum():7,d}): same-close entry hit {o_hit:.1%}, mean {o_r:+.3%} "
                  f"(net {o_r - cost:+.3%}); next-open fill hit {n_hit:.1%}, mean {n_r:+.3%} (net {n_r - cost:+.3%}); "
                  f"difference {n_hit - o_hit:+.1%} hit, {n_r - o_r:+.3%} per trade")


if __name__ == "__main__":
    main()
