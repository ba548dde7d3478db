"""Whole-process start-up of the fast commands against the floor a Typer CLI cannot go below (SPEC §11).

Targets: `status` and `catchup` with nothing due <= 0.5 s whole process, and <= 1.2x the CPU time of a
one-command Typer app (benchmarks/floor_app.py) on the same machine.

Builds a throw-away home with the default configuration in which every job has just succeeded (so
nothing is due), makes sure the bytecode is compiled (the project and the environment's packages:
with PYTHONDONTWRITEBYTECODE set nothing else would write it), then runs each command and the floor
app in pairs, A B / B A alternately, so that a change in the machine's speed hits both sides of a
pair. CPU time is user + system of the finished child (resource.getrusage; on Windows, where that
is not available, wall time is used). Prints per command the medians and the median of the per-pair
CPU ratios, and the load average.

    uv run python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = ROOT / "benchmarks" / "floor_app.py"
COMMANDS = (["status"], ["catchup"], ["status", "--json"], ["--help"])
TARGETS = {"status": 1.2, "catchup": 1.2}  # CPU ratio to the floor; both also <= 0.5 s whole process


def build_home(home: Path) -> None:
    """The default configuration; every job succeeded just now; fresh prices, signals and a champion."""
    from turbomode import clock
    from turbomode import config as config_mod
    from turbomode.data import calendar
    from turbomode.jobs import JOBS
    from turbomode.store import ledger
    from turbomode.store.db import connect, transaction
    from turbomode.store.sessions import write_sessions

    home.mkdir(parents=True, exist_ok=True)
    (home / config_mod.CONFIG_NAME).write_text(config_mod.render(config_mod.defaults()), encoding="utf-8")
    now = clock.now()
    today = now.date()
    conn = connect(home / config_mod.DB_NAME)
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


def compile_bytecode() -> None:
    compileall.compile_dir(ROOT / "turbomode", quiet=1)
    compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=1, workers=0)


def _child_cpu() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall, cpu) seconds of one whole process; cpu is the wall time where CPU time is not reported."""
    c0, t0 = _child_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    c1 = _child_cpu()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
    return wall, (c1 - c0 if c0 is not None and c1 is not None else wall)


def paired(a: list[str], b: list[str], env: dict, runs: int) -> dict[str, float]:
    run_once(a, env), run_once(b, env)  # warm the OS file cache; not counted
    aw, ac, bw, bc, ratio = [], [], [], [], []
    for i in range(runs):
        if i % 2:
            (w2, c2), (w1, c1) = run_once(b, env), run_once(a, env)
        else:
            (w1, c1), (w2, c2) = run_once(a, env), run_once(b, env)
        aw.append(w1), ac.append(c1), bw.append(w2), bc.append(c2), ratio.append(c1 / c2)
    med = statistics.median
    return {"wall": med(aw), "cpu": med(ac), "floor_wall": med(bw), "floor_cpu": med(bc), "ratio": med(ratio),
            "ratio_lo": min(ratio), "ratio_hi": max(ratio)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="pairs per command (default 21)")
    opts = ap.parse_args()
    compile_bytecode()
    scripts = Path(sysconfig.get_paths()["scripts"])
    exe = [str(scripts / ("turbomode.exe" if os.name == "nt" else "turbomode"))]
    if not Path(exe[0]).exists():
        exe = [sys.executable, "-m", "turbomode"]
    floor = [sys.executable, str(FLOOR), "--name", "bench"]
    what = "CPU" if _child_cpu() is not None else "wall (no CPU times on this OS)"
    with tempfile.TemporaryDirectory(prefix="turbomode-bench-") as tmp:
        home = Path(tmp) / "home"
        build_home(home)
        env = {**os.environ, "TURBOMODE_HOME": str(home)}
        load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"whole processes, {opts.runs} pairs each (command, floor app alternately), nothing due; medians:")
        for args in COMMANDS:
            r = paired(exe + args, floor, env, opts.runs)
            target = TARGETS.get(" ".join(args))
            verdict = "" if target is None else (
                "  ok" if r["ratio"] <= target and r["wall"] <= 0.5 else f"  OVER TARGET (<= {target}x, <= 0.5 s)")
            print(f"  turbomode {' '.join(args):<14} wall {r['wall'] * 1000:4.0f} ms, cpu {r['cpu'] * 1000:4.0f} ms;"
                  f" floor app cpu {r['floor_cpu'] * 1000:4.0f} ms; {what} ratio {r['ratio']:.2f}"
                  f" (pairs {r['ratio_lo']:.2f}-{r['ratio_hi']:.2f}){verdict}")
        t = [run_once([sys.executable, "-c", "pass"], env) for _ in range(opts.runs)]
        print(f"  (bare interpreter: wall {statistics.median(x[0] for x in t) * 1000:.0f} ms,"
              f" cpu {statistics.median(x[1] for x in t) * 1000:.0f} ms)")
        if hasattr(os, "getloadavg"):
            print(f"load average {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
