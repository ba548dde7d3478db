"""`turbomode status` and `turbomode history` through the real CLI."""

import json
import os
from datetime import timedelta

import time_machine

from tests.fakejobs.fixtures import NOW

JOB_KEYS = {"name", "schedule", "last_success", "last_status", "next_run", "missed", "overdue"}


def _all_ran(cli):
    with time_machine.travel(NOW, tick=False):
        assert cli("catchup").exit_code == 0


def test_status_is_healthy_after_every_job_ran(sched_home, fake_jobs, alerts_spy, cli):
    _all_ran(cli)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        result = cli("status", "--json")
        text = cli("status")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["healthy"] is True and data["problems"] == []
    assert {"jobs", "data", "signals", "models", "healthy"} <= set(data)
    assert [j["name"] for j in data["jobs"]] == ["ingest", "train", "scan", "backtest", "drift", "maintain"]
    scan = data["jobs"][2]
    assert JOB_KEYS <= set(scan)
    assert scan["schedule"] == "30 23 * * *" and scan["schedule_words"] == "At 23:30 every day"
    assert (scan["last_status"], scan["missed"], scan["overdue"]) == ("succeeded", 0, False)
    assert scan["last_success"] == "2026-01-23T12:00:00Z" and scan["next_run"] == "2026-01-24T04:30:00Z"
    assert data["data"] == {"latest_bar": "2026-01-22", "last_session": "2026-01-22", "fresh": True,
                            "quarantined": 0, "behind": {"count": 0, "of": 0, "symbols": {}}}
    assert data["signals"]["fresh"] and data["models"]["champion"]
    assert text.exit_code == 0 and "HEALTHY" in text.stdout and "UNHEALTHY" not in text.stdout


def test_status_is_unhealthy_and_exits_1_when_a_night_was_missed(sched_home, fake_jobs, alerts_spy, cli):
    _all_ran(cli)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):  # Sat 07:00 New York; prices end Thu
        result = cli("status", "--json")
        text = cli("status")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    jobs = {j["name"]: j for j in data["jobs"]}
    assert jobs["scan"]["overdue"] and jobs["scan"]["missed"] == 1
    assert not jobs["train"]["overdue"]
    assert data["data"]["fresh"] is False and data["data"]["last_session"] == "2026-01-23"
    assert any("scan is overdue" in p for p in data["problems"])
    assert any("prices end 2026-01-22" in p for p in data["problems"])
    assert text.exit_code == 1 and "UNHEALTHY" in text.stdout and "OVERDUE" in text.stdout


def test_status_reports_a_failed_last_run(sched_home, fake_jobs, alerts_spy, cli, monkeypatch):
    _all_ran(cli)
    monkeypatch.setenv("FAKE_BACKTEST", "fail")
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        from turbomode.context import Context
        from turbomode.ops.runner import run_job

        run_job(Context.load(sched_home), "backtest", {})
        data = json.loads(cli("status", "--json").stdout)
    assert not data["healthy"]
    assert any("backtest's last run" in p and "failed" in p for p in data["problems"])


def test_status_of_an_empty_home_says_what_to_do(sched_home, cli):
    with time_machine.travel(NOW, tick=False):
        result = cli("status")
    assert result.exit_code == 1
    assert "never" in result.stdout and "run `turbomode ingest`" in result.stdout


def test_history_lists_runs_newest_first_with_durations(sched_home, fake_jobs, alerts_spy, cli):
    _all_ran(cli)
    result = cli("history", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["job"] for r in rows] == ["maintain", "drift", "backtest", "scan", "train", "ingest"]
    assert all(r["duration_seconds"] == 0 and r["trigger"] == "catchup" for r in rows)
    assert rows[0]["summary"] == {"fake": True, "job": "maintain", "message": "fake maintain done"}
    only = json.loads(cli("history", "--job", "scan", "--limit", "1", "--json").stdout)
    assert [(r["job"], r["status"]) for r in only] == [("scan", "succeeded")]
    text = cli("history")
    assert text.exit_code == 0 and "maintain" in text.stdout and "catchup" in text.stdout


def test_history_rejects_an_unknown_job(sched_home, cli):
    result = cli("history", "--job", "dance")
    assert result.exit_code == 2 and "unknown job" in result.output


def test_history_of_an_empty_ledger(sched_home, cli):
    assert cli("history").stdout.strip() == "no runs recorded yet"


def test_the_status_table_is_coloured_on_a_terminal_and_plain_otherwise(sched_home, fake_jobs, alerts_spy, cli,
                                                                        runner, monkeypatch):
    from turbomode.cli.main import app

    _all_ran(cli)
    monkeypatch.setenv("COLUMNS", "120")  # wide enough for the schedule column
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        args = ["--home", str(sched_home), "status"]
        plain = runner.invoke(app, args)
        coloured = runner.invoke(app, args, color=True)
        monkeypatch.setenv("NO_COLOR", "1")
        no_color = runner.invoke(app, args, color=True)
    assert "\x1b[" not in plain.stdout and "\x1b[" in coloured.stdout and "\x1b[" not in no_color.stdout
    assert plain.stdout == no_color.stdout
    assert "scan      At 23:30 every day" in plain.stdout and "HEALTHY" in plain.stdout


def _run(sched_home, job, trigger, monkeypatch, mode):
    from turbomode.context import Context
    from turbomode.ops.runner import run_job

    monkeypatch.setenv(f"FAKE_{job.upper()}", mode)
    try:
        return run_job(Context.load(sched_home), job, {}, trigger=trigger, with_deps=False).exit_code
    except Exception as exc:  # the CLI turns it into one line and an exit code
        return getattr(exc, "exit_code", None)


def test_a_hand_typed_command_refused_for_its_options_neither_fails_the_job_nor_alerts(
        sched_home, fake_jobs, alerts_spy, cli, monkeypatch):
    """`turbomode backtest --start <too late>` typed by hand: the typist read the sentence; it is kept
    in the history, but the weekly backtest is not what failed: no alert, and `status` stays healthy."""
    _all_ran(cli)
    alerts_spy.clear()
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        assert _run(sched_home, "backtest", "manual", monkeypatch, "usage") == 2
        data = json.loads(cli("status", "--json").stdout)
        history = cli("history", "--job", "backtest").stdout
    assert data["healthy"], data["problems"]
    assert {j["name"]: j for j in data["jobs"]}["backtest"]["last_status"] == "succeeded"
    # no alert; the job's pings report the run's start and exit code as for every run
    assert alerts_spy == [("ping", "backtest", "start"), ("ping", "backtest", "2")]
    assert "failed" in history and "--start is after" in history  # recorded all the same


def test_a_scheduled_run_refused_for_its_settings_or_a_hand_run_that_failed_still_counts(
        sched_home, fake_jobs, alerts_spy, cli, monkeypatch):
    _all_ran(cli)
    alerts_spy.clear()
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        assert _run(sched_home, "backtest", "cron", monkeypatch, "usage") == 2
        scheduled = json.loads(cli("status", "--json").stdout)
        assert _run(sched_home, "drift", "manual", monkeypatch, "fail") == 1
        by_hand = json.loads(cli("status", "--json").stdout)
    assert any("backtest's last run" in p and "failed" in p for p in scheduled["problems"])
    assert any("drift's last run" in p and "failed" in p for p in by_hand["problems"])
    assert [c[:3] for c in alerts_spy if c[0] == "notify"] == [("notify", "backtest", "failed"),
                                                                ("notify", "drift", "failed")]


def test_status_says_while_a_restore_holds_the_database_and_not_after_its_process_died(sched_home, fake_jobs,
                                                                                      alerts_spy, cli):
    import subprocess
    import sys

    from turbomode.ops import locks
    from turbomode.store import ledger
    from turbomode.store.db import connect, transaction

    _all_ran(cli)
    conn = connect(sched_home / "turbomode.db")
    with transaction(conn):  # this process, alive, is restoring
        ledger.put_restore_lock(conn, ledger.restore_lock(NOW, locks.my_start_time()))
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        during = json.loads(cli("status", "--json").stdout)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with transaction(conn):  # a restore whose process has ended
        ledger.put_restore_lock(conn, ledger.RestoreLock(int(gone.stdout), locks.this_host(), "2026-01-23T11:00:00Z",
                                                         None))
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        after = json.loads(cli("status", "--json").stdout)
    conn.close()
    assert any("a backup is being restored" in w and f"pid {os.getpid()}" in w for w in during["warnings"])
    assert not any("restored" in w for w in after["warnings"])


def _open_sells(home, n):
    from turbomode.store.db import connect

    conn = connect(home / "turbomode.db")
    with conn:
        conn.executemany("INSERT INTO active_signals (symbol, signal_type, confidence, created_at, is_active,"
                         " market_date) VALUES (?, 'SELL', 0.45, '2026-01-23T04:30:00Z', 1, '2026-01-22')",
                         [(f"S{i:02d}",) for i in range(n)])
    conn.close()


def test_open_signals_nearly_all_one_way_are_a_warning_that_leaves_status_healthy(sched_home, fake_jobs,
                                                                                    alerts_spy, cli):
    _all_ran(cli)  # the fake scan leaves one BUY open
    _open_sells(sched_home, 11)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        result = cli("status", "--json")
        text = cli("status")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["healthy"] is True
    assert any("11 of the 12 open signals (92%) are SELL" in w for w in data["warnings"])
    assert "are SELL" in text.stdout


def test_a_few_open_signals_all_one_way_are_not_judged(sched_home, fake_jobs, alerts_spy, cli):
    _all_ran(cli)
    _open_sells(sched_home, 8)  # 8 of 9: too few signals to call it a pattern
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        data = json.loads(cli("status", "--json").stdout)
    assert not any("open signals" in w for w in data["warnings"])


def test_without_a_champion_because_every_sector_stayed_challenger_status_says_why_not_just_train(sched_home,
                                                                                                  cli):
    from turbomode.store import models
    from turbomode.store.db import connect

    conn = connect(sched_home / "turbomode.db")
    files = [{"sector": "Energy", "model_type": "ensemble", "path": "v1/energy/ensemble.json", "sha256": "x",
              "windows": {}, "metrics": {}, "feature_names": []}]
    models.record_version(conn, version="v20260118", now=NOW, files=files, promoted=[], run={"status": "succeeded"})
    conn.close()
    with time_machine.travel(NOW, tick=False):
        data = json.loads(cli("status", "--json").stdout)
    assert data["models"]["champion"] is None and data["models"]["challenger"] == "v20260118"
    said = [p for p in data["problems"] if p.startswith("no champion model")]
    assert said and "v20260118 stayed a challenger" in said[0] and "train --promote" in said[0]
