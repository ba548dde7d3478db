"""maintain, restore and report on the full sample market (240 symbols x ~15 years of bars).

Prints the database size and the median wall time of: the integrity check, one online backup,
a whole `maintain` run (check, expiry, pruning, backup, rotation, vacuum decision), a `restore`
of that backup, and writing the HTML report with one open signal per symbol.

    uv run python benchmarks/maintain_report.py [REPEATS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path


def timed(fn, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    from turbomode import clock
    from turbomode.context import Context
    from turbomode.ops.runner import run_job
    from turbomode.report import write_report
    from turbomode.store import backup as backup_store
    from turbomode.store import maintenance
    from turbomode.tasks.restore import restore

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "turbomode.toml").write_text('[data]\nsource = "sample"\n')
        ctx = Context.load(home)
        t0 = time.perf_counter()
        run_job(ctx, "ingest", {}, with_deps=False)
        print(f"ingest of the sample market: {time.perf_counter() - t0:.1f} s (set-up)")
        conn = ctx.connect()
        bars = conn.execute("SELECT COUNT(*) FROM price_data").fetchone()[0]
        now = clock.now()
        rows = conn.execute("SELECT symbol, MAX(date), close FROM price_data GROUP BY symbol").fetchall()
        conn.executemany(
            "INSERT INTO active_signals (symbol, signal_type, confidence, entry_price, target_price, stop_loss,"
            " sector, created_at, expires_at, is_active, market_date, expiry_date, data_source)"
            " VALUES (?, 'BUY', 0.6, ?, ?, ?, 'Energy', ?, '2099-01-01T00:00:00Z', 1, ?, '2099-01-01', 'sample')",
            [(s, c, c * 1.05, c * 0.97, clock.iso(now), d) for s, d, c in rows])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = ctx.db_path.stat().st_size
        print(f"database: {size / 1e6:.0f} MB, {bars:,} bars, {len(rows)} open signals")

        print(f"integrity_check:        {timed(lambda: maintenance.integrity_problems(conn), repeats):6.2f} s")
        dest = Path(tmp) / "scratch"
        print(f"online backup:          {timed(lambda: backup_store.backup_database(conn, dest, clock.now()), repeats):6.2f} s")
        print(f"maintain (whole run):   {timed(lambda: run_job(ctx, 'maintain', {}, with_deps=False), repeats):6.2f} s")
        newest = backup_store.list_backups(ctx.backups_dir)[-1]
        print(f"restore of that backup: {timed(lambda: restore(ctx, clock.now(), newest), repeats):6.2f} s")
        out = home / "report.html"
        print(f"report ({len(rows)} signals):  {timed(lambda: write_report(ctx, clock.now(), out), repeats):6.2f} s"
              f"  ({out.stat().st_size / 1e3:.0f} kB)")
        ctx.close()


if __name__ == "__main__":
    main()
