"""The run ledger (``task_runs``) and the ``locks`` table: one row per job run, one row per held lock.

A run is claimed in one transaction: its ``task_runs`` row is inserted, then the lock row with
INSERT … ON CONFLICT DO NOTHING; when no lock row was inserted another run holds the job and the
new row becomes ``skipped`` before the commit. Finishing a run and releasing its lock is also one
transaction, and so is marking a dead run ``abandoned``. Nothing else decides who runs.

A restore claims the database with a run-less ``restore`` lock (claim_restore: checked and taken in
one write transaction); while that lock's process is alive every other claim is refused, and a
claim that finds it stale (its process gone, by the caller's ``lock_alive``) deletes it.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from datetime import datetime
from typing import Any, Callable, NamedTuple

from turbomode.clock import iso
from turbomode.redact import redact, redact_obj
from turbomode.store.db import transaction

SUCCESS = ("succeeded", "partial")  # a partial run (some symbols failed) still counts as done
RESTORE_LOCK = "restore"
# Judges a lock row: True while the process holding it may still be running (ops.locks has the rule).
LockAlive = Callable[[sqlite3.Row], bool]


def _json(summary: dict[str, Any] | None) -> str | None:
    import json  # here, not at the top: `status` and `catchup` with nothing due never write one

    return json.dumps(redact_obj(summary), default=str) if summary is not None else None


class Claim(NamedTuple):
    run_id: int
    claimed: bool
    holder: sqlite3.Row | None = None  # the lock row of the run that holds the job, when not claimed


def start_run(conn: sqlite3.Connection, task: str, trigger: str, now: datetime,
              scheduled_for: datetime | None = None, missed_count: int | None = None,
              parent_run_id: int | None = None) -> int:
    """Insert a 'running' row without taking a lock (use claim_run for jobs)."""
    with transaction(conn):
        return _insert_running(conn, task, trigger, now, scheduled_for, missed_count, parent_run_id)


def _insert_running(conn, task, trigger, now, scheduled_for, missed_count, parent_run_id,
                    proc_started=None) -> int:
    cur = conn.execute(
        "INSERT INTO task_runs (task, trigger, scheduled_for, started_at, heartbeat_at, status, pid, host,"
        " missed_count, parent_run_id, proc_started) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
        (task, trigger, iso(scheduled_for) if scheduled_for else None, iso(now), iso(now),
         os.getpid(), socket.gethostname(), missed_count, parent_run_id, proc_started),
    )
    return int(cur.lastrowid)


def claim_run(conn: sqlite3.Connection, task: str, trigger: str, now: datetime,
              scheduled_for: datetime | None = None, missed_count: int | None = None,
              parent_run_id: int | None = None,
              skipped_message: Callable[[sqlite3.Row | None], str] | None = None,
              proc_started: float | None = None, lock_alive: LockAlive | None = None) -> Claim:
    """Record a run and take the job's lock, atomically. When the lock is held, or a restore is
    replacing the database, the row is 'skipped' and ``holder`` is that lock's row.

    ``proc_started``: this process's start time (psutil), which with the pid identifies it.
    ``lock_alive``: judges a restore lock; without it any restore lock counts as alive.
    """
    with transaction(conn):
        run_id = _insert_running(conn, task, trigger, now, scheduled_for, missed_count, parent_run_id,
                                 proc_started)
        holder = _restore_in_progress(conn, lock_alive)
        if holder is None:
            cur = conn.execute(
                "INSERT INTO locks (name, run_id, pid, host, acquired_at, heartbeat_at, proc_started)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING",
                (task, run_id, os.getpid(), socket.gethostname(), iso(now), iso(now), proc_started),
            )
            if cur.rowcount == 1:
                return Claim(run_id, True)
            holder = _holder(conn, task)
        message = skipped_message(holder) if skipped_message else f"{task} is already running; skipped"
        conn.execute(
            "UPDATE task_runs SET status = 'skipped', finished_at = ?, error = ?, exit_code = 0,"
            " summary = ? WHERE id = ?",
            (iso(now), message, _json({"held_by_run": holder["run_id"] if holder else None}), run_id),
        )
        return Claim(run_id, False, holder)


def _holder(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    return conn.execute("SELECT l.*, r.started_at AS run_started_at FROM locks l"
                        " LEFT JOIN task_runs r ON r.id = l.run_id WHERE l.name = ?", (name,)).fetchone()


def _restore_in_progress(conn: sqlite3.Connection, lock_alive: LockAlive | None) -> sqlite3.Row | None:
    """The restore lock's row while its process is alive; a stale one is deleted (inside the caller's
    transaction), so a restore that crashed never blocks a job."""
    row = _holder(conn, RESTORE_LOCK)
    if row is None or lock_alive is None or lock_alive(row):
        return row
    conn.execute("DELETE FROM locks WHERE name = ? AND pid IS ? AND acquired_at = ?",
                 (RESTORE_LOCK, row["pid"], row["acquired_at"]))
    return None


def finish_run(conn: sqlite3.Connection, run_id: int, status: str, now: datetime,
               summary: dict[str, Any] | None = None, error: str | None = None,
               exit_code: int | None = None) -> bool:
    """Record the end of a run and release any lock it holds. False when the run was no longer
    'running' (already marked abandoned by another process); its row is then left as it is."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE task_runs SET status = ?, finished_at = ?, summary = ?, error = ?, exit_code = ?"
            " WHERE id = ? AND status = 'running'",
            (status, iso(now), _json(summary), redact(error), exit_code, run_id),
        )
        conn.execute("DELETE FROM locks WHERE run_id = ?", (run_id,))
        return cur.rowcount == 1


def record_instant(conn: sqlite3.Connection, task: str, trigger: str, status: str, now: datetime,
                   scheduled_for: datetime | None = None, summary: dict[str, Any] | None = None,
                   error: str | None = None, exit_code: int | None = None,
                   missed_count: int | None = None, parent_run_id: int | None = None) -> int:
    """A run that started and ended at once (skipped, blocked)."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO task_runs (task, trigger, scheduled_for, started_at, finished_at, status, pid, host,"
            " summary, error, exit_code, missed_count, parent_run_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (task, trigger, iso(scheduled_for) if scheduled_for else None, iso(now), iso(now), status,
             os.getpid(), socket.gethostname(), _json(summary) if summary else None,
             redact(error), exit_code, missed_count, parent_run_id),
        )
        return int(cur.lastrowid)


def beat(conn: sqlite3.Connection, run_id: int, lock_name: str, now: datetime) -> bool:
    """Heartbeat of a running run and its lock; False when the run is no longer 'running'."""
    with transaction(conn):
        cur = conn.execute("UPDATE task_runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'",
                           (iso(now), run_id))
        conn.execute("UPDATE locks SET heartbeat_at = ? WHERE name = ? AND run_id = ?",
                     (iso(now), lock_name, run_id))
        return cur.rowcount == 1


def running_runs(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM task_runs WHERE status = 'running' ORDER BY id").fetchall()


def all_locks(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT l.*, r.status AS run_status FROM locks l LEFT JOIN task_runs r ON r.id = l.run_id"
        " ORDER BY l.name").fetchall()


def mark_abandoned(conn: sqlite3.Connection, run_id: int, now: datetime, why: str) -> bool:
    """A run whose process died: 'abandoned' and its lock released, in one transaction."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE task_runs SET status = 'abandoned', finished_at = ?, error = ?, exit_code = NULL"
            " WHERE id = ? AND status = 'running'", (iso(now), redact(why), run_id))
        conn.execute("DELETE FROM locks WHERE run_id = ?", (run_id,))
        return cur.rowcount == 1


def release_lock(conn: sqlite3.Connection, name: str, *, run_id: int | None = None,
                 pid: int | None = None, acquired_at: str | None = None) -> bool:
    """Delete lock ``name`` only if it is still the one described (so a new holder is never evicted)."""
    sql, args = "DELETE FROM locks WHERE name = ?", [name]
    if run_id is not None:
        sql += " AND run_id = ?"
        args.append(run_id)
    if pid is not None:
        sql += " AND pid = ?"
        args.append(pid)
    if acquired_at is not None:
        sql += " AND acquired_at = ?"
        args.append(acquired_at)
    with transaction(conn):
        return conn.execute(sql, args).rowcount == 1


def claim_lock(conn: sqlite3.Connection, name: str, now: datetime,
               proc_started: float | None = None, lock_alive: LockAlive | None = None) -> sqlite3.Row | None:
    """Take a lock that has no run row (catchup's). None when taken; the holder's row otherwise (the
    restore lock's while a restore is replacing the database; ``lock_alive`` as in claim_run)."""
    with transaction(conn):
        restoring = _restore_in_progress(conn, lock_alive)
        if restoring is not None:
            return restoring
        cur = conn.execute(
            "INSERT INTO locks (name, run_id, pid, host, acquired_at, heartbeat_at, proc_started)"
            " VALUES (?, NULL, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING",
            (name, os.getpid(), socket.gethostname(), iso(now), iso(now), proc_started))
        if cur.rowcount == 1:
            return None
        return conn.execute("SELECT * FROM locks WHERE name = ?", (name,)).fetchone()


class RestoreLock(NamedTuple):
    """Who holds the restore lock: written into the live database, then into the copy that replaces it."""
    pid: int
    host: str
    acquired_at: str
    proc_started: float | None


def restore_lock(now: datetime, proc_started: float | None) -> RestoreLock:
    return RestoreLock(os.getpid(), socket.gethostname(), iso(now), proc_started)


def claim_restore(conn: sqlite3.Connection, lock: RestoreLock,
                  live: Callable[[sqlite3.Connection], list[Any]]) -> list[Any]:
    """Take the restore lock unless a run is live, in one write transaction; returns what ``live`` found
    (nothing taken then), or [] with the lock taken.

    ``live(conn)`` must judge every run and every run-less lock, a restore lock included: one it does
    not return is stale and is replaced. A job's claim committed before this one is in what ``live``
    reads; one that comes after waits for the commit, then sees the lock and is refused.
    """
    with transaction(conn):
        found = live(conn)
        if not found:
            put_restore_lock(conn, lock)
        return found


def put_restore_lock(conn: sqlite3.Connection, lock: RestoreLock) -> bool:
    """Write ``lock`` (replacing any stale restore lock); False when the database has no locks table.

    The caller holds the transaction (claim_restore), or the database is restore's private copy of the
    backup: the backup may be older than the ``proc_started`` column, which is then left out.
    """
    columns = {row[1] for row in conn.execute("PRAGMA table_info(locks)")}
    if not columns:
        return False  # the old system's: no ledger, no runs to hold off
    values = {"name": RESTORE_LOCK, "run_id": None, "pid": lock.pid, "host": lock.host,
              "acquired_at": lock.acquired_at, "heartbeat_at": lock.acquired_at,
              "proc_started": lock.proc_started}
    values = {k: v for k, v in values.items() if k in columns}
    conn.execute(f"INSERT OR REPLACE INTO locks ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                 list(values.values()))
    return True


def release_restore_lock(conn: sqlite3.Connection, lock: RestoreLock) -> bool:
    return release_lock(conn, RESTORE_LOCK, pid=lock.pid, acquired_at=lock.acquired_at)


def touch_lock(conn: sqlite3.Connection, name: str, now: datetime) -> None:
    with transaction(conn):
        conn.execute("UPDATE locks SET heartbeat_at = ? WHERE name = ? AND pid = ? AND host = ?",
                     (iso(now), name, os.getpid(), socket.gethostname()))


def get_run(conn: sqlite3.Connection, run_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM task_runs WHERE id = ?", (run_id,)).fetchone()


def history(conn: sqlite3.Connection, job: str | None = None, limit: int = 20) -> list[sqlite3.Row]:
    """Runs newest first (by insertion, so a clock that moved back cannot reorder them)."""
    sql = "SELECT * FROM task_runs"
    args: list[Any] = []
    if job:
        sql += " WHERE task = ?"
        args.append(job)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return conn.execute(sql, args).fetchall()
