"""Benchmark: `turbomode demo` end to end as a user runs it (SPEC §11: <= 3 min on the 2-core machine).

    uv run python benchmarks/demo.py [--runs 1] [--years N] [--symbols N]

Each run is a subprocess of .venv/bin/turbomode in a fresh temporary home (deleted afterwards);
the time of each step (ingest, train, scan) is read from the demo's own progress lines. Prints the
median of the whole-process times and every run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = ROOT / ".venv" / ("Scripts/turbomode.exe" if os.name == "nt" else "bin/turbomode")
STEP = re.compile(r"\[\d/\d\] (\w+) (\w+) in ([0-9.]+) s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1, help="demo runs (default 1: each takes minutes)")
    ap.add_argument("--years", type=int, default=None, help="passed to demo --years (default: demo's own)")
    ap.add_argument("--symbols", type=int, default=None, help="passed to demo --symbols")
    args = ap.parse_args()
    if not EXE.exists():
        sys.exit(f"{EXE} not found; run `uv sync` first")
    extra = (["--years", str(args.years)] if args.years else []) + \
            (["--symbols", str(args.symbols)] if args.symbols else [])
    totals = []
    for i in range(args.runs):
        home = Path(tempfile.mkdtemp(prefix="turbomode-bench-demo-")) / "home"
        try:
            t0 = time.perf_counter()
            p = subprocess.run([str(EXE), "demo", "--home", str(home), *extra], capture_output=True, text=True)
            dt = time.perf_counter() - t0
        finally:
            shutil.rmtree(home.parent, ignore_errors=True)
        if p.returncode != 0:
            sys.exit(f"demo failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        steps = ", ".join(f"{m[0]} {float(m[2]):.1f} s" for m in STEP.findall(p.stderr))
        print(f"run {i + 1}: {dt:.1f} s whole process ({steps})")
        totals.append(dt)
    med = statistics.median(totals)
    print(f"demo {' '.join(extra) or '(defaults)'}: median {med:.1f} s over {len(totals)} run(s) - "
          f"target <= 180 s: {'ok' if med <= 180 else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
