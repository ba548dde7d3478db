"""`turbomodew` as Task Scheduler starts it: no console, so sys.stdout and sys.stderr are None.

A window-less program on Windows gets no standard streams at all; any print, progress bar or
warning that reaches them would raise. These run the real entry point in-process with both set to
None (under Wine `pythonw.exe` still has a stdout, so a subprocess would prove nothing): the job
runs, is recorded in the ledger, logs to the file, and the exit code is the job's.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest

from tests.fakejobs.fixtures import alerts_spy, fake_jobs, sched_home  # noqa: F401


def run_windowless(monkeypatch, *args: str) -> int:
    from turbomode.cli.main import main_windowless

    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", None)
        m.setattr(sys, "stderr", None)
        m.setattr(sys, "argv", ["turbomodew", *args])
        with pytest.raises(SystemExit) as info:
            main_windowless()
    return info.value.code


def test_a_scheduled_job_runs_and_is_recorded_without_a_console(sched_home, fake_jobs, alerts_spy, monkeypatch):
    code = run_windowless(monkeypatch, "--home", str(sched_home), "maintain", "--trigger", "cron", "--no-deps")
    assert code == 0
    assert fake_jobs() == ["maintain"]
    conn = sqlite3.connect(sched_home / "turbomode.db")
    assert conn.execute("SELECT task, trigger, status FROM task_runs").fetchall() == [("maintain", "cron", "succeeded")]
    conn.close()
    assert "run 1 finished: succeeded" in (sched_home / "logs" / "turbomode.log").read_text(encoding="utf-8")


def test_catchup_at_logon_replays_everything_without_a_console(sched_home, fake_jobs, alerts_spy, monkeypatch):
    assert run_windowless(monkeypatch, "--home", str(sched_home), "catchup") == 0
    assert sorted(fake_jobs()) == ["backtest", "drift", "ingest", "maintain", "scan", "train"]


def test_a_failing_job_keeps_its_exit_code_without_a_console(sched_home, fake_jobs, alerts_spy, monkeypatch):
    monkeypatch.setenv("FAKE_MAINTAIN", "fail")
    code = run_windowless(monkeypatch, "--home", str(sched_home), "maintain", "--no-deps")
    assert code == 1
    assert ("notify", "maintain", "failed") in [c[:3] for c in alerts_spy]


def test_status_with_its_marks_and_a_usage_error_without_a_console(sched_home, monkeypatch):
    assert run_windowless(monkeypatch, "--home", str(sched_home), "status") == 1  # nothing ran yet: ✗ lines
    assert run_windowless(monkeypatch, "--home", str(sched_home), "status", "--bogus") == 2


def test_an_unexpected_error_is_logged_and_exits_1_without_a_console(sched_home, monkeypatch):
    from turbomode.tasks import status as status_task

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(status_task, "collect", broken)
    assert run_windowless(monkeypatch, "--home", str(sched_home), "status", "--json") == 1
    assert "RuntimeError: boom" in (sched_home / "logs" / "turbomode.log").read_text(encoding="utf-8")
