"""`restore` while a job is running is refused (exit 4): the job would go on writing into the restored
database — a train promoting its champion into it, its ledger row confused with another run's."""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NOW
from turbomode.store import backup as backup_store
from turbomode.store.db import connect

REPO = Path(__file__).resolve().parents[2]


def spawn(job: str, env: dict) -> subprocess.Popen:
    full = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "tests.fakejobs.run_job", job], cwd=REPO, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def dump(db):
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM [{t}] ORDER BY 1").fetchall() for t in
                ("active_signals", "model_metadata", "task_runs", "locks")}
    finally:
        conn.close()


def make_backup(home):
    conn = connect(home / "turbomode.db")
    path = backup_store.backup_database(conn, home / "backups", NOW)
    conn.close()
    return path


def test_restore_is_refused_while_a_train_runs_in_another_process_and_allowed_once_it_is_gone(
        sched_home, fake_jobs, cli):
    db = sched_home / "turbomode.db"
    backup = make_backup(sched_home)
    proc = spawn("train", {"FAKE_TRAIN": "sleep:120"})
    try:
        wait_for(lambda: "train" in fake_jobs())
        before = dump(db)

        result = cli("restore", str(backup), "--yes")

        assert result.exit_code == 4, result.output
        assert "unexpected" not in result.output and "Traceback" not in result.output
        [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
        assert f"cannot restore while train (run 1, pid {proc.pid}, since " in line
        assert "nothing was changed" in line and "wait for it to finish" in line
        assert dump(db) == before
        assert not list(sched_home.glob("*.before-restore"))

        as_json = cli("restore", str(backup), "--yes", "--json")
        assert as_json.exit_code == 4
        assert json.loads(as_json.stdout)["hint"].startswith("wait for it to finish")
    finally:
        proc.kill()  # ours: SIGKILL on POSIX, TerminateProcess on Windows
        proc.wait(timeout=30)

    # its process is gone: the run is dead, not running, and no longer stands in the way
    result = cli("restore", str(backup), "--yes")
    assert result.exit_code == 0, result.output
    assert dump(db)["task_runs"] == []  # the backup's ledger, taken before the train started


def test_restore_is_refused_while_a_catchup_holds_its_lock(sched_home, cli):
    from turbomode.ops import locks
    from turbomode.store import ledger

    backup = make_backup(sched_home)
    conn = connect(sched_home / "turbomode.db")
    # this test's own process stands in for a live catchup between two jobs
    assert ledger.claim_lock(conn, locks.CATCHUP_LOCK, NOW, proc_started=locks.my_start_time()) is None
    conn.close()

    result = cli("restore", str(backup), "--yes")

    assert result.exit_code == 4, result.output
    assert f"cannot restore while catchup (pid {os.getpid()}, since " in result.stderr


def test_a_job_that_starts_while_the_backup_is_checked_still_stops_the_restore(sched_home, cli, monkeypatch):
    from turbomode.ops import locks
    from turbomode.store import ledger

    db = sched_home / "turbomode.db"
    backup = make_backup(sched_home)
    real_check = backup_store.check_backup_file

    def check_then_a_job_starts(*args, **kwargs):
        checked = real_check(*args, **kwargs)
        conn = connect(db)
        ledger.claim_run(conn, "scan", "cron", NOW, proc_started=locks.my_start_time())
        conn.close()
        return checked

    monkeypatch.setattr(backup_store, "check_backup_file", check_then_a_job_starts)
    result = cli("restore", str(backup), "--yes")
    assert result.exit_code == 4, result.output
    assert "cannot restore while scan (run 1, pid" in result.stderr
    assert [r[2] for r in dump(db)["task_runs"]] == ["cron"]  # the job's row is still there: nothing replaced
    assert not list(sched_home.glob("*.before-restore")) and not list(sched_home.glob(".*.tmp"))


# --- the restore lock: no job starts between restore's last check and its clean-up --------------------

def start_job_and_wait_for_its_claim(job: str, db: Path) -> subprocess.Popen:
    """Start ``job`` in another process; return once it has exited (refused) or is running."""
    proc = spawn(job, {f"FAKE_{job.upper()}": "sleep:120"})

    def claimed_or_gone():
        if proc.poll() is not None:
            return True
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT count(*) FROM task_runs WHERE task = ? AND status = 'running'",
                                (job,)).fetchone()[0] > 0
        finally:
            conn.close()

    wait_for(claimed_or_gone)
    return proc


def assert_refused_for_the_restore(proc: subprocess.Popen, job: str) -> None:
    assert proc.poll() is not None, f"{job} claimed its run and is running beside the restore"
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err  # a skip, as when another run holds the job
    assert f"{job} skipped: the database is being restored from a backup (pid {os.getpid()} since " in out
    assert f"run {job} again once the restore has finished" in out


def test_a_job_that_claims_its_run_between_restores_last_check_and_the_swap_is_refused(
        sched_home, fake_jobs, cli, monkeypatch):
    # The bug: the last check came before the swap with nothing held in between; a job that claimed its
    # run in that moment lost its ledger row and lock to the swap and went on writing into the backup.
    db = sched_home / "turbomode.db"
    backup = make_backup(sched_home)
    real_restore = backup_store.restore_database
    jobs = []

    def restore_with_a_job_starting_at_the_swap(db_path, backup, now, before_swap):
        def check_then_a_job_claims(*args):
            before_swap(*args)
            jobs.append(start_job_and_wait_for_its_claim("ingest", db))
        return real_restore(db_path, backup, now, before_swap=check_then_a_job_claims)

    monkeypatch.setattr(backup_store, "restore_database", restore_with_a_job_starting_at_the_swap)
    try:
        result = cli("restore", str(backup), "--yes")
        assert result.exit_code == 0, result.output
        assert_refused_for_the_restore(jobs[0], "ingest")
    finally:
        for proc in jobs:
            proc.kill()
            proc.wait(timeout=30)
    assert dump(db)["task_runs"] == [] and dump(db)["locks"] == []  # the backup's ledger; no lock left


def test_a_job_that_starts_between_the_swap_and_restores_clean_up_is_refused_not_wiped(
        sched_home, fake_jobs, cli, monkeypatch):
    # After the swap, restore marks the backup's runs abandoned and drops their locks: a job that had
    # claimed its run in the restored database by then would lose it the same way.
    db = sched_home / "turbomode.db"
    backup = make_backup(sched_home)
    real_swap = backup_store._copy_into_place
    jobs = []

    def swap_then_a_job_starts(src, db_path):
        swapped = real_swap(src, db_path)
        jobs.append(start_job_and_wait_for_its_claim("ingest", db))
        return swapped

    monkeypatch.setattr(backup_store, "_copy_into_place", swap_then_a_job_starts)
    try:
        result = cli("restore", str(backup), "--yes")
        assert result.exit_code == 0, result.output
        assert_refused_for_the_restore(jobs[0], "ingest")
    finally:
        for proc in jobs:
            proc.kill()
            proc.wait(timeout=30)
    conn = sqlite3.connect(db)
    try:  # its record stays, and no lock
        assert conn.execute("SELECT task, status FROM task_runs").fetchall() == [("ingest", "skipped")]
        assert conn.execute("SELECT * FROM locks").fetchall() == []
    finally:
        conn.close()


def test_a_restore_lock_left_by_a_dead_process_does_not_block_a_job(sched_home, fake_jobs, cli):
    conn = connect(sched_home / "turbomode.db")
    conn.execute("INSERT INTO locks (name, run_id, pid, host, acquired_at, heartbeat_at) VALUES"
                 " ('restore', NULL, ?, ?, '2026-01-23T11:00:00Z', '2026-01-23T11:00:00Z')",
                 (dead_pid(), socket.gethostname()))
    conn.close()

    result = cli("ingest", "--json")  # the fake task has no table to render

    assert result.exit_code == 0, result.output
    assert fake_jobs() == ["ingest"]
    assert dump(sched_home / "turbomode.db")["locks"] == []


def test_a_restore_whose_backup_fails_its_check_leaves_no_restore_lock(sched_home, cli, tmp_path):
    db = sched_home / "turbomode.db"
    before = dump(db)
    bad = tmp_path / "turbomode-20260101T000000Z.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)

    result = cli("restore", str(bad), "--yes")

    assert result.exit_code != 0, result.output
    assert dump(db) == before


@pytest.mark.parametrize("where", ["at the swap", "after the swap"])
def test_a_restore_that_fails_once_it_holds_the_database_releases_its_lock(sched_home, cli, monkeypatch, where):
    from turbomode.store import maintenance

    db = sched_home / "turbomode.db"
    backup = make_backup(sched_home)

    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    if where == "at the swap":
        monkeypatch.setattr(backup_store, "_copy_into_place", fail)
    else:
        monkeypatch.setattr(maintenance, "abandon_runs_in_progress", fail)

    result = cli("restore", str(backup), "--yes")

    assert result.exit_code != 0, result.output
    assert "Input/output error" in result.output
    assert dump(db)["locks"] == []


def test_a_second_restore_is_refused_while_one_holds_the_database(sched_home, cli):
    from turbomode.ops import locks
    from turbomode.store import ledger
    from turbomode.store.db import transaction

    backup = make_backup(sched_home)
    conn = connect(sched_home / "turbomode.db")
    with transaction(conn):  # this test's own process stands in for a restore in the middle of its swap
        ledger.put_restore_lock(conn, ledger.restore_lock(NOW, locks.my_start_time()))
    conn.close()

    result = cli("restore", str(backup), "--yes")

    assert result.exit_code == 4, result.output
    assert f"cannot restore while another restore (pid {os.getpid()}, since " in result.stderr


def test_a_restore_that_cannot_claim_a_busy_database_is_refused_not_run_unclaimed(sched_home, cli, monkeypatch):
    from turbomode.store import db as store_db

    db = sched_home / "turbomode.db"
    backup = make_backup(sched_home)
    before = dump(db)
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.2)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a job in the middle of a long write
    try:
        result = cli("restore", str(backup), "--yes")
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert result.exit_code == 4, result.output
    assert "another process is writing to" in result.stderr and "nothing was changed" in result.stderr
    assert dump(db) == before and not list(sched_home.glob("*.before-restore"))
