"""The catch-up planner as tables: fixed NOW, ledger facts in, plan out."""

from datetime import datetime

import pytest

from tests.conftest import NOW
from turbomode.clock import iso
from turbomode.config import DEFAULT_SCHEDULES
from turbomode.schedule import cron, planner

NY = cron.zone("America/New_York")
LONDON = cron.zone("Europe/London")
ALL_ON = {j: True for j in DEFAULT_SCHEDULES}
# NOW = Fri 2026-01-23 12:00Z = 07:00 New York. Most recent scheduled times before it (New York):
# ingest Thu 22:45 = 03:45Z Jan 23, scan Thu 23:30 = 04:30Z Jan 23, train Sun 00:00 = 05:00Z Jan 18.


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    "name, last_success, missed, capped, reason",
    [
        ("up to date", "2026-01-23T04:30:05Z", 0, False, "up to date"),
        ("missed once", "2026-01-22T04:30:05Z", 1, False, "missed 1 time since"),
        ("missed many times", "2026-01-18T04:30:05Z", 5, False, "missed 5 times since"),
        ("never ran", None, 1, False, "never succeeded"),
        ("ran by hand after the scheduled time", "2026-01-23T06:00:00Z", 0, False, "up to date"),
        ("ran by hand before the scheduled time", "2026-01-23T03:00:00Z", 1, False, "missed 1 time"),
        ("ran exactly at the scheduled time", "2026-01-23T04:30:00Z", 0, False, "up to date"),
        ("clock moved backwards", "2026-01-25T04:30:05Z", 0, False, "clock moved back"),
        ("missed for a year", "2025-01-01T00:00:00Z", 100, True, "missed 100+ times"),
    ],
)
def test_scan_missed_table(name, last_success, missed, capped, reason):
    st = planner.job_state("scan", "30 23 * * *", NY, True, at(last_success) if last_success else None, NOW)
    assert (st.missed, st.missed_capped) == (missed, capped), name
    assert reason in st.reason
    assert iso(st.scheduled_for) == "2026-01-23T04:30:00Z"


def test_a_clock_that_moved_backwards_plans_no_replay():
    future = at("2026-02-01T00:00:00Z")
    states = planner.states(DEFAULT_SCHEDULES, ALL_ON, NY, {j: future for j in DEFAULT_SCHEDULES}, NOW)
    assert planner.plan(states) == []
    assert all(s.clock_moved_back for s in states.values())


def test_a_disabled_job_is_never_missed_or_planned():
    states = planner.states(DEFAULT_SCHEDULES, {**ALL_ON, "train": False}, NY, {}, NOW)
    assert states["train"].missed == 0 and "disabled" in states["train"].reason
    assert "train" not in [i.job for i in planner.plan(states)]


def test_never_ran_plans_every_job_once_in_dependency_order():
    items = planner.plan(planner.states(DEFAULT_SCHEDULES, ALL_ON, NY, {}, NOW))
    assert [i.job for i in items] == ["ingest", "train", "scan", "backtest", "drift", "maintain"]
    assert all(i.missed == 1 for i in items)


def test_upstream_missed_too_runs_first_and_is_named():
    ok = at("2026-01-23T06:00:00Z")
    last = {j: ok for j in DEFAULT_SCHEDULES}
    last["ingest"] = at("2026-01-21T03:45:10Z")
    last["scan"] = at("2026-01-21T04:30:10Z")
    items = planner.plan(planner.states(DEFAULT_SCHEDULES, ALL_ON, NY, last, NOW))
    assert [(i.job, i.missed, iso(i.scheduled_for)) for i in items] == [
        ("ingest", 2, "2026-01-23T03:45:00Z"), ("scan", 2, "2026-01-23T04:30:00Z")]
    assert items[1].after == ("ingest",)
    assert "runs after ingest" in items[1].reason


def test_only_the_missed_job_is_planned():
    ok = at("2026-01-23T06:00:00Z")
    last = {j: ok for j in DEFAULT_SCHEDULES}
    last["backtest"] = at("2026-01-11T04:06:00Z")  # Sat Jan 10 23:06 New York
    items = planner.plan(planner.states(DEFAULT_SCHEDULES, ALL_ON, NY, last, NOW))
    assert [(i.job, i.missed) for i in items] == [("backtest", 1)]


STALE = planner.Facts(latest_bar="2026-01-21", last_session="2026-01-22", champion_exists=True)
FRESH = planner.Facts(latest_bar="2026-01-22", last_session="2026-01-22", champion_exists=True)


@pytest.mark.parametrize(
    "job, failed, facts, blocked_by",
    [
        ("scan", {"ingest": "failed (run 3)"}, STALE, "ingest"),
        ("train", {"ingest": "failed (run 3)"}, STALE, "ingest"),
        ("backtest", {"ingest": "failed (run 3)"}, STALE, "ingest"),
        ("maintain", {"ingest": "failed (run 3)"}, STALE, None),
        # the failed upstream did not matter: its output is fresh anyway
        ("scan", {"ingest": "failed (run 3)"}, FRESH, None),
        # train is a prerequisite of scan only while no champion exists
        ("scan", {"train": "failed (run 4)"}, FRESH, None),
        ("scan", {"train": "failed (run 4)"}, planner.Facts("2026-01-22", "2026-01-22", False), "train"),
        ("drift", {}, FRESH, None),
    ],
)
def test_upstream_failed_blocks_only_its_dependants(job, failed, facts, blocked_by):
    got = planner.blocked_by(job, failed, facts)
    assert (got[0] if got else None) == blocked_by
    if got:
        assert failed[blocked_by] in got[1]


def test_drift_is_blocked_when_the_scan_it_needs_failed():
    states = planner.states(DEFAULT_SCHEDULES, ALL_ON, NY, {}, NOW)
    facts = planner.Facts("2026-01-22", "2026-01-22", True, states)
    assert planner.blocked_by("drift", {"scan": "was blocked (run 9)"}, facts)[0] == "scan"


def test_stale_prerequisites_say_why():
    assert planner.stale_prerequisites("scan", STALE) == [
        ("ingest", "prices end 2026-01-21; the last completed session is 2026-01-22")]
    assert planner.stale_prerequisites("scan", planner.Facts(None, "2026-01-22", False)) == [
        ("ingest", "no prices stored yet"), ("train", "no champion model yet")]
    assert planner.stale_prerequisites("maintain", STALE) == []


def test_a_train_that_refused_all_its_versions_is_not_rerun_by_every_scan_until_its_next_period():
    last = {j: at("2026-01-23T05:00:00Z") for j in DEFAULT_SCHEDULES}
    states = planner.states(DEFAULT_SCHEDULES, ALL_ON, NY, last, NOW)
    refused = planner.Facts("2026-01-22", "2026-01-22", False, states, challenger_exists=True)
    assert planner.stale_prerequisites("scan", refused) == []
    # never trained, or no version at all: train first
    assert planner.stale_prerequisites("scan", refused._replace(challenger_exists=False)) == [
        ("train", "no champion model yet")]
    never = planner.states(DEFAULT_SCHEDULES, ALL_ON, NY, {**last, "train": None}, NOW)
    assert planner.stale_prerequisites("scan", refused._replace(states=never)) == [("train", "no champion model yet")]
    # its next scheduled time came: a new period, new data, train again
    week_ago = planner.states(DEFAULT_SCHEDULES, ALL_ON, NY, {**last, "train": at("2026-01-10T05:00:00Z")}, NOW)
    assert planner.stale_prerequisites("scan", refused._replace(states=week_ago)) == [("train", "no champion model yet")]


@pytest.mark.parametrize(
    "tz, expr, last_success, now, missed, scheduled_for",
    [
        # New York spring forward (Mar 8): 02:30 does not exist and runs at 03:00 EDT = 07:00Z
        (NY, "30 2 * * *", "2026-03-07T07:30:05Z", "2026-03-08T12:00:00Z", 1, "2026-03-08T07:00:00Z"),
        (NY, "30 2 * * *", "2026-03-08T07:00:05Z", "2026-03-08T12:00:00Z", 0, "2026-03-08T07:00:00Z"),
        # New York fall back (Nov 1): 01:30 happens twice but is scheduled once; the second is no miss
        (NY, "30 1 * * *", "2026-11-01T05:30:05Z", "2026-11-01T06:45:00Z", 0, "2026-11-01T05:30:00Z"),
        (NY, "30 1 * * *", "2026-10-31T05:30:05Z", "2026-11-01T06:45:00Z", 1, "2026-11-01T05:30:00Z"),
        # the evening scan across the New York change: Sat 23:30 EST and Sun 23:30 EDT both missed
        (NY, "30 23 * * *", "2026-03-07T04:30:05Z", "2026-03-09T12:00:00Z", 2, "2026-03-09T03:30:00Z"),
        # London spring forward (Mar 29): 01:30 runs at 02:00 BST = 01:00Z
        (LONDON, "30 1 * * *", "2026-03-28T01:30:05Z", "2026-03-29T12:00:00Z", 1, "2026-03-29T01:00:00Z"),
        # London fall back (Oct 25): 01:30 BST (00:30Z) once; 01:30 GMT (01:30Z) is not another run
        (LONDON, "30 1 * * *", "2026-10-25T00:30:05Z", "2026-10-25T02:00:00Z", 0, "2026-10-25T00:30:00Z"),
        (LONDON, "30 23 * * *", "2026-03-27T23:30:05Z", "2026-03-30T12:00:00Z", 2, "2026-03-29T22:30:00Z"),
    ],
)
def test_dst_days(tz, expr, last_success, now, missed, scheduled_for):
    st = planner.job_state("x", expr, tz, True, at(last_success), at(now))
    assert st.missed == missed
    assert iso(st.scheduled_for) == scheduled_for


def test_overdue_waits_for_the_grace_and_not_while_running():
    st = planner.job_state("scan", "30 23 * * *", NY, True, None, at("2026-01-23T04:35:00Z"))
    assert not planner.overdue(st, at("2026-01-23T04:35:00Z"), running=False)
    assert planner.overdue(st, at("2026-01-23T04:41:00Z"), running=False)
    assert not planner.overdue(st, at("2026-01-23T04:41:00Z"), running=True)
