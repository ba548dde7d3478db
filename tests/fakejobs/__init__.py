"""Test doubles for the job task modules: tiny tasks that succeed, fail, crash or sleep on demand.

Behaviour comes from environment variables so that it also reaches real subprocesses:
``FAKE_<JOB>`` = ``ok`` (default) | ``fail`` | ``fail:<message>`` | ``fail-late`` (after 2 s) | ``refuse`` |
``usage`` (an option the task finds wrong, exit 2) |
``crash`` | ``crash:<message>`` | ``sleep:<seconds>``;
``FAKE_LOG`` = a file each task appends "<job> <pid>" to when it starts. The fake ingest stores a
price bar for the last completed session (so prices become fresh), the fake train a champion model.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from turbomode.jobs import JOBS

FAKE_JOBS = {name: replace(job, task=f"tests.fakejobs.{name}") for name, job in JOBS.items()}


def install(monkeypatch) -> None:
    """Point every job of the registry at its fake task module (in this process)."""
    for name, job in FAKE_JOBS.items():
        monkeypatch.setitem(JOBS, name, job)


def install_for_subprocess() -> None:
    JOBS.update(FAKE_JOBS)


def make(job: str):
    def run(ctx, now, options):
        from turbomode.errors import StaleData
        from turbomode.tasks import TaskResult

        log = os.environ.get("FAKE_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"{job} {os.getpid()}\n")
        mode = os.environ.get(f"FAKE_{job.upper()}", "ok")
        if mode.startswith("sleep:"):
            time.sleep(float(mode.split(":", 1)[1]))
        elif mode == "fail-late":
            time.sleep(2)
            return TaskResult("failed", {"fake": True}, f"fake {job} failed")
        elif mode == "fail":
            return TaskResult("failed", {"fake": True}, f"fake {job} failed")
        elif mode.startswith("fail:"):
            return TaskResult("failed", {"fake": True, "detail": mode[5:]}, mode[5:])
        elif mode.startswith("crash:"):
            raise RuntimeError(mode[6:])
        elif mode == "refuse":
            raise StaleData(f"fake {job} refused stale input; run `turbomode ingest`")
        elif mode == "usage":
            from turbomode.errors import ConfigError

            raise ConfigError(f"fake {job}: --start is after the last labelled session; choose an earlier date")
        elif mode == "crash":
            raise RuntimeError(f"fake {job} crashed")
        _side_effect(ctx, job, now)
        return TaskResult("succeeded", {"fake": True, "job": job}, f"fake {job} done")

    return run


def _side_effect(ctx, job: str, now) -> None:
    from turbomode.clock import iso
    from turbomode.store import prices, state
    from turbomode.store.db import transaction

    conn = ctx.connect()
    if job == "ingest":
        session = state.last_completed_session(conn, now)
        if session:
            with transaction(conn):
                conn.execute("INSERT OR REPLACE INTO price_data (symbol, date, close, source) VALUES ('AAA', ?, 1.0, 'fake')",
                             (session,))
    elif job == "train":
        with transaction(conn):
            conn.execute("UPDATE model_metadata SET status = 'retired' WHERE status = 'champion'")
            conn.execute("INSERT INTO model_metadata (version, sector, model_type, status, created_at)"
                         " VALUES (?, 'all', 'ensemble', 'champion', ?)", (f"v{iso(now)}", iso(now)))
    elif job == "scan":
        with transaction(conn):
            conn.execute("INSERT INTO active_signals (symbol, signal_type, confidence, created_at, is_active, market_date)"
                         " VALUES ('AAA', 'BUY', 0.6, ?, 1, ?)", (iso(now), prices.latest_bar_date(conn)))


def fill_sessions(conn, start: str = "2025-12-01", end: str = "2035-12-31") -> None:
    """Weekday NYSE-like sessions (16:00 New York close) so freshness needs no exchange calendar."""
    from datetime import date, datetime, time as dtime, timedelta
    from zoneinfo import ZoneInfo

    from turbomode.clock import iso
    from turbomode.store.db import transaction

    ny = ZoneInfo("America/New_York")
    d, last, rows = date.fromisoformat(start), date.fromisoformat(end), []
    while d <= last:
        if d.weekday() < 5:
            rows.append((d.isoformat(), iso(datetime.combine(d, dtime(9, 30), ny)),
                         iso(datetime.combine(d, dtime(16, 0), ny))))
        d += timedelta(days=1)
    with transaction(conn):
        conn.executemany("INSERT OR REPLACE INTO market_sessions VALUES (?, ?, ?)", rows)
