"""Train benchmark (SPEC §11): `uv run python benchmarks/train.py [--years 15] [--symbols N] [--repeat 1]`.

The whole built-in universe x 15 years of the sample market is written straight into a fresh
home's database (not timed: that is the ingest benchmark), then `turbomode train --no-deps` runs
as its own process — all 66 models, labels written to `trades`, version folder, registry rows —
and we measure its wall time and peak resident memory (the child's ru_maxrss where the platform
has it, else psutil polling). Also prints the phase split the task reports and the models' sizes.

Target: <= 10 min and <= 4 GB peak on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

END = date(2026, 1, 23)
NOW = datetime(2026, 1, 23, 22, 0, tzinfo=timezone.utc)


def make_home(root: Path, years: int, symbols: int | None) -> tuple[Path, int]:
    from turbomode.data.sample import generate
    from turbomode.data.universe import load_universe
    from turbomode.store.db import connect
    from turbomode.store.prices import write_bars

    start = date(END.year - years, END.month, END.day).isoformat()
    securities = load_universe(None)
    home = root / "home"
    home.mkdir(parents=True)
    lines = [f'[data]\nsource = "sample"\nstart = "{start}"\n[data.sample]\nstart = "{start}"\n']
    if symbols:
        from turbomode.tasks.demo import pick_universe

        securities = pick_universe(securities, symbols)
        uni = home / "universe.csv"
        uni.write_text("symbol,name,sector\n" + "".join(f"{s.symbol},{s.symbol},{s.sector}\n" for s in securities))
        lines.insert(0, f'[general]\nuniverse = "{uni.as_posix()}"\n')
    (home / "turbomode.toml").write_text("".join(lines))
    from turbomode import config

    cfg = config.load(home)
    bars = generate(securities, date.fromisoformat(start), END, seed=cfg["data.sample.seed"],
                    strength=cfg["data.sample.strength"])
    conn = connect(home / "turbomode.db")
    write_bars(conn, bars, "sample", NOW)
    conn.close()
    return home, len(bars)


def run_train(home: Path) -> tuple[float, float, dict]:
    """(seconds, peak RSS in MB, the run's JSON) of one `turbomode train` process."""
    cmd = [sys.executable, "-m", "turbomode", "--home", str(home), "train", "--no-deps", "--json"]
    t = time.perf_counter()
    try:
        import resource
    except ImportError:  # Windows
        resource = None
    if resource is not None:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        elapsed = time.perf_counter() - t
        # the largest resident size of any waited-for child so far: only train processes are run
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        peak_mb = peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 2**20
    else:  # Windows: poll the child's memory
        import psutil

        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                peak = max(peak, ps.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.2)
        out, err = proc.communicate()
        elapsed = time.perf_counter() - t
        peak_mb = peak / 2**20
    if proc.returncode not in (0, 3):
        raise SystemExit(f"train failed ({proc.returncode}): {err.decode()[-2000:]}")
    return elapsed, peak_mb, json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--symbols", type=int, default=None, help="a smaller universe (spread over the sectors)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the home folder and print it")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="tm-bench-train-"))
    try:
        t = time.perf_counter()
        home, n_bars = make_home(root, args.years, args.symbols)
        print(f"sample market: {n_bars:,} bars ({args.years} years) written in {time.perf_counter() - t:.1f} s "
              "(not part of the figure)")
        times, peaks = [], []
        for i in range(args.repeat):
            elapsed, peak, out = run_train(home)
            times.append(elapsed)
            peaks.append(peak)
            s = out["summary"]
            print(f"run {i + 1}: {elapsed:.1f} s wall, peak RSS {peak:,.0f} MB, status {out['status']}, "
                  f"{s['models']} models, {s['trades_written']:,} labelled trades, task {s['seconds']} s")
        w = s["windows"]
        print(f"windows: train {w['train_start']}..{w['train_end']}, calib {w['calib_start']}..{w['calib_end']}, "
              f"valid {w['valid_start']}..{w['valid_end']} (embargo {w['embargo_days']} days)")
        size = sum(p.stat().st_size for p in (home / "models").rglob("*") if p.is_file())
        print(f"version folder: {size / 2**20:.1f} MB")
        lls = [d["log_loss"] for d in s["sectors"].values()]
        eces = [d["ece"] for d in s["sectors"].values()]
        print(f"validation: mean ensemble log loss {statistics.mean(lls):.4f}, mean ECE {statistics.mean(eces):.4f}")
        print(f"train wall time (median of {len(times)}): {statistics.median(times):.1f} s  (target <= 600 s)")
        print(f"peak RSS (max): {max(peaks):,.0f} MB  (target <= 4096 MB)")
        if args.keep:
            print(f"home kept: {home}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
