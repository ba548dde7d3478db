"""Whole-process start-up of the fast commands (SPEC §11: status and catchup with nothing due ≤ 0.5 s).

Builds a throw-away home in which every job has just succeeded (so nothing is due), compiles the
bytecode, then times `turbomode status`, `turbomode catchup` and `turbomode --help` as real
processes and prints the median (and min/max) of several runs of each.

    uv run python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_home(home: Path) -> None:
    from turbomode import clock
    from turbomode.data import calendar
    from turbomode.jobs import JOBS
    from turbomode.store import ledger
    from turbomode.store.db import connect, transaction
    from turbomode.store.sessions import write_sessions

    now = clock.now()
    conn = connect(home / "turbomode.db")
    today = now.date()
    from datetime import timedelta

    with transaction(conn):
        write_sessions(conn, calendar.sessions(today - timedelta(days=40), today + timedelta(days=366)))
    session = calendar.last_completed_session(now).isoformat()
    with transaction(conn):
        conn.execute("INSERT INTO price_data (symbol, date, close, source) VALUES ('AAA', ?, 1.0, 'bench')",
                     (session,))
        conn.execute("INSERT INTO model_metadata (version, sector, model_type, status, created_at)"
                     " VALUES ('bench', 'all', 'ensemble', 'champion', ?)", (clock.iso(now),))
        conn.execute("INSERT INTO active_signals (symbol, signal_type, confidence, created_at, is_active,"
                     " market_date) VALUES ('AAA', 'BUY', 0.6, ?, 1, ?)", (clock.iso(now), session))
    for job in JOBS:
        claim = ledger.claim_run(conn, job, "manual", now)
        ledger.finish_run(conn, claim.run_id, "succeeded", now, summary={"bench": True}, exit_code=0)
    conn.close()


def time_command(exe: list[str], args: list[str], env: dict, runs: int) -> list[float]:
    out = []
    for _ in range(runs + 1):  # the first run warms the OS file cache and is dropped
        t0 = time.perf_counter()
        proc = subprocess.run(exe + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        out.append(time.perf_counter() - t0)
        if proc.returncode not in (0,):
            raise SystemExit(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return out[1:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    opts = ap.parse_args()
    compileall.compile_dir(ROOT / "turbomode", quiet=1)
    scripts = Path(sys.executable).parent
    exe = [str(scripts / ("turbomode.exe" if os.name == "nt" else "turbomode"))]
    if not Path(exe[0]).exists():
        exe = [sys.executable, "-m", "turbomode"]
    with tempfile.TemporaryDirectory(prefix="turbomode-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "turbomode.toml").write_text('[general]\ntimezone = "America/New_York"\n', encoding="utf-8")
        build_home(home)
        env = {**os.environ, "TURBOMODE_HOME": str(home)}
        print(f"whole-process wall time, {opts.runs} runs each (after one warm-up), nothing due:")
        for args in (["status"], ["status", "--json"], ["catchup"], ["--help"]):
            t = time_command(exe, args, env, opts.runs)
            print(f"  turbomode {' '.join(args):<14} median {statistics.median(t) * 1000:6.0f} ms"
                  f"   min {min(t) * 1000:5.0f}   max {max(t) * 1000:5.0f}")
        t = time_command([sys.executable], ["-c", "pass"], env, opts.runs)
        print(f"  (bare interpreter       median {statistics.median(t) * 1000:6.0f} ms)")


if __name__ == "__main__":
    main()
