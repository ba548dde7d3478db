"""The catch-up planner: pure functions of (schedules, enabled flags, ledger facts, now).

A job is *missed* when the most recent scheduled time at or before now is later than its last
success; a job that never succeeded is missed. A last success in the future (the clock moved
backwards) is later than every past scheduled time, so it causes no replay. Missed jobs are replayed
once each, upstream first (``jobs.ORDER``), whatever the number of missed times, which is counted up
to ``MISSED_CAP`` and said.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Mapping, NamedTuple
from zoneinfo import ZoneInfo

from turbomode.clock import iso
from turbomode.jobs import JOBS, ORDER
from turbomode.schedule import cron

# Counting stops here: "missed 100+ times" says enough, and a per-minute schedule left alone for a
# year would otherwise cost half a million cron steps.
MISSED_CAP = 100
# Windows starts a missed task up to 10 minutes after the machine wakes (StartWhenAvailable);
# a job is reported overdue only after this grace, or status would cry wolf at 23:30:01.
OVERDUE_GRACE = timedelta(minutes=10)


class JobState(NamedTuple):
    """One job's schedule position at ``now``."""

    job: str
    schedule: str
    enabled: bool
    scheduled_for: datetime | None  # most recent scheduled time at or before now (UTC)
    next_run: datetime | None
    last_success: datetime | None
    missed: int  # scheduled times since the last success (0 = up to date); capped at MISSED_CAP
    missed_capped: bool
    reason: str
    clock_moved_back: bool = False

    @property
    def is_missed(self) -> bool:
        return self.missed > 0


class PlanItem(NamedTuple):
    job: str
    scheduled_for: datetime
    missed: int
    missed_capped: bool
    reason: str
    after: tuple[str, ...] = ()  # upstream jobs earlier in the same plan

    def as_json(self) -> dict:
        return {"job": self.job, "scheduled_for": iso(self.scheduled_for), "missed": self.missed,
                "missed_capped": self.missed_capped, "reason": self.reason, "after": list(self.after)}


class Facts(NamedTuple):
    """What the prerequisites depend on, read from the database by store.state."""

    latest_bar: str | None = None  # YYYY-MM-DD
    last_session: str | None = None  # last completed NYSE session, YYYY-MM-DD (None = unknown)
    champion_exists: bool = False
    states: Mapping[str, JobState] = MappingProxyType({})
    # no champion, but a newer version whose every sector stayed a challenger (train refused them)
    challenger_exists: bool = False

    @property
    def prices_fresh(self) -> bool:
        if self.latest_bar is None:
            return False
        return self.last_session is None or self.latest_bar >= self.last_session


def missed_word(n: int, capped: bool) -> str:
    times = "time" if n == 1 else "times"
    return f"{n}+ {times}" if capped else f"{n} {times}"


def job_state(job: str, expr: str, tz: ZoneInfo, enabled: bool, last_success: datetime | None,
              now: datetime) -> JobState:
    """Where ``job`` stands against its schedule at ``now``."""
    prev = cron.previous_fire(expr, tz, now)
    nxt = cron.next_fire(expr, tz, now)
    base = dict(job=job, schedule=expr, enabled=enabled, scheduled_for=prev, next_run=nxt,
                last_success=last_success)
    if not enabled:
        return JobState(**base, missed=0, missed_capped=False, reason="disabled in the config")
    if last_success is not None and last_success > now:
        return JobState(**base, missed=0, missed_capped=False, clock_moved_back=True,
                        reason=f"last success {iso(last_success)} is in the future (the clock moved "
                               "back); not replayed")
    if prev is None:
        return JobState(**base, missed=0, missed_capped=False, reason="no scheduled time yet")
    if last_success is None:
        return JobState(**base, missed=1, missed_capped=False, reason="never succeeded")
    if prev <= last_success:
        return JobState(**base, missed=0, missed_capped=False, reason="up to date")
    n, capped = cron.count_fires(expr, tz, last_success, now, MISSED_CAP)
    n = max(n, 1)
    return JobState(**base, missed=n, missed_capped=capped,
                    reason=f"missed {missed_word(n, capped)} since the last success at {iso(last_success)}")


def states(schedules: dict[str, str], enabled: dict[str, bool], tz: ZoneInfo,
           last_success: dict[str, datetime | None], now: datetime) -> dict[str, JobState]:
    """job_state for every registered job, in dependency order."""
    return {j: job_state(j, schedules[j], tz, enabled.get(j, True), last_success.get(j), now)
            for j in ORDER if j in schedules}


def plan(job_states: dict[str, JobState]) -> list[PlanItem]:
    """The missed jobs, upstream first, each once."""
    items: list[PlanItem] = []
    planned: set[str] = set()
    for job in ORDER:
        st = job_states.get(job)
        if st is None or not st.is_missed or st.scheduled_for is None:
            continue
        after = tuple(u for u in upstream_of(job) if u in planned)
        reason = st.reason + (f"; runs after {', '.join(after)}" if after else "")
        items.append(PlanItem(job, st.scheduled_for, st.missed, st.missed_capped, reason, after))
        planned.add(job)
    return items


def upstream_of(job: str) -> tuple[str, ...]:
    """Every job ``job`` needs, directly or through another, in dependency order."""
    seen: set[str] = set()
    stack = list(JOBS[job].needs)
    while stack:
        u = stack.pop()
        if u not in seen:
            seen.add(u)
            stack.extend(JOBS[u].needs)
    return tuple(j for j in ORDER if j in seen)


def stale_prerequisites(job: str, facts: Facts) -> list[tuple[str, str]]:
    """The direct prerequisites of ``job`` that must run first, each with why.

    scan needs prices that reach the last completed session and a champion model (train only when
    none exists, and not again in the period of a train whose versions all stayed challengers); train and backtest need fresh prices; drift needs the latest scheduled scan.
    """
    out: list[tuple[str, str]] = []
    for up in JOBS[job].needs:
        why = _stale(up, facts)
        if why:
            out.append((up, why))
    return out


def _stale(upstream: str, facts: Facts) -> str | None:
    if upstream == "ingest":
        if facts.latest_bar is None:
            return "no prices stored yet"
        if not facts.prices_fresh:
            return f"prices end {facts.latest_bar}; the last completed session is {facts.last_session}"
        return None
    if upstream == "train":
        if facts.champion_exists:
            return None
        st = facts.states.get("train")
        if facts.challenger_exists and st is not None and st.last_success is not None and not st.is_missed:
            # train ran this period and refused its own versions: training again on the same data gives
            # the same answer (a scan every night would retrain every night); scan says why and what to do
            return None
        return "no champion model yet"
    st = facts.states.get(upstream)
    if st is None:
        return None
    if st.last_success is None:
        return f"{upstream} never succeeded"
    if st.is_missed:
        return f"{upstream} {st.reason}"
    return None


def blocked_by(job: str, failed: dict[str, str], facts: Facts) -> tuple[str, str] | None:
    """(upstream, why) when a stale prerequisite of ``job`` failed or was blocked in this plan."""
    for up, why in stale_prerequisites(job, facts):
        if up in failed:
            return up, f"{up} {failed[up]} and {why}"
    return None


def overdue(st: JobState, now: datetime, running: bool) -> bool:
    """Missed, not running now, and past the grace after the scheduled time."""
    return (st.is_missed and not running and st.scheduled_for is not None
            and now - st.scheduled_for > OVERDUE_GRACE)
