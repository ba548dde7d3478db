"""`restore` while a job is running is refused (exit 4): the job would go on writing into the restored
database — a train promoting its champion into it, its ledger row confused with another run's."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

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
