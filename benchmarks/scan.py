"""Benchmark: `turbomode scan` as a whole process (SPEC §11: 230 symbols <= 5 s and <= 1.5x the time of
merely importing its libraries; 5,000 symbols <= 30 s).

    uv run python benchmarks/scan.py [--years 3] [--runs 5] [--big 5000] [--keep]

1. A home on the sample market (the built-in universe, ``--years`` of history): `ingest`, `train`
   (not timed as part of the scan; their times are printed too).
2. `scan` of the latest session, timed as a subprocess of .venv/bin/turbomode, ``--runs`` times;
   before each run the database is put back to its state after training, so every run is a first
   scan of the session (a re-run of the same session is timed separately). Each scan is paired with
   the floor, a process that merely imports pandas, scikit-learn, xgboost and lightgbm, run
   alternately before and after it; the ratios (wall and CPU) are medians of the pairs.
3. A 5,000-symbol universe: the benchmark writes a universe CSV of synthetic symbols over the 11
   sectors, ingests their sample bars into a copy of that home (same models, same market start) and
   times `scan` the same way.

Every scan runs with --no-deps (only the scan is measured) and --allow-stale is not used: the sample
market reaches the last completed session. Prints the medians and every run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = ROOT / ".venv" / ("Scripts/turbomode.exe" if os.name == "nt" else "bin/turbomode")
sys.path.insert(0, str(ROOT))


def _child_cpu() -> float:
    try:
        import resource
    except ImportError:  # Windows: CPU time is not reported
        return float("nan")
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


CPU: list[float] = []  # CPU seconds (user + system) of the last tm() call


FLOOR = [sys.executable, "-c", "import pandas, sklearn, xgboost, lightgbm"]


def floor() -> tuple[float, float]:
    """(wall, CPU) of a process that merely imports the scan's libraries."""
    c0, t0 = _child_cpu(), time.perf_counter()
    subprocess.run(FLOOR, check=True)
    return time.perf_counter() - t0, _child_cpu() - c0


def tm(home: Path, *args: str) -> tuple[float, str]:
    c0, t0 = _child_cpu(), time.perf_counter()
    p = subprocess.run([str(EXE), "--home", str(home), *args], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    CPU[:] = [_child_cpu() - c0]
    if p.returncode not in (0, 3):
        sys.exit(f"`turbomode {' '.join(args)}` failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return dt, (p.stdout.strip().splitlines() or [""])[-1]


def write_config(home: Path, start: str, universe: Path | None = None) -> None:
    from turbomode import config as config_mod

    over = {"data__source": "sample", "data__start": start, "data__sample__start": start}
    if universe is not None:
        over["general__universe"] = str(universe)
    home.mkdir(parents=True, exist_ok=True)
    (home / "turbomode.toml").write_text(config_mod.render(config_mod.defaults().with_overrides(**over)))


def db_files(home: Path) -> list[Path]:
    return [home / n for n in ("turbomode.db", "turbomode.db-wal", "turbomode.db-shm")]


def snapshot(home: Path, to: Path) -> None:
    to.mkdir(parents=True, exist_ok=True)
    for f in db_files(home):
        if f.exists():
            shutil.copy2(f, to / f.name)


def restore(home: Path, snap: Path) -> None:
    for f in db_files(home):
        f.unlink(missing_ok=True)
        if (snap / f.name).exists():
            shutil.copy2(snap / f.name, f)


def time_scans(home: Path, runs: int, label: str, target: float, with_floor: bool = True) -> None:
    snap = home / ".bench-snapshot"
    snapshot(home, snap)
    first, cpu, phases, last_line = [], [], [], ""
    floors, wall_ratio, cpu_ratio = [], [], []
    if with_floor:
        floor()  # warm the OS file cache for the libraries
    for i in range(runs):
        restore(home, snap)
        if with_floor and i % 2:
            f = floor()
        dt, last_line = tm(home, "scan", "--no-deps")
        if with_floor and not i % 2:
            f = floor()
        if not with_floor:
            f = (float("nan"), float("nan"))
        first.append(dt)
        cpu.append(CPU[0])
        floors.append(f)
        wall_ratio.append(dt / f[0])
        cpu_ratio.append(CPU[0] / f[1])
        phases.append(last_phases(home))
    again = [tm(home, "scan", "--no-deps")[0] for _ in range(max(1, runs // 2))]
    med = statistics.median(first)
    verdict = "ok" if med <= target else "OVER TARGET"
    load = f", load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs" if hasattr(os, "getloadavg") else ""
    print(f"{label}: first scan of the session, median {med:.2f} s wall over {runs} runs "
          f"({', '.join(f'{x:.2f}' for x in first)}), median CPU {statistics.median(cpu):.2f} s{load} "
          f"- target <= {target:.0f} s: {verdict}")
    if with_floor:
        print(f"  floor (import pandas, sklearn, xgboost, lightgbm): median {statistics.median(f[0] for f in floors):.2f} s "
              f"wall, {statistics.median(f[1] for f in floors):.2f} s CPU; scan / floor (median of pairs): "
              f"wall {statistics.median(wall_ratio):.2f}, CPU {statistics.median(cpu_ratio):.2f} - target <= 1.5")
    steps = {k: statistics.median(p.get(k, 0.0) for p in phases) for k in phases[-1]}
    print("  inside the task (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
    print(f"{label}: re-run of the same session, median {statistics.median(again):.2f} s wall")
    print(f"  last output: {last_line}")


def last_phases(home: Path) -> dict[str, float]:
    """The step timings the scan recorded in its ledger row."""
    import json
    import sqlite3

    conn = sqlite3.connect(home / "turbomode.db")
    try:
        row = conn.execute("SELECT summary FROM task_runs WHERE task = 'scan' ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return json.loads(row[0]).get("seconds", {}) if row and row[0] else {}


def synthetic_universe(path: Path, n: int) -> None:
    from turbomode.data.universe import SECTORS

    lines = ["symbol,name,sector"] + [f"S{i:04d},Synthetic {i},{SECTORS[i % len(SECTORS)]}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=3, help="years of sample history (default 3)")
    ap.add_argument("--runs", type=int, default=5, help="timed scans per universe (default 5)")
    ap.add_argument("--big", type=int, default=5000, help="symbols in the synthetic universe (0 = skip)")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark homes")
    args = ap.parse_args()
    if not EXE.exists():
        sys.exit(f"{EXE} not found; run `uv sync` first")
    # Time what a user's install runs: bytecode compiled (with PYTHONDONTWRITEBYTECODE set, as on
    # the reference machine, nothing else would write TurboMode's own; the libraries' is compiled at
    # install by [tool.uv] compile-bytecode).
    import compileall

    compileall.compile_dir(ROOT / "turbomode", quiet=1)

    work = Path(tempfile.mkdtemp(prefix="turbomode-bench-scan-"))
    try:
        today = date.today()
        start = today.replace(year=today.year - args.years).isoformat()
        home = work / "sample"
        write_config(home, start)
        dt, line = tm(home, "ingest")
        print(f"setup: ingest of the sample universe x {args.years} years: {dt:.1f} s ({line})")
        dt, line = tm(home, "train")
        print(f"setup: train: {dt:.1f} s ({line})")
        trained = work / "trained"
        snapshot(home, trained)
        time_scans(home, args.runs, "sample universe", 5.0)

        if args.big:
            big = work / "big"
            big.mkdir()
            shutil.copytree(home / "models", big / "models")
            restore(big, trained)
            universe = big / "universe.csv"
            synthetic_universe(universe, args.big)
            write_config(big, start, universe)
            dt, line = tm(big, "ingest")
            print(f"setup: ingest of {args.big} synthetic symbols x {args.years} years: {dt:.1f} s ({line})")
            time_scans(big, max(1, min(args.runs, 3)), f"{args.big} symbols", 30.0, with_floor=False)
    finally:
        if args.keep:
            print(f"homes kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
