"""Compute backends (SPEC §11, §11a): local processes and a Dask cluster, on this machine.

    uv sync --extra dask
    uv run python benchmarks/compute.py speedup  [--years 15] [--repeat 1]
    uv run python benchmarks/compute.py universe [--symbols 5000] [--years 4]

``speedup``: the built-in universe x ``--years`` of the sample market, written straight into a home
(not timed); then `turbomode train` as its own process with --workers 1 and --workers 2 (target:
>= 1.7x on 2 cores), and against a Dask cluster of 1 and of 2 workers started here as separate
programs (`dask scheduler`, `dask worker --nthreads 1`), parallel efficiency T1 / (2 x T2) (target
>= 0.8); Dask against local at 1 worker is the Dask overhead. Runs alternate between the settings so
that a change in the machine's load hits them alike; medians are printed.

``universe``: a synthetic universe of ``--symbols`` symbols over the 11 sectors (as
benchmarks/scan.py makes it) with ``--years`` of history up to today, end to end: `ingest` (sample
source), `train`, `scan` and a 2-fold `backtest` (its first fold trains on at least 450 sessions),
once on the local backend (2 workers) and once on a 2-worker Dask cluster; ``--types`` model types.

Every command is measured as a process tree: wall time, CPU time (user + system) and peak resident
memory of the coordinating process (the `turbomode` command) and of its workers (the local pool's
processes, or the Dask worker programs), sampled every 0.2 s with psutil. The machine's load average
is printed with each figure: on a shared machine, compare within one run, as ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
END = date(2026, 1, 23)
NOW = datetime(2026, 1, 23, 22, 0, tzinfo=timezone.utc)
sys.path.insert(0, str(ROOT))


def load() -> str:
    return "load %.1f/%.1f/%.1f" % os.getloadavg() if hasattr(os, "getloadavg") else "load n/a"


# --- measuring a process tree ------------------------------------------------------------------------

@dataclass
class Measure:
    wall: float = 0.0
    cpu_coord: float = 0.0
    cpu_workers: float = 0.0
    peak_coord_mb: float = 0.0
    peak_worker_mb: float = 0.0  # the largest single worker
    peak_workers_mb: float = 0.0  # all workers together
    out: dict = field(default_factory=dict)
    load: str = ""

    def line(self) -> str:
        return (f"{self.wall:7.1f} s wall | CPU coordinator {self.cpu_coord:7.1f} s, workers {self.cpu_workers:7.1f} s | "
                f"peak RSS coordinator {self.peak_coord_mb:6.0f} MB, one worker {self.peak_worker_mb:5.0f} MB, "
                f"all workers {self.peak_workers_mb:6.0f} MB | {self.load}")


class Sampler(threading.Thread):
    """Polls the coordinator, its descendants and the given extra worker processes."""

    def __init__(self, coord: psutil.Process, extra_workers: list[int]):
        super().__init__(daemon=True)
        self.coord = coord
        self.extra = [psutil.Process(p) for p in extra_workers]
        self.start_cpu = {p.pid: _cpu(p) for p in self.extra}
        self.last_cpu: dict[int, float] = {}
        self.roles: dict[int, str] = {}
        self.m = Measure()
        self.stop_ = threading.Event()

    def run(self) -> None:
        while not self.stop_.is_set():
            self.sample()
            self.stop_.wait(0.2)

    def sample(self) -> None:
        try:
            kids = self.coord.children(recursive=True)
        except psutil.Error:
            kids = []
        workers_rss = 0.0
        # the coordinator's own children are the fork server and the resource tracker (they only wait,
        # after the fork server's one import of the libraries): their CPU counts as the coordinator's;
        # the pool's workers are the fork server's children
        procs = [(self.coord, "coord")]
        for k in kids:
            try:
                procs.append((k, "helper" if k.ppid() == self.coord.pid else "worker"))
            except psutil.Error:
                continue
        procs += [(w, "worker") for w in self.extra]
        for p, role in procs:
            try:
                rss = p.memory_info().rss / 2**20
                cpu = _cpu(p)
            except psutil.Error:
                continue
            self.roles[p.pid] = role
            self.last_cpu[p.pid] = cpu
            if role == "coord":
                self.m.peak_coord_mb = max(self.m.peak_coord_mb, rss)
            elif role == "worker":
                workers_rss += rss
                self.m.peak_worker_mb = max(self.m.peak_worker_mb, rss)
        self.m.peak_workers_mb = max(self.m.peak_workers_mb, workers_rss)

    def finish(self) -> Measure:
        self.stop_.set()
        self.join()
        for p in self.extra:  # the Dask workers outlive the command: read their CPU once more
            try:
                self.last_cpu[p.pid] = _cpu(p)
            except psutil.Error:
                pass
        for pid, cpu in self.last_cpu.items():
            used = cpu - self.start_cpu.get(pid, 0.0)
            if self.roles[pid] in ("coord", "helper"):
                self.m.cpu_coord += used
            else:
                self.m.cpu_workers += used
        return self.m


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def run(home: Path, *args: str, workers: list[int] | None = None) -> Measure:
    cmd = [str(BIN / "turbomode"), "--home", str(home), *args]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(psutil.Process(proc.pid), workers or [])
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    m = sampler.finish()
    m.wall, m.load = wall, load()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"`turbomode {' '.join(args)}` failed ({proc.returncode}):\n{err[-3000:]}")
    try:
        m.out = json.loads(out)
    except ValueError:
        m.out = {"text": out.strip().splitlines()[-1:] if out.strip() else []}
    return m


# --- a Dask cluster of separate programs -------------------------------------------------------------

class Cluster:
    def __init__(self, workers: int, root: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        self.procs = [self._start(root, "scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                                      "--no-dashboard"])]
        deadline = time.monotonic() + 60
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline:
                raise SystemExit("the Dask scheduler did not start")
            time.sleep(0.1)
        self.workers = [self._start(root, f"worker{i}", ["worker", self.address, "--nthreads", "1", "--no-nanny",
                                                         "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "0"])
                        for i in range(workers)]
        self.procs += self.workers
        from distributed import Client

        with Client(self.address, timeout=30) as c:
            c.wait_for_workers(workers, timeout=120)

    @staticmethod
    def _start(root: Path, name: str, args: list[str]) -> subprocess.Popen:
        log = open(root / f"dask-{name}.log", "wb")
        return subprocess.Popen([str(BIN / "dask"), *args], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def pids(self) -> list[int]:
        return [p.pid for p in self.workers]

    def close(self) -> None:
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


# --- homes --------------------------------------------------------------------------------------------

def sample_home(root: Path, years: int) -> Path:
    from turbomode import config
    from turbomode.data.sample import generate
    from turbomode.data.universe import load_universe
    from turbomode.store.db import connect
    from turbomode.store.prices import write_bars

    start = date(END.year - years, END.month, END.day).isoformat()
    home = root / "sample"
    home.mkdir(parents=True)
    (home / "turbomode.toml").write_text(f'[data]\nsource = "sample"\nstart = "{start}"\n'
                                         f'[data.sample]\nstart = "{start}"\n')
    cfg = config.load(home)
    bars = generate(load_universe(None), date.fromisoformat(start), END, seed=cfg["data.sample.seed"],
                    strength=cfg["data.sample.strength"])
    conn = connect(home / "turbomode.db")
    write_bars(conn, bars, "sample", NOW)
    conn.close()
    print(f"sample market: {len(bars):,} bars, {years} years, built-in universe (written, not timed)")
    return home


def pieces_line(m: Measure) -> str:
    c = (m.out.get("summary") or {}).get("compute") or {}
    parts = [f"{k}: {v['count']} pieces, {v['seconds']:.1f} s in pieces (max {v['max_seconds']:.1f} s)"
             for k, v in (c.get("pieces") or {}).items()]
    return "; ".join(parts) or "-"


def reset_models(home: Path) -> None:
    """Each train starts from the same state: no champion, no version folder."""
    import sqlite3

    shutil.rmtree(home / "models", ignore_errors=True)
    conn = sqlite3.connect(home / "turbomode.db")
    conn.execute("DELETE FROM model_metadata")
    conn.execute("DELETE FROM training_runs")
    conn.commit()
    conn.close()


# --- the two benchmarks -------------------------------------------------------------------------------

def speedup(args: argparse.Namespace, root: Path) -> None:
    home = sample_home(root, args.years)
    train = ["train", "--no-deps", "--json"]
    times: dict[str, list[Measure]] = {k: [] for k in ("local 1", "local 2", "dask 1", "dask 2")}
    for i in range(args.repeat):
        for n in (() if args.no_local else (1, 2)):
            reset_models(home)
            m = run(home, *train, "--workers", str(n))
            times[f"local {n}"].append(m)
            print(f"[{i + 1}] local, {n} worker(s): {m.line()}\n      {pieces_line(m)}", flush=True)
        if not args.no_dask:
            for n in (1, 2):
                cluster = Cluster(n, root)
                try:
                    reset_models(home)
                    m = run(home, *train, "--dask", cluster.address, workers=cluster.pids())
                finally:
                    cluster.close()
                times[f"dask {n}"].append(m)
                print(f"[{i + 1}] dask, {n} worker(s): {m.line()}\n      {pieces_line(m)}", flush=True)
    med = {k: statistics.median(x.wall for x in v) for k, v in times.items() if v}
    print(f"\nmedians over {args.repeat} run(s), {args.years} years of the sample market ({load()} now):")
    for k, v in med.items():
        print(f"  train {k} worker(s): {v:.1f} s")
    if "local 1" in med:
        print(f"  local speed-up 1 -> 2 workers: {med['local 1'] / med['local 2']:.2f}x  (target >= 1.7x)")
    if "dask 1" in med:
        eff = med["dask 1"] / (2 * med["dask 2"])
        print(f"  Dask parallel efficiency 1 -> 2 workers: {eff:.2f}  (target >= 0.8)")
        if "local 1" in med:
            print(f"  Dask overhead at 1 worker: {med['dask 1'] / med['local 1']:.2f}x the local time "
                  f"({med['dask 1'] - med['local 1']:+.1f} s)")


def universe(args: argparse.Namespace, root: Path) -> None:
    from turbomode import config as config_mod
    from turbomode.data.universe import SECTORS

    today = date.today()
    start = date(today.year - args.years, today.month, 1)
    # The first fold must train on enough dates for its own train/calibration/validation/test windows
    # (ml.train.split_windows: about 450 labelled sessions, some 650 calendar days, after the year the
    # features need): the test folds start there, or 70% of the way through, whichever is later.
    usable = start.toordinal() + 370
    first_fold = max(usable + 660, usable + int(0.7 * (today.toordinal() - usable)))
    if first_fold >= today.toordinal() - 60:
        raise SystemExit(f"--years {args.years} is too short a history for a 2-fold backtest; use 4 or more")
    bt_start = date.fromordinal(first_fold).isoformat()
    start = start.isoformat()
    uni = root / "universe.csv"
    uni.write_text("symbol,name,sector\n" + "".join(f"S{i:04d},Synthetic {i},{SECTORS[i % len(SECTORS)]}\n"
                                                     for i in range(args.symbols)))
    for backend in ("local", "dask"):
        home = root / backend
        home.mkdir()
        over = {"data__source": "sample", "data__start": start, "data__sample__start": start,
                "general__universe": str(uni), "models__types": args.types.split(",")}
        (home / "turbomode.toml").write_text(config_mod.render(config_mod.defaults().with_overrides(**over)))
        cluster = Cluster(2, root) if backend == "dask" else None
        where = ["--dask", cluster.address] if cluster else ["--workers", "2"]
        pids = cluster.pids() if cluster else None
        try:
            steps = [("ingest", ["ingest"]), ("train", ["train", "--no-deps", "--json", *where]),
                     ("scan", ["scan", "--no-deps", "--allow-stale"]),
                     ("backtest (2 folds)", ["backtest", "--no-deps", "--json", "--folds", "2", "--start", bt_start,
                                             *where])]
            total = 0.0
            for name, cmd in steps:
                m = run(home, *cmd, workers=pids if name in ("train", "backtest (2 folds)") else None)
                total += m.wall
                print(f"{args.symbols} symbols, {backend:5s} {name:18s} {m.line()}", flush=True)
                if name in ("train", "backtest (2 folds)"):
                    print(f"      {pieces_line(m)}", flush=True)
            print(f"{backend}: end to end {total:.1f} s\n", flush=True)
        finally:
            if cluster:
                cluster.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("speedup")
    a.add_argument("--years", type=int, default=15)
    a.add_argument("--repeat", type=int, default=1)
    a.add_argument("--no-dask", action="store_true")
    a.add_argument("--no-local", action="store_true", help="only the Dask runs")
    b = sub.add_parser("universe")
    b.add_argument("--symbols", type=int, default=5000)
    b.add_argument("--years", type=int, default=4, help="history before this month (default 4)")
    b.add_argument("--types", default="lightgbm,logistic",
                   help="model types (default: two, to keep the run under an hour on 2 cores; each type's cost "
                        "is in the pieces line, and the speedup benchmark measures all six)")
    args = ap.parse_args()
    print(f"{psutil.cpu_count()} CPUs, {load()}, Python {sys.version.split()[0]}")
    root = Path(tempfile.mkdtemp(prefix="tm-bench-compute-"))
    try:
        (speedup if args.what == "speedup" else universe)(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
