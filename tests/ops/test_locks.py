"""Dead-run detection: a gone pid, a reused pid, another host's stale heartbeat; live runs are kept."""

import subprocess
import sys
from datetime import timedelta

import pytest

from tests.fakejobs.fixtures import NOW, runs
from turbomode.clock import iso
from turbomode.ops import locks
from turbomode.store import ledger
from turbomode.store.db import transaction


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _running_row(ctx, job, *, pid, host, heartbeat, proc_started=None):
    claim = ledger.claim_run(ctx.connect(), job, "cron", NOW, proc_started=proc_started)
    conn = ctx.connect()
    with transaction(conn):
        conn.execute("UPDATE task_runs SET pid = ?, host = ?, heartbeat_at = ? WHERE id = ?",
                     (pid, host, iso(heartbeat), claim.run_id))
        conn.execute("UPDATE locks SET pid = ?, host = ?, heartbeat_at = ? WHERE run_id = ?",
                     (pid, host, iso(heartbeat), claim.run_id))
    return claim.run_id


def _locks(ctx):
    return [r["name"] for r in ctx.connect().execute("SELECT name FROM locks")]


def test_a_run_whose_process_is_gone_is_abandoned_and_its_lock_released(ctx):
    rid = _running_row(ctx, "scan", pid=_dead_pid(), host=locks.this_host(), heartbeat=NOW)
    found = locks.sweep(ctx.connect(), NOW, 15)
    assert [a.run_id for a in found] == [rid]
    row = runs(ctx, "scan")[0]
    assert row["status"] == "abandoned" and "is gone" in row["error"] and row["finished_at"]
    assert _locks(ctx) == []


def test_a_live_process_on_this_host_is_trusted_over_an_old_heartbeat(ctx):
    # a laptop that slept mid-run: the process resumes, so evicting it would start a second copy
    _running_row(ctx, "scan", pid=locks.os_pid(), host=locks.this_host(), heartbeat=NOW - timedelta(hours=5),
                 proc_started=locks.my_start_time())
    assert locks.sweep(ctx.connect(), NOW, 15) == []
    assert runs(ctx, "scan")[0]["status"] == "running" and _locks(ctx) == ["scan"]


def test_a_reused_pid_does_not_keep_a_dead_run_alive(ctx):
    # the pid is alive (this very process) but it started at another time: after a reboot
    _running_row(ctx, "scan", pid=locks.os_pid(), host=locks.this_host(), heartbeat=NOW,
                 proc_started=locks.my_start_time() - 3600)
    assert [a.job for a in locks.sweep(ctx.connect(), NOW, 15)] == ["scan"]


def test_another_hosts_run_is_judged_by_its_heartbeat(ctx):
    _running_row(ctx, "scan", pid=1, host="other-host", heartbeat=NOW - timedelta(minutes=16))
    _running_row(ctx, "ingest", pid=1, host="other-host", heartbeat=NOW - timedelta(minutes=14))
    found = locks.sweep(ctx.connect(), NOW, 15)
    assert [a.job for a in found] == ["scan"] and "16 minutes old" in found[0].why
    assert _locks(ctx) == ["ingest"]


def test_a_lock_left_by_a_finished_run_is_released(ctx):
    rid = _running_row(ctx, "scan", pid=_dead_pid(), host=locks.this_host(), heartbeat=NOW)
    conn = ctx.connect()
    with transaction(conn):  # e.g. a restore marked it abandoned without touching the lock
        conn.execute("UPDATE task_runs SET status = 'abandoned' WHERE id = ?", (rid,))
    locks.sweep(conn, NOW, 15)
    assert _locks(ctx) == []


def test_a_catchup_lock_of_a_dead_process_is_released(ctx):
    conn = ctx.connect()
    ledger.claim_lock(conn, locks.CATCHUP_LOCK, NOW)
    with transaction(conn):
        conn.execute("UPDATE locks SET pid = ? WHERE name = 'catchup'", (_dead_pid(),))
    locks.sweep(conn, NOW, 15)
    assert _locks(ctx) == []


def test_status_says_abandoned_once(ctx, cli):
    _running_row(ctx, "scan", pid=_dead_pid(), host=locks.this_host(), heartbeat=NOW)
    # and a row written by the earlier code, whose error repeated the status
    conn = ctx.connect()
    with transaction(conn):
        conn.execute("INSERT INTO task_runs (task, trigger, started_at, finished_at, status, error)"
                     " VALUES ('drift', 'cron', ?, ?, 'abandoned', 'abandoned: its heartbeat is old')",
                     (iso(NOW), iso(NOW)))
    text = cli("status").stdout + "\n".join(__import__("json").loads(cli("status", "--json").stdout)["problems"])
    assert "abandoned: abandoned:" not in text
    assert "abandoned: its process" in text and "drift's last run 2 abandoned: its heartbeat is old" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_the_start_time_read_from_proc_is_psutils():
    import os

    import psutil

    assert locks.my_start_time() == psutil.Process().create_time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert locks._proc_start_time(child.pid) == psutil.Process(child.pid).create_time()
    finally:
        child.kill()
        child.wait()
    assert locks._proc_start_time(os.getpid()) == locks.my_start_time()


@pytest.mark.skipif(sys.platform != "win32", reason="GetProcessTimes is Windows'")
def test_the_start_time_read_from_getprocesstimes_is_psutils():
    import psutil

    assert locks._windows_start_time() == pytest.approx(psutil.Process().create_time(), abs=0.01)
    assert locks.my_start_time() == locks._windows_start_time()


def test_a_restore_lock_is_judged_by_the_sweeps_rule(ctx):
    from turbomode.clock import iso as _iso

    judge = locks.lock_alive(NOW, 15)
    row = {"name": locks.RESTORE_LOCK, "run_id": None, "host": locks.this_host(), "acquired_at": _iso(NOW),
           "heartbeat_at": _iso(NOW), "pid": locks.os_pid(), "proc_started": locks.my_start_time()}
    conn = ctx.connect()
    with transaction(conn):
        conn.execute(f"INSERT INTO locks ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    mine = conn.execute("SELECT * FROM locks").fetchone()
    assert judge(mine)
    with transaction(conn):
        conn.execute("UPDATE locks SET pid = ?", (_dead_pid(),))
    assert not judge(conn.execute("SELECT * FROM locks").fetchone())
    locks.sweep(conn, NOW, 15)  # and the sweep drops it, as it drops catchup's
    assert _locks(ctx) == []
