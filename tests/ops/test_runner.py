"""The run wrapper in-process: ledger rows, locks, prerequisites, alerts, errors."""

import os
from datetime import datetime, timezone
import socket

import pytest

from tests.fakejobs.fixtures import NOW, fixed, runs
from turbomode.errors import StaleData
from turbomode.ops.runner import run_job
from turbomode.ops.locks import my_start_time
from turbomode.store import ledger
from turbomode.store.db import transaction


def _fresh_world(ctx):
    """Prices reach the last completed session and a champion exists: no prerequisite is stale."""
    conn = ctx.connect()
    with transaction(conn):
        conn.execute("INSERT INTO price_data (symbol, date, close) VALUES ('AAA', '2026-01-22', 1.0)")
        conn.execute("INSERT INTO model_metadata (version, status, created_at) VALUES ('v1', 'champion', '2026-01-18T05:00:00Z')")


def test_a_successful_run_is_recorded_with_its_process_and_releases_its_lock(ctx, fake_jobs, alerts_spy):
    _fresh_world(ctx)
    out = run_job(ctx, "scan", {}, trigger="manual", now_fn=fixed(NOW))
    assert (out.status, out.exit_code) == ("succeeded", 0)
    [row] = runs(ctx, "scan")
    assert row["status"] == "succeeded" and row["trigger"] == "manual" and row["exit_code"] == 0
    assert row["pid"] == os.getpid() and row["host"] == socket.gethostname()
    assert row["started_at"] == "2026-01-23T12:00:00Z" and row["finished_at"] == "2026-01-23T12:00:00Z"
    assert ctx.connect().execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    assert fake_jobs() == ["scan"]
    assert ("ping", "scan", "start") in alerts_spy and ("ping", "scan", "0") in alerts_spy


def test_a_cron_run_records_the_scheduled_time_it_serves(ctx, fake_jobs, alerts_spy):
    _fresh_world(ctx)
    run_job(ctx, "scan", {}, trigger="cron", now_fn=fixed(NOW))
    assert runs(ctx, "scan")[0]["scheduled_for"] == "2026-01-23T04:30:00Z"  # Thu 23:30 New York


def test_a_failed_task_is_recorded_and_alerted(ctx, fake_jobs, alerts_spy, monkeypatch):
    _fresh_world(ctx)
    monkeypatch.setenv("FAKE_SCAN", "fail")
    out = run_job(ctx, "scan", {}, now_fn=fixed(NOW))
    assert (out.status, out.exit_code) == ("failed", 1)
    assert runs(ctx, "scan")[0]["error"] == "fake scan failed"
    assert ("notify", "scan", "failed", "fake scan failed") in alerts_spy
    assert ("ping", "scan", "1") in alerts_spy


def test_a_named_error_is_recorded_with_its_exit_code_and_re_raised(ctx, fake_jobs, alerts_spy, monkeypatch):
    _fresh_world(ctx)
    monkeypatch.setenv("FAKE_SCAN", "refuse")
    with pytest.raises(StaleData):
        run_job(ctx, "scan", {}, now_fn=fixed(NOW))
    row = runs(ctx, "scan")[0]
    assert (row["status"], row["exit_code"]) == ("failed", 4)
    assert ctx.connect().execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0


def test_an_unexpected_crash_goes_to_the_log_with_its_traceback(ctx, fake_jobs, alerts_spy, monkeypatch):
    _fresh_world(ctx)
    monkeypatch.setenv("FAKE_SCAN", "crash")
    with pytest.raises(RuntimeError):
        run_job(ctx, "scan", {}, now_fn=fixed(NOW))
    assert runs(ctx, "scan")[0]["error"] == "RuntimeError: fake scan crashed"
    text = (ctx.logs_dir / "turbomode.log").read_text()
    assert "Traceback" in text and "fake scan crashed" in text


def test_an_alert_channel_that_raises_never_fails_the_job(ctx, fake_jobs, monkeypatch):
    from turbomode.ops import alerts

    def boom(*a, **k):
        raise OSError("smtp down")

    monkeypatch.setattr(alerts, "notify", boom)
    monkeypatch.setattr(alerts, "ping", boom)
    _fresh_world(ctx)
    monkeypatch.setenv("FAKE_SCAN", "fail")
    out = run_job(ctx, "scan", {}, now_fn=fixed(NOW))
    assert out.status == "failed"  # the job's own result, not the alert's
    monkeypatch.setenv("FAKE_SCAN", "ok")
    assert run_job(ctx, "scan", {}, now_fn=fixed(NOW)).status == "succeeded"


def test_a_second_run_while_one_holds_the_job_is_skipped_with_exit_0(ctx, fake_jobs, alerts_spy):
    _fresh_world(ctx)
    held = ledger.claim_run(ctx.connect(), "scan", "cron", NOW, proc_started=my_start_time())  # this live process holds scan
    out = run_job(ctx, "scan", {}, now_fn=fixed(NOW))
    assert (out.status, out.exit_code) == ("skipped", 0)
    assert out.error == (f"scan is already running (run {held.run_id}, pid {os.getpid()} since "
                         "2026-01-23T12:00:00Z); skipped")
    assert runs(ctx, "scan")[-1]["status"] == "skipped"
    assert fake_jobs() == []


def test_a_stale_prerequisite_is_brought_up_to_date_first(ctx, fake_jobs, alerts_spy):
    out = run_job(ctx, "scan", {}, now_fn=fixed(NOW))  # no prices, no champion
    assert out.status == "succeeded"
    assert fake_jobs() == ["ingest", "train", "scan"]
    by_task = {r["task"]: r for r in runs(ctx)}
    scan_id = by_task["scan"]["id"]
    assert by_task["ingest"]["trigger"] == "dependency" and by_task["ingest"]["parent_run_id"] == scan_id
    # train needs ingest too, which this invocation already brought up to date: no second ingest
    assert by_task["train"]["parent_run_id"] == scan_id


def test_a_train_whose_versions_all_stayed_challengers_is_not_rerun_by_each_scan_of_its_week(
        ctx, fake_jobs, alerts_spy):
    conn = ctx.connect()
    with transaction(conn):
        conn.execute("INSERT INTO price_data (symbol, date, close) VALUES ('AAA', '2026-01-22', 1.0)")
    run_job(ctx, "train", {}, trigger="cron", now_fn=fixed(datetime(2026, 1, 18, 5, 0, tzinfo=timezone.utc)))
    assert fake_jobs() == ["train"]
    with transaction(conn):  # the version it made did not pass promotion
        conn.execute("UPDATE model_metadata SET status = 'challenger' WHERE status = 'champion'")
    run_job(ctx, "scan", {}, now_fn=fixed(NOW))
    assert fake_jobs() == ["train", "scan"]  # scan itself says there is no champion, and why


def test_fresh_prerequisites_are_not_run(ctx, fake_jobs, alerts_spy):
    _fresh_world(ctx)
    run_job(ctx, "scan", {}, now_fn=fixed(NOW))
    assert fake_jobs() == ["scan"]


def test_no_deps_runs_only_the_job(ctx, fake_jobs, alerts_spy):
    run_job(ctx, "scan", {}, with_deps=False, now_fn=fixed(NOW))
    assert fake_jobs() == ["scan"]


def test_a_failed_prerequisite_blocks_the_job(ctx, fake_jobs, alerts_spy, monkeypatch):
    monkeypatch.setenv("FAKE_INGEST", "fail")
    out = run_job(ctx, "backtest", {}, now_fn=fixed(NOW))
    assert (out.status, out.exit_code) == ("blocked", 4)
    assert fake_jobs() == ["ingest"]
    row = runs(ctx, "backtest")[0]
    assert row["status"] == "blocked" and "ingest failed" in row["error"]
    assert any(c[:3] == ("notify", "backtest", "blocked") for c in alerts_spy)


def test_the_heartbeat_moves_while_a_job_runs(ctx, fake_jobs, alerts_spy, monkeypatch):
    from turbomode import clock

    _fresh_world(ctx)
    monkeypatch.setenv("FAKE_MAINTAIN", "sleep:2.5")
    run_job(ctx, "maintain", {}, now_fn=clock.now)
    row = runs(ctx, "maintain")[0]
    assert row["heartbeat_at"] > row["started_at"]


def test_an_unknown_job_is_a_usage_error(ctx):
    from turbomode.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown job"):
        run_job(ctx, "dance", {})


def test_an_unknown_trigger_is_a_usage_error_not_a_database_error(ctx):
    from turbomode.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown trigger 'sometimes'"):
        run_job(ctx, "scan", {}, trigger="sometimes")


def test_a_missing_task_module_is_recorded_failed_with_a_clear_message(ctx, alerts_spy, monkeypatch):
    from dataclasses import replace

    from turbomode.errors import TurboModeError
    from turbomode.jobs import JOBS

    monkeypatch.setitem(JOBS, "maintain", replace(JOBS["maintain"], task="turbomode.tasks.not_there"))
    with pytest.raises(TurboModeError, match="not available in this version"):
        run_job(ctx, "maintain", {}, now_fn=fixed(NOW))
    assert runs(ctx, "maintain")[0]["status"] == "failed"


def test_status_shows_a_running_job_and_warns_when_its_heartbeat_stops(ctx, cli):
    import json
    from datetime import timedelta

    import time_machine

    from turbomode.ops.locks import my_start_time

    ledger.claim_run(ctx.connect(), "maintain", "cron", NOW, proc_started=my_start_time())
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        data = json.loads(cli("status", "--json").stdout)
    job = next(j for j in data["jobs"] if j["name"] == "maintain")
    assert job["running"] and job["last_status"] == "running" and data["warnings"] == []
    with time_machine.travel(NOW + timedelta(minutes=40), tick=False):
        data = json.loads(cli("status", "--json").stdout)
    assert any("has not beaten its heartbeat for 40 minutes" in w for w in data["warnings"])
    assert next(j for j in data["jobs"] if j["name"] == "maintain")["running"]  # trusted: it is alive
