"""Features on the whole sample market, before and after (SPEC §11; issue 11, item 8).

    uv run python benchmarks/features.py [--repeat 5]

On the sample market's 939,600 bars (the built-in universe x 15 years, as `ingest` stores them) it
times, side by side in one run and alternating which goes first:

1. RSI(14) and MACD(12, 26, 9) of log closes and the 14-day ATR (log and price units): the
   previous hand-written pandas code (grouped ewm and rolling; tests/ml/reference_features.py)
   against TA-Lib as turbomode.ml.features calls it, and how far apart they are after the warm-up
   (WARMUP_BARS bars per symbol);
2. the whole feature table (compute_features), previous code against current.

CPU seconds (time.process_time), medians of --repeat runs, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START, END = date(2011, 1, 24), date(2026, 1, 23)  # as benchmarks/ingest.py: 15 years of weekdays


def sample_panel():
    from turbomode.data import sample
    from turbomode.data.universe import load_universe
    from turbomode.ml.features import prepare_panel

    universe = load_universe()
    panel = sample.generate(universe, START, END, seed=1, strength=0.6)
    return prepare_panel(panel), {s.symbol: s.sector for s in universe}


def talib_indicators(p):
    """TA-Lib, per symbol, exactly as compute_features, log_atr and atr call it."""
    import numpy as np

    from turbomode.ml import features as F

    layout = F._Layout(p["symbol"].to_numpy())
    rsi, macd, signal = F._momentum(layout, np.log(p["close"].to_numpy(dtype="float64")))
    hlc = F._hlc(p)
    return {"rsi": rsi, "macd": macd, "signal": signal, "log_atr": F._log_atr(layout, *hlc, F.FEATURE_ATR_DAYS),
            "atr": F._mean_true_range(layout, *hlc, F.FEATURE_ATR_DAYS)}


def timed(fn, *args):
    t = time.process_time()
    out = fn(*args)
    return time.process_time() - t, out


def paired(a, b, args, repeat: int) -> tuple[list[float], list[float], object, object]:
    ta, tb, ra, rb = [], [], None, None
    for i in range(repeat):
        order = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        for fn, times in order:
            dt, res = timed(fn, *args)
            times.append(dt)
            if fn is a:
                ra = res
            else:
                rb = res
    return ta, tb, ra, rb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import numpy as np

    from tests.ml import reference_features as R
    from turbomode.ml import features as F

    p, sectors = sample_panel()
    print(f"sample market: {len(p):,} bars, {p['symbol'].nunique()} symbols")
    med = statistics.median

    ta, tb, ref, new = paired(R.indicators, talib_indicators, (p,), args.repeat)
    print(f"RSI + MACD + ATR (log and price): hand-written pandas {med(ta) * 1000:.0f} ms, TA-Lib {med(tb) * 1000:.0f} ms "
          f"(CPU, median of {args.repeat}); {med(ta) / med(tb):.0f}x")
    pos = F._Layout(p["symbol"].to_numpy()).pos
    after = pos >= F.WARMUP_BARS

    def worst(key, relative=False):
        d = np.abs(ref[key] - new[key])[after]
        return np.nanmax(d / ref[key][after] if relative else d)

    print(f"  after the warm-up ({after.sum():,} bars): max |RSI difference| {worst('rsi'):.1e} (RSI points); "
          f"max |MACD difference| {worst('macd'):.1e}, signal line {worst('signal'):.1e} (log price); "
          f"max relative ATR difference {worst('atr', True):.1e}, log ATR {worst('log_atr', True):.1e}")

    ta, tb, old_f, new_f = paired(R.compute_features, F.compute_features, (p, sectors), max(1, args.repeat // 2))
    print(f"compute_features, all {len(F.FEATURE_NAMES)} features: previous code {med(ta):.2f} s, current "
          f"{med(tb):.2f} s (CPU, median of {len(ta)}); {med(ta) / med(tb):.1f}x")
    cols = list(F.FEATURE_NAMES)
    same_nan = bool((old_f[cols].isna().to_numpy() == new_f[cols].isna().to_numpy()).all())
    diff = np.nanmax(np.abs(old_f[cols].to_numpy(np.float64) - new_f[cols].to_numpy(np.float64)), axis=0)
    worst = sorted(zip(diff, cols), reverse=True)[:3]
    print(f"  same missing values: {same_nan}; largest differences (float32 features): "
          + ", ".join(f"{c} {d:.1e}" for d, c in worst))
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
