"""`turbomode catchup` end to end (real CLI, fake job bodies, the clock moved with time-machine)."""

import json
from datetime import timedelta

import time_machine

from tests.fakejobs.fixtures import NOW
from turbomode.ops import locks
from turbomode.store import ledger


def _runs(home, sql="SELECT task, trigger, status, scheduled_for, missed_count FROM task_runs ORDER BY id"):
    import sqlite3

    conn = sqlite3.connect(home / "turbomode.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_first_catchup_runs_every_job_once_in_dependency_order(sched_home, fake_jobs, alerts_spy, cli):
    with time_machine.travel(NOW, tick=False):
        result = cli("catchup")
    assert result.exit_code == 0, result.output
    assert fake_jobs() == ["ingest", "train", "scan", "backtest", "drift", "maintain"]
    rows = _runs(sched_home)
    assert {r[1] for r in rows} == {"catchup"} and {r[2] for r in rows} == {"succeeded"}
    assert ("scan", "catchup", "succeeded", "2026-01-23T04:30:00Z", 1) in rows
    assert "caught up 6 of 6" in result.output


def test_a_missed_night_is_replayed_once_saying_how_many_times_it_was_missed(sched_home, fake_jobs, alerts_spy, cli):
    with time_machine.travel(NOW, tick=False):
        cli("catchup")
    with time_machine.travel(NOW + timedelta(days=3), tick=False):  # Fri -> Mon: three nights missed
        result = cli("catchup", "--json")
    assert result.exit_code == 0, result.output
    replays = {r["job"]: r for r in json.loads(result.stdout)["runs"]}
    assert replays["ingest"]["missed"] == 3 and replays["scan"]["missed"] == 3
    assert replays["maintain"]["missed"] == 1  # Saturday only
    assert replays["train"]["missed"] == 1  # Sunday only
    scans = [r for r in _runs(sched_home) if r[0] == "scan"]
    assert scans[-1] == ("scan", "catchup", "succeeded", "2026-01-26T04:30:00Z", 3)
    assert len(scans) == 2  # once, not three times


def test_nothing_due_runs_nothing_and_exits_0(sched_home, fake_jobs, alerts_spy, cli):
    with time_machine.travel(NOW, tick=False):
        cli("catchup")
        before = len(_runs(sched_home))
        result = cli("catchup")
    assert (result.exit_code, result.stdout.strip()) == (0, "nothing to catch up")
    assert len(_runs(sched_home)) == before


def test_an_upstream_failure_blocks_its_dependants_which_stay_missed(sched_home, fake_jobs, alerts_spy, cli,
                                                                     monkeypatch):
    monkeypatch.setenv("FAKE_INGEST", "fail")
    with time_machine.travel(NOW, tick=False):
        result = cli("catchup", "--json")
    assert result.exit_code == 3  # partial: maintain still ran
    status = {r["job"]: r["status"] for r in json.loads(result.stdout)["runs"]}
    assert status == {"ingest": "failed", "train": "blocked", "scan": "blocked", "backtest": "blocked",
                      "drift": "blocked", "maintain": "succeeded"}
    assert fake_jobs() == ["ingest", "maintain"]
    blocked = [r for r in _runs(sched_home) if r[2] == "blocked"]
    assert {r[0] for r in blocked} == {"train", "scan", "backtest", "drift"}
    assert all(r[1] == "catchup" and r[4] == 1 for r in blocked)
    assert ("notify", "scan", "blocked") in [c[:3] for c in alerts_spy]

    monkeypatch.setenv("FAKE_INGEST", "ok")
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        plan = json.loads(cli("catchup", "--dry-run", "--json").stdout)
        assert [i["job"] for i in plan] == ["ingest", "train", "scan", "backtest", "drift"]
        assert cli("catchup").exit_code == 0


def test_dry_run_at_a_time_prints_the_plan_and_runs_nothing(sched_home, fake_jobs, cli):
    result = cli("catchup", "--dry-run", "--at", "2026-01-23T07:00", "--json")  # New York wall time
    assert result.exit_code == 0
    plan = json.loads(result.stdout)
    assert [(i["job"], i["scheduled_for"], i["missed"]) for i in plan][:3] == [
        ("ingest", "2026-01-23T03:45:00Z", 1), ("train", "2026-01-18T05:00:00Z", 1),
        ("scan", "2026-01-23T04:30:00Z", 1)]
    assert all({"job", "scheduled_for", "missed", "reason"} <= set(i) for i in plan)
    assert _runs(sched_home) == [] and fake_jobs() == []
    text = cli("catchup", "--dry-run", "--at", "2026-01-23T12:00:00Z").stdout
    assert "1. ingest" in text and "never succeeded" in text


def test_a_clock_moved_backwards_replays_nothing(sched_home, fake_jobs, alerts_spy, cli):
    with time_machine.travel(NOW, tick=False):
        cli("catchup")
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        result = cli("catchup")
    assert result.stdout.strip() == "nothing to catch up"
    assert len(fake_jobs()) == 6


def test_a_second_catchup_while_one_runs_is_skipped(sched_home, fake_jobs, cli, ctx):
    ledger.claim_lock(ctx.connect(), locks.CATCHUP_LOCK, NOW, locks.my_start_time())
    result = cli("catchup")
    assert result.exit_code == 0
    assert "catchup is already running" in result.stdout and "skipped" in result.stdout
    assert fake_jobs() == []


def test_at_without_dry_run_is_a_usage_error(sched_home, cli):
    result = cli("catchup", "--at", "2026-01-23T07:00")
    assert result.exit_code == 2 and "--dry-run" in result.output


def test_a_bad_at_time_is_a_usage_error(sched_home, cli):
    result = cli("catchup", "--dry-run", "--at", "yesterday-ish")
    assert result.exit_code == 2 and "2026-01-23T08:00" in result.output
