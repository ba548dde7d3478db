"""Real processes: a run killed mid-way is abandoned and replayed; eight at once run exactly one."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _spawn(job: str, env: dict) -> subprocess.Popen:
    full = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "tests.fakejobs.run_job", job], cwd=REPO, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _rows(db: Path, sql: str, args=()):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_a_run_killed_mid_way_is_abandoned_then_replayed_and_the_database_is_sound(
        sched_home, fake_jobs, alerts_spy, cli, tmp_path):
    db = sched_home / "turbomode.db"
    proc = _spawn("maintain", {"FAKE_MAINTAIN": "sleep:120"})
    try:
        _wait_for(lambda: "maintain" in fake_jobs())
        assert _rows(db, "SELECT status FROM task_runs WHERE task = 'maintain'") == [("running",)]
        proc.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    result = cli("status", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    maintain = next(j for j in data["jobs"] if j["name"] == "maintain")
    assert maintain["last_status"] == "abandoned" and maintain["missed"] == 1 and not maintain["running"]
    assert [a["job"] for a in data["abandoned_now"]] == ["maintain"]
    assert ("notify", "maintain", "abandoned") in [c[:3] for c in alerts_spy]
    assert _rows(db, "SELECT COUNT(*) FROM locks") == [(0,)]

    result = cli("catchup", "--json")
    assert result.exit_code == 0, result.output
    replay = [r for r in json.loads(result.stdout)["runs"] if r["job"] == "maintain"]
    assert [r["status"] for r in replay] == ["succeeded"]
    assert _rows(db, "SELECT trigger, status FROM task_runs WHERE task = 'maintain' ORDER BY id") == [
        ("manual", "abandoned"), ("catchup", "succeeded")]
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_eight_simultaneous_invocations_run_the_job_exactly_once(sched_home, fake_jobs, tmp_path):
    barrier = tmp_path / "go"
    procs = [_spawn("maintain", {"FAKE_MAINTAIN": "sleep:3", "FAKE_BARRIER": str(barrier)}) for _ in range(8)]
    time.sleep(0.5)
    barrier.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0] * 8, outs
    assert all("database is locked" not in out + err for out, err in outs)
    assert fake_jobs() and len(fake_jobs()) == 1
    statuses = sorted(s for (s,) in _rows(sched_home / "turbomode.db", "SELECT status FROM task_runs"))
    assert statuses == ["skipped"] * 7 + ["succeeded"]
    skipped = [out for out, _ in outs if "already running" in out]
    assert len(skipped) == 7 and all(s.startswith("maintain is already running (run ") for s in skipped)


@pytest.mark.parametrize("ingest, scan_status", [("sleep:2", "succeeded"), ("fail-late", "blocked")])
def test_a_job_waits_for_a_prerequisite_running_in_another_process(sched_home, fake_jobs, alerts_spy, ctx,
                                                                  monkeypatch, ingest, scan_status):
    from turbomode.ops import runner
    from turbomode.store.db import transaction

    conn = ctx.connect()
    with transaction(conn):  # a champion exists: only ingest is a stale prerequisite of scan
        conn.execute("INSERT INTO model_metadata (version, status, created_at) VALUES ('v1', 'champion', '2026-01-01')")
    monkeypatch.setattr(runner, "DEPENDENCY_POLL_S", 0.1)
    proc = _spawn("ingest", {"FAKE_INGEST": ingest})  # cron's ingest, still busy when scan fires
    try:
        _wait_for(lambda: "ingest" in fake_jobs())
        out = runner.run_job(ctx, "scan", {}, trigger="cron")
    finally:
        proc.wait(timeout=60)
    assert out.status == scan_status
    ingests = _rows(sched_home / "turbomode.db", "SELECT trigger, status FROM task_runs WHERE task = 'ingest' ORDER BY id")
    assert ingests[0] == ("manual", "succeeded" if scan_status == "succeeded" else "failed")
    assert ingests[1] == ("dependency", "skipped")  # the scan's own attempt found it running
    assert fake_jobs() == (["ingest", "scan"] if scan_status == "succeeded" else ["ingest"])
