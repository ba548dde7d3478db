"""The run ledger (``task_runs``): one row per job run, written at start and at finish."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from datetime import datetime
from typing import Any

from turbomode.clock import iso
from turbomode.store.db import transaction


def start_run(conn: sqlite3.Connection, task: str, trigger: str, now: datetime,
              scheduled_for: datetime | None = None, missed_count: int | None = None,
              parent_run_id: int | None = None) -> int:
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO task_runs (task, trigger, scheduled_for, started_at, heartbeat_at, status, pid, host,"
            " missed_count, parent_run_id) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            (task, trigger, iso(scheduled_for) if scheduled_for else None, iso(now), iso(now),
             os.getpid(), socket.gethostname(), missed_count, parent_run_id),
        )
        return int(cur.lastrowid)


def finish_run(conn: sqlite3.Connection, run_id: int, status: str, now: datetime,
               summary: dict[str, Any] | None = None, error: str | None = None,
               exit_code: int | None = None) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE task_runs SET status = ?, finished_at = ?, summary = ?, error = ?, exit_code = ?"
            " WHERE id = ?",
            (status, iso(now), json.dumps(summary, default=str) if summary is not None else None,
             error, exit_code, run_id),
        )


def record_instant(conn: sqlite3.Connection, task: str, trigger: str, status: str, now: datetime,
                   scheduled_for: datetime | None = None, summary: dict[str, Any] | None = None,
                   error: str | None = None, exit_code: int | None = None) -> int:
    """A run that started and ended at once (skipped, blocked)."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO task_runs (task, trigger, scheduled_for, started_at, finished_at, status, pid, host,"
            " summary, error, exit_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (task, trigger, iso(scheduled_for) if scheduled_for else None, iso(now), iso(now), status,
             os.getpid(), socket.gethostname(), json.dumps(summary, default=str) if summary else None,
             error, exit_code),
        )
        return int(cur.lastrowid)
