"""Benchmark: `turbomode backtest` on the sample universe x 15 years, and the trade simulation's rate.

    uv run python benchmarks/backtest.py [--years 15] [--symbols N] [--folds 5] [--models a,b]
                                         [--n-jobs N] [--sim-runs 5] [--sim-only]

SPEC §11 / issue 5: a 5-fold walk-forward backtest with the default models <= 15 min on the 2-core
machine; the simulation itself >= 1M simulated signal-days per second.

1. Simulation: every (symbol, session) of the sample market traded both as a BUY and as a SELL
   under the trade rule (ml.labels.panel_trades: next-open fill, log-symmetric levels, 10-bar
   horizon), then one position per symbol, the daily equal-weight portfolio and its metrics
   (ml.backtest.simulate). A signal-day is one signal watched for one session of its horizon;
   prints the median rate of --sim-runs.
2. Walk-forward: a fresh temporary home holding the sample market (bars written with the price
   store), then the backtest job through the run wrapper as `turbomode backtest --no-deps` runs
   it, in this process; prints the time per fold, the whole (wall clock and CPU time of all
   threads), the load average around it, and the peak memory. On a machine shared with other work
   the wall clock overstates what a quiet machine takes; the CPU time does not (unless threads spin
   waiting for a core: --n-jobs 1 with OMP_NUM_THREADS=1 avoids that).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024
    except ImportError:  # Windows
        import psutil

        return psutil.Process().memory_info().peak_wset / 1024 / 1024


def sample_market(symbols: int | None, years: int):
    from turbomode import config
    from turbomode.data.sample import generate
    from turbomode.data.universe import load_universe

    cfg = config.defaults()
    secs = load_universe()
    if symbols:
        secs = secs[:symbols]
    start = date.fromisoformat(cfg["data.sample.start"])
    end = date(start.year + years, start.month, start.day)
    t0 = time.perf_counter()
    panel = generate(secs, start, end, seed=cfg["data.sample.seed"], strength=cfg["data.sample.strength"])
    print(f"sample market: {panel['symbol'].nunique()} symbols x {panel['date'].nunique()} sessions = "
          f"{len(panel):,} bars ({start} .. {end}), generated in {time.perf_counter() - t0:.1f} s")
    return secs, panel


def bench_simulation(panel, runs: int) -> None:
    import numpy as np

    from turbomode.ml import backtest as bt
    from turbomode.ml.labels import LabelParams, panel_trades
    from turbomode.tasks.backtest import price_arrays

    symbols = sorted(panel["symbol"].unique())
    sessions, p = price_arrays(panel, symbols)
    params = LabelParams()
    horizon = params.horizon_days
    times, exit_times = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        tr = panel_trades(panel, params)  # the trade rule: fills and exits of every row, both sides
        t1 = time.perf_counter()
        pp = tr["panel"]
        row_sym = np.searchsorted(np.asarray(symbols), pp["symbol"].to_numpy())
        row_t = np.searchsorted(sessions, pp["date"].to_numpy().astype("datetime64[D]"))
        parts = []
        for side, sign in (("BUY", 1), ("SELL", -1)):
            d = tr[side]
            keep = d["outcome"] != bt.PENDING
            parts.append((row_sym[keep], row_t[keep], np.full(keep.sum(), sign), row_t[d["fill_idx"][keep]],
                          d["fill"][keep], row_t[d["exit_idx"][keep]], d["exit_price"][keep], d["outcome"][keep]))
        sig = bt.Trades.of(*(np.concatenate([q[i] for q in parts]) for i in range(8)))
        res = bt.simulate(p, sig, cost_bps=6.0, start=0, end=len(sessions) - 1)
        times.append(time.perf_counter() - t0)
        exit_times.append(t1 - t0)
    signal_days = len(sig) * horizon
    med = statistics.median(times)
    print(f"simulation: {len(sig):,} signals x {horizon} sessions = {signal_days:,} signal-days; "
          f"{res.metrics['trades']:,} trades taken (one position per symbol)")
    print(f"  whole simulation median {med:.2f} s over {runs} runs -> {signal_days / med / 1e6:.1f}M signal-days/s "
          f"(exits alone {statistics.median(exit_times):.2f} s; runs: {', '.join(f'{x:.2f}' for x in times)})")


def load() -> str:
    import os

    try:
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "load average n/a"


def bench_walk_forward(secs, panel, folds: int, models: list[str] | None, n_jobs: int | None) -> None:
    from turbomode import clock
    from turbomode.context import Context
    from turbomode.ops.runner import run_job
    from turbomode.store import prices
    from turbomode.store.db import connect

    tmp = Path(tempfile.mkdtemp(prefix="turbomode-bench-backtest-"))
    home = tmp / "home"
    try:
        home.mkdir()
        (home / "universe.csv").write_text("symbol,name,sector\n" + "".join(
            f"{s.symbol},{s.name.replace(',', ' ')},{s.sector}\n" for s in secs), encoding="utf-8")
        (home / "turbomode.toml").write_text(
            f'[general]\nuniverse = "{(home / "universe.csv").as_posix()}"\n[data]\nsource = "sample"\n'
            + (f"[models]\nn_jobs = {n_jobs}\n" if n_jobs else ""), encoding="utf-8")
        now = datetime.now(timezone.utc)
        conn = connect(home / "turbomode.db")
        prices.write_bars(conn, panel, "sample", now)
        prices.set_meta(conn, "data_source", "sample", now)
        conn.close()
        ctx = Context.load(home)
        print(f"  before: {load()}")
        t0, c0 = time.perf_counter(), time.process_time()
        marks: dict[str, float] = {}

        def progress(done: int, total: int, what: str) -> None:
            fold = what.split(" · ")[0]
            if fold not in marks:
                marks[fold] = time.perf_counter()
                print(f"  {time.perf_counter() - t0:7.1f} s wall {time.process_time() - c0:7.1f} s CPU  {fold}", flush=True)

        options = {"folds": folds, "progress": progress, **({"models": models} if models else {})}
        out = run_job(ctx, "backtest", options, with_deps=False, now_fn=clock.now)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        if out.result is None:
            sys.exit(f"backtest {out.status}: {out.error}")
        s = out.result.summary
        m = s["metrics"]
        print(f"walk-forward backtest: {total:.1f} s ({total / 60:.1f} min) wall, {cpu:.1f} s ({cpu / 60:.1f} min) "
              f"CPU; {s['folds']} folds, models {', '.join(s['models'])}; peak RSS {peak_rss_mb():.0f} MB; "
              f"after: {load()}")
        print(f"  test window {s['window']['start']} .. {s['window']['end']}; {s['labelled_trades']:,} labelled trades")
        for w in s["fold_windows"]:
            print(f"  fold {w['fold']}: train {w['train_start']} .. {w['train_end']}, "
                  f"test {w['test_start']} .. {w['test_end']}")
        for r in s["results"]:
            if r["slice_kind"] in ("overall", "benchmark", "model"):
                def f(v, pct=True):
                    return "-" if v is None else (f"{v * 100:.1f}%" if pct else f"{v:.2f}")
                print(f"  {r['slice_kind']:9} {r['slice']:13} trades {r['trades'] or '-':>6}  hit {f(r['hit_rate']):>6}"
                      f"  mean {f(r['mean_return']):>6}  Sharpe {f(r['sharpe'], False):>6}"
                      f"  maxDD {f(r['max_drawdown']):>7}  total {f(r['total_return']):>8}")
        print(f"  ensemble hit rate {m['hit_rate']:.3f} vs base {m['base_rate']:.3f} (z {m['hit_rate_z']:.2f}); "
              f"mean net return t {m['mean_return_t']:.2f}")
        if out.result.warnings:
            print("  warnings: " + "; ".join(out.result.warnings))
    finally:
        Context.close(ctx) if "ctx" in locals() else None
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--symbols", type=int, default=None, help="first N symbols of the universe (default all)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--models", default=None, help="comma-separated model types (default: the config's six)")
    ap.add_argument("--n-jobs", type=int, default=None, help="models.n_jobs (default: the config's)")
    ap.add_argument("--sim-runs", type=int, default=5)
    ap.add_argument("--sim-only", action="store_true", help="measure only the simulation")
    args = ap.parse_args()
    secs, panel = sample_market(args.symbols, args.years)
    bench_simulation(panel, args.sim_runs)
    if not args.sim_only:
        bench_walk_forward(secs, panel, args.folds, args.models.split(",") if args.models else None,
                           args.n_jobs)


if __name__ == "__main__":
    main()
