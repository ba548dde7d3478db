"""Ingest benchmarks (SPEC §11): run with `uv run python benchmarks/ingest.py [--repeat N]`.

1. Full ingest of the sample market: the whole built-in universe x 15 years, end to end through
   the ingest task and the run wrapper (ledger, validation, one transaction), in a fresh home.
2. Bar write rate: ``store.prices.write_bars`` (from the DataFrame, 100 rows to a statement)
   against the usual raw way, an ``executemany`` of one plain INSERT per row over the same rows
   already built as tuples, into an identical (empty) table in one transaction, in the same run;
   prints the ratio. And
   write_bars into a table that also carries the unique index databases made before m007 had on
   the primary-key columns (the cost of that duplicate, same run).
3. A one-day incremental ingest of the sample universe (the next weekday's close), in-process,
   and the same as a whole `turbomode ingest` process.

Medians of --repeat runs (default 3). Targets: (1) <= 20 s, (2) >= 200k rows/s, (3) <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

YEARS = 15
END = datetime(2026, 1, 23, 22, 0, tzinfo=timezone.utc)  # Friday after the close
START = "2011-01-24"  # 15 years of weekdays before END


def _home(root: Path) -> Path:
    home = root / "home"
    home.mkdir(parents=True)
    (home / "turbomode.toml").write_text(
        f'[data]\nsource = "sample"\nstart = "{START}"\n[data.sample]\nstart = "{START}"\n')
    return home


def full_ingest(root: Path):
    from turbomode.context import Context
    from turbomode.ops.runner import run_job

    home = _home(root)
    ctx = Context.load(home)
    t = time.perf_counter()
    out = run_job(ctx, "ingest", {"source": "sample"}, with_deps=False, now_fn=lambda: END)
    dt = time.perf_counter() - t
    assert out.status == "succeeded", out.result.message if out.result else out.error
    bars = out.result.summary["bars_added"]
    ctx.close()
    return home, dt, bars


def write_rates(home: Path):
    """write_bars vs a per-row raw executemany into an identical empty table, same rows, same run."""
    from turbomode.data import sample
    from turbomode.data.universe import load_universe
    from turbomode.store import prices
    from turbomode.store.db import connect, transaction


    df = sample.generate(load_universe(), date.fromisoformat(START), END.date(), seed=1, strength=0.6)
    path = home.parent / "rates.db"
    rows = list(prices.bar_rows(df, "sample", END))  # the raw side gets its tuples for free
    results = {}
    kinds = ["raw", "write_bars", "duplicate_index"]
    shift = int(time.time()) % 3
    order = kinds[shift:] + kinds[:shift]
    for kind in order:
        if path.exists():
            path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        conn = connect(path)  # same pragmas (WAL, synchronous=NORMAL) and the same price_data table
        if kind == "duplicate_index":  # as m001 made it before it checked for the primary key
            conn.execute("CREATE UNIQUE INDEX price_data_symbol_date ON price_data(symbol, date)")
        t = time.perf_counter()
        with transaction(conn):
            if kind == "raw":  # one plain INSERT per row, tuples pre-built: the usual raw figure
                conn.executemany("INSERT INTO price_data (symbol, date, open, high, low, close, adj_close, volume,"
                                 " source, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            else:  # ours, from the DataFrame: row building + upsert included (with or without the duplicate)
                prices.write_bars(conn, df, "sample", END)
        dt = time.perf_counter() - t
        n = conn.execute("SELECT count(*) FROM price_data").fetchone()[0]
        conn.close()
        results[kind] = n / dt
    return results, len(df)


def incremental(home: Path, k: int):
    """One more weekday, in-process through the run wrapper."""
    from turbomode.context import Context
    from turbomode.ops.runner import run_job

    now = END + timedelta(days=3 + k)  # Monday, Tuesday, ... after the close (within the week)
    ctx = Context.load(home)
    t = time.perf_counter()
    out = run_job(ctx, "ingest", {}, with_deps=False, now_fn=lambda: now)
    dt = time.perf_counter() - t
    ctx.close()
    assert out.status == "succeeded", out.result.message
    return dt, out.result.summary["bars_added"]


def incremental_process(home: Path):
    """A whole `turbomode ingest` process (real clock: the sample market is extended to today)."""
    env = dict(os.environ, TURBOMODE_HOME=str(home))
    cmd = [sys.executable, "-m", "turbomode", "ingest", "--no-deps", "--json"]
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # catch up to today once
    t = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    full, rates_raw, rates_ours, incs, ratios = [], [], [], [], []
    rates_dup, dup_ratios = [], []
    bars = n_rows = 0
    home = None
    roots = []
    for i in range(args.repeat):
        root = Path(tempfile.mkdtemp(prefix="tm-bench-ingest-"))
        roots.append(root)
        home, dt, bars = full_ingest(root)
        full.append(dt)
        print(f"  full ingest run {i + 1}: {dt:.2f} s ({bars:,} bars)", flush=True)
        rates, n_rows = write_rates(home)
        rates_raw.append(rates["raw"])
        rates_ours.append(rates["write_bars"])
        ratios.append(rates["write_bars"] / rates["raw"])
        rates_dup.append(rates["duplicate_index"])
        dup_ratios.append(rates["write_bars"] / rates["duplicate_index"])
        print(f"  write run {i + 1}: write_bars {rates['write_bars']:,.0f} rows/s, raw {rates['raw']:,.0f} rows/s, "
              f"write_bars with the duplicate key index {rates['duplicate_index']:,.0f} rows/s", flush=True)
        dt, added = incremental(home, 0)
        incs.append(dt)
        print(f"  one-day incremental run {i + 1}: {dt:.2f} s ({added} bars)", flush=True)
    proc = incremental_process(home)
    print()
    print(f"full sample ingest, {bars:,} bars (universe x {YEARS} years): median {statistics.median(full):.2f} s"
          f"  (target <= 20 s)")
    ours, raw = statistics.median(rates_ours), statistics.median(rates_raw)
    print(f"bar writes ({n_rows:,} rows, one transaction): write_bars {ours:,.0f} rows/s; raw per-row executemany "
          f"{raw:,.0f} rows/s; ratio (median of paired runs) {statistics.median(ratios):.2f}  (target >= 200,000 rows/s)")
    print(f"bar writes with the duplicate (symbol, date) index databases had before m007: "
          f"{statistics.median(rates_dup):,.0f} rows/s; without it {statistics.median(dup_ratios):.2f}x faster "
          f"(median of paired runs)")
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"one-day incremental ingest (in-process, run wrapper included): median {statistics.median(incs):.2f} s"
          f"  (target <= 3 s)")
    print(f"one-day incremental ingest as a whole `turbomode ingest` process: {proc:.2f} s")
    for r in roots:
        shutil.rmtree(r, ignore_errors=True)


if __name__ == "__main__":
    main()
