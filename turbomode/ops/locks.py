"""Who may run: dead-run detection (psutil, heartbeats) and the heartbeat thread of a live run.

The claims themselves are rows in the ``locks`` table (store.ledger.claim_run), so they work the same
on Windows and Linux and across processes. A run is dead when its process is gone on this host
(psutil, with the process start time checked so a reused pid does not keep a dead run alive), or —
for a run on another host, whose pid we cannot check — when its heartbeat is older than
``run.stale_heartbeat_minutes``. On this host a live process is trusted over an old heartbeat: a
laptop that slept mid-run resumes the run, and evicting it would let a second copy start beside it.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, NamedTuple

from turbomode.clock import parse_iso
from turbomode.store import ledger

log = logging.getLogger("turbomode.locks")
CATCHUP_LOCK = "catchup"
RESTORE_LOCK = ledger.RESTORE_LOCK  # held by `restore` from its last check until its clean-up
# Start times are compared with this tolerance (psutil derives them from boot time and ticks).
START_TOLERANCE_S = 1.0
# Rows without a recorded start time (written by older code): a process that started this much
# after the run is a different process with a reused pid.
PID_REUSE_SLACK_S = 5.0


def this_host() -> str:
    return socket.gethostname()


def os_pid() -> int:
    return os.getpid()


def my_start_time() -> float | None:
    """This process's start time as psutil reports it; with the pid it identifies the process.

    On Linux it is read from /proc, on Windows from GetProcessTimes, the way psutil computes it:
    importing psutil costs 12-40 ms, a fifth or more of catchup's start-up budget (SPEC §11), and every
    claim asks for it.
    """
    if sys.platform.startswith("linux"):
        try:
            return _proc_start_time(os.getpid())
        except (OSError, ValueError, IndexError):
            pass  # an unusual /proc: ask psutil
    elif sys.platform == "win32":
        try:
            return _windows_start_time()
        except OSError:
            pass  # ask psutil
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # psutil cannot read it here: fall back to the pid alone
        return None


def _proc_start_time(pid: int) -> float:
    """psutil's Linux create_time: the start in clock ticks after boot (the stat file of the pid in procfs)
    plus the boot time."""
    if sys.platform.startswith("linux"):
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = float(fields[19])  # field 22 (starttime); the split starts at field 3 (state)
        with open("/proc/stat", "rb") as fh:
            btime = next(float(line.split()[1]) for line in fh if line.startswith(b"btime"))
        return ticks / os.sysconf("SC_CLK_TCK") + btime
    raise OSError("no /proc on this platform")


def _windows_start_time() -> float:
    """psutil's Windows create_time for this process: GetProcessTimes' creation FILETIME (100 ns ticks
    since 1601-01-01 UTC) as Unix seconds."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    kernel32.GetProcessTimes.argtypes = [wintypes.HANDLE, *[ctypes.POINTER(wintypes.FILETIME)] * 4]
    kernel32.GetProcessTimes.restype = wintypes.BOOL
    times = [wintypes.FILETIME() for _ in range(4)]
    if not kernel32.GetProcessTimes(kernel32.GetCurrentProcess(), *(ctypes.byref(t) for t in times)):
        raise ctypes.WinError(ctypes.get_last_error())
    created = times[0]
    ticks = (created.dwHighDateTime << 32) | created.dwLowDateTime
    return (ticks - 116444736000000000) / 10_000_000


def process_alive(pid: int | None, proc_started: float | None, started_at: str | None = None) -> bool:
    """True when the process that started the run (pid + start time) is still alive on this host."""
    if not pid:
        return False
    import psutil

    try:
        proc = psutil.Process(int(pid))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = proc.create_time()
    except psutil.AccessDenied:
        # It exists but belongs to another account: a reused pid cannot be our run, unless we
        # cannot tell (no recorded start time), in which case it is not ours to call dead.
        return proc_started is None
    except (psutil.NoSuchProcess, ProcessLookupError, ValueError):
        return False
    if proc_started is not None:
        return abs(created - proc_started) <= START_TOLERANCE_S
    if started_at:
        try:
            return created <= parse_iso(started_at).timestamp() + PID_REUSE_SLACK_S
        except ValueError:
            pass
    return True


class Abandoned(NamedTuple):
    run_id: int
    job: str
    pid: int | None
    host: str | None
    why: str


def death_reason(row: sqlite3.Row, now: datetime, stale_after: timedelta, host: str) -> str | None:
    """Why the run in ``row`` (task_runs or locks) is dead, or None when it may still be running."""
    hb_text = row["heartbeat_at"] or row["started_at" if "started_at" in row.keys() else "acquired_at"]
    started = row["started_at"] if "started_at" in row.keys() else row["acquired_at"]
    if row["host"] == host:
        proc_started = row["proc_started"] if "proc_started" in row.keys() else None
        if process_alive(row["pid"], proc_started, started):
            return None
        return f"its process {row['pid']} on {host} is gone (killed, crashed or the machine restarted)"
    try:
        age = now - parse_iso(hb_text)
    except (TypeError, ValueError):
        return f"it has no readable heartbeat ({hb_text!r})"
    if age > stale_after:
        minutes = int(age.total_seconds() // 60)
        return f"its heartbeat from {row['host']} is {minutes} minutes old"
    return None


def sweep(conn: sqlite3.Connection, now: datetime, stale_minutes: int) -> list[Abandoned]:
    """Mark dead 'running' runs abandoned and drop locks nobody holds. Returns what was abandoned."""
    host = this_host()
    stale_after = timedelta(minutes=stale_minutes)
    found: list[Abandoned] = []
    for row in ledger.running_runs(conn):
        why = death_reason(row, now, stale_after, host)
        # the status column says "abandoned"; the error says why (status prints "<status>: <error>")
        if why and ledger.mark_abandoned(conn, row["id"], now, why):
            log.warning("run %s (%s) abandoned: %s", row["id"], row["task"], why)
            found.append(Abandoned(row["id"], row["task"], row["pid"], row["host"], why))
    for lock in ledger.all_locks(conn):
        if lock["run_id"] is not None:
            if lock["run_status"] != "running":  # its run ended without releasing (cannot happen; heal)
                ledger.release_lock(conn, lock["name"], run_id=lock["run_id"])
            continue
        if death_reason(lock, now, stale_after, host):  # a run-less lock (catchup) of a dead process
            ledger.release_lock(conn, lock["name"], pid=lock["pid"], acquired_at=lock["acquired_at"])
    return found


def lock_alive(now: datetime, stale_minutes: int) -> ledger.LockAlive:
    """The sweep's rule as a predicate on a lock row, for a claim to judge the restore lock it meets."""
    host, stale_after = this_host(), timedelta(minutes=stale_minutes)
    return lambda row: death_reason(row, now, stale_after, host) is None


class LiveRun(NamedTuple):
    job: str
    run_id: int | None  # None: a lock without a run (catchup's)
    pid: int | None
    host: str | None
    since: str | None


def live_runs(conn: sqlite3.Connection, now: datetime, stale_minutes: int) -> list[LiveRun]:
    """Runs (and catchup's run-less lock) whose process is still alive, by the rule sweep uses."""
    host = this_host()
    stale_after = timedelta(minutes=stale_minutes)
    found = [LiveRun(r["task"], r["id"], r["pid"], r["host"], r["started_at"])
             for r in ledger.running_runs(conn) if death_reason(r, now, stale_after, host) is None]
    found += [LiveRun(lk["name"], None, lk["pid"], lk["host"], lk["acquired_at"]) for lk in ledger.all_locks(conn)
              if lk["run_id"] is None and death_reason(lk, now, stale_after, host) is None]
    return found


def claim_restore(conn: sqlite3.Connection, lock: ledger.RestoreLock, now: datetime,
                  stale_minutes: int) -> list[LiveRun]:
    """Restore's claim of the database: the live runs (nothing taken), or [] with the restore lock taken,
    checked and taken in one write transaction so no job's claim can come in between."""
    return ledger.claim_restore(conn, lock, lambda c: live_runs(c, now, stale_minutes))


# How long one heartbeat write waits for the lock, and after how long without one it is a warning
# (well under run.stale_heartbeat_minutes, the default 15, after which another host may call it dead).
BEAT_WAIT_S = 5.0
QUIET_WARNING_S = 5 * 60.0


class Heartbeat:
    """A daemon thread that beats ``run_id``'s heartbeat every ``seconds`` on its own connection.

    Its own connection, because the job's connection may be inside a transaction at any moment.
    A beat that fails (database busy for longer than the timeout) is logged and retried next time.
    """

    def __init__(self, db_path: Path, run_id: int, lock_name: str, seconds: float,
                 now_fn: Callable[[], datetime]):
        self.db_path, self.run_id, self.lock_name = db_path, run_id, lock_name
        self.seconds, self.now_fn = seconds, now_fn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)
        self.lost = False  # the run was marked abandoned by someone else

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        import time

        from turbomode.store.db import connect

        conn = None
        last_ok = time.monotonic()
        try:
            while not self._stop.wait(self.seconds):
                try:
                    if conn is None:
                        conn = connect(self.db_path, migrate=False)
                        # A beat that waits is pointless: the next one comes in `seconds` anyway.
                        conn.execute(f"PRAGMA busy_timeout = {int(min(self.seconds, BEAT_WAIT_S) * 1000)}")
                    if not ledger.beat(conn, self.run_id, self.lock_name, self.now_fn()):
                        self.lost = True
                        log.error("run %s is no longer marked running; heartbeat stopped", self.run_id)
                        return
                    last_ok = time.monotonic()
                except sqlite3.Error as exc:
                    # The job's own long write (train's labelled trades) holds the lock for a while:
                    # that is normal. Only a heartbeat that has not landed for long is worth a warning.
                    quiet = time.monotonic() - last_ok
                    level = logging.WARNING if quiet > QUIET_WARNING_S else logging.DEBUG
                    log.log(level, "heartbeat of run %s not recorded for %.0f s (%s); retrying", self.run_id,
                            quiet, exc)
        finally:
            if conn is not None:
                conn.close()


def held_message(job: str, holder: sqlite3.Row | None) -> str:
    if holder is not None and holder["name"] == RESTORE_LOCK:
        return (f"{job} skipped: the database is being restored from a backup (pid {holder['pid']} since "
                f"{holder['acquired_at']}); run {job} again once the restore has finished")
    if holder is None:
        return f"{job} is already running; skipped"
    return (f"{job} is already running (run {holder['run_id']}, pid {holder['pid']} since "
            f"{holder['acquired_at']}); skipped")
