"""Which cron schedules Windows Task Scheduler can express, as calendar triggers (pure functions).

``windows_triggers(expr, where)`` turns a five-field cron expression into (TimeSpec, DaySpec) pairs,
one per ``CalendarTrigger`` that ``scheduler_export`` writes, or raises BadSchedule with the true
reason. Split from scheduler_export, which renders the XML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from turbomode.errors import BadSchedule

# Task Scheduler accepts at most 48 triggers per task.
MAX_TRIGGERS = 48


@dataclass(frozen=True)
class TimeSpec:
    """A daily start time (minutes after midnight), optionally repeated every ``every`` minutes."""

    start: int
    every: int = 0
    span: int = 0  # minutes from the first to the last repetition


@dataclass(frozen=True)
class DaySpec:
    """Which days: 'daily', 'weekly' (days_of_week), 'monthly' (days_of_month, months) or
    'monthly_dow' (days_of_week in the given weeks of the given months)."""

    kind: str
    days_of_week: tuple[int, ...] = ()  # 0 = Sunday
    days_of_month: tuple[int | str, ...] = ()  # 1..31 and "Last"
    months: tuple[int, ...] = ()
    weeks: tuple[str, ...] = ("1", "2", "3", "4", "Last")  # monthly_dow: which weeks of the month


ALL_DOW = tuple(range(7))
ALL_DOM = tuple(range(1, 32))
ALL_MONTHS = tuple(range(1, 13))
ALL_WEEKS = ("1", "2", "3", "4", "Last")


def _refuse(where: str, expr: str, why: str) -> BadSchedule:
    return BadSchedule(f"{where} = '{expr}' cannot be expressed in Windows Task Scheduler ({why}); "
                       "choose a schedule without it (`turbomode schedule show` checks one)")


def _days_of_month(days, where: str, expr: str) -> tuple[int | str, ...]:
    from cronsim import CronSim

    if CronSim.LAST_WEEKDAY in days:
        raise _refuse(where, expr, "W, the weekday nearest a day of the month, has no Task Scheduler equivalent")
    return tuple(sorted(d for d in days if d != CronSim.LAST)) + (("Last",) if CronSim.LAST in days else ())


def _dow_specs(weekdays, months: tuple[int, ...], where: str, expr: str) -> list[DaySpec]:
    """Day-of-week terms as triggers: every week (weekly), or some weeks of the month (5#2 is the
    second Friday, 5L the last one) as monthly day-of-week triggers, one per set of weeks."""
    from cronsim import CronSim

    weeks_of: dict[int, set[str]] = {}
    for item in weekdays:
        if isinstance(item, int):
            weeks_of.setdefault(item % 7, set()).update(ALL_WEEKS)  # cron's 7 is Sunday too
            continue
        day, nth = item
        if nth == CronSim.LAST:
            weeks_of.setdefault(day % 7, set()).add("Last")
        elif 1 <= nth <= 4:
            weeks_of.setdefault(day % 7, set()).add(str(nth))
        else:
            raise _refuse(where, expr, f"#{nth}, the {nth}th such weekday, exists only in some months and Task "
                                       "Scheduler's 'Last' week is not the same day")
    by_weeks: dict[tuple[str, ...], list[int]] = {}
    for day, weeks in sorted(weeks_of.items()):
        by_weeks.setdefault(tuple(w for w in ALL_WEEKS if w in weeks), []).append(day)
    out = []
    for weeks, days in by_weeks.items():
        if weeks == ALL_WEEKS and months == ALL_MONTHS:
            out.append(DaySpec("weekly", days_of_week=tuple(days)))
        else:
            out.append(DaySpec("monthly_dow", days_of_week=tuple(days), months=months, weeks=weeks))
    return out


def _even(values: list[int]) -> int | None:
    """The common step of sorted ``values`` (0 for a single value), or None when uneven."""
    steps = {b - a for a, b in zip(values, values[1:])}
    return 0 if not steps else (steps.pop() if len(steps) == 1 else None)


def _time_specs(minutes: list[int], hours: list[int]) -> list[TimeSpec]:
    """The fewest triggers for the times of day minutes x hours: one repeating trigger when all the
    times are evenly spaced; else one per minute repeating every few hours, or one per hour
    repeating every few minutes, when that grid is even; else one per time."""
    times = sorted(60 * h + m for h in hours for m in minutes)
    step = _even(times)
    if step is not None:
        return [TimeSpec(times[0], every=step, span=times[-1] - times[0])] if step else [TimeSpec(times[0])]
    options = [[TimeSpec(t) for t in times]]
    hour_step, minute_step = _even(hours), _even(minutes)
    if hour_step is not None:  # */7 * * * *: a trigger at each of 9 minutes, repeating hourly
        options.append([TimeSpec(60 * hours[0] + m, every=60 * hour_step, span=60 * (hours[-1] - hours[0]))
                        if hour_step else TimeSpec(60 * hours[0] + m) for m in minutes])
    if minute_step is not None:
        options.append([TimeSpec(60 * h + minutes[0], every=minute_step, span=minutes[-1] - minutes[0])
                        if minute_step else TimeSpec(60 * h + minutes[0]) for h in hours])
    return min(options, key=len)


def windows_triggers(expr: str, where: str) -> list[tuple[TimeSpec, DaySpec]]:
    """Translate a cron expression into Task Scheduler calendar triggers, or refuse it.

    Supported: any times of day that fit in 48 triggers (evenly spaced times are one repeating
    trigger; a grid such as */7 * is one trigger per minute repeating hourly); every day, some days
    of the week, some days of the month including the last (L), some months, the nth or last
    weekday of the month (5#2, 5L); when both day fields are restricted, cron runs on either, which
    is one trigger for each. Refused, with the reason: W (nearest weekday), #5, a day of the month
    AND a day of the week that must both match (``*/2 * 1``), and more than 48 triggers.
    """
    from cronsim import CronSim, CronSimError

    try:
        sim = CronSim(expr, datetime(2026, 1, 1))
    except CronSimError as exc:
        raise BadSchedule(f"{where} = '{expr}' is not a valid cron expression ({exc})") from None
    if expr.strip().startswith("@") or len(expr.split()) != 5:
        raise _refuse(where, expr, "only five-field expressions are supported")
    months = tuple(sorted(sim.months))
    days_of_month = _days_of_month(sim.days, where, expr)
    full_dom = days_of_month == ALL_DOM
    full_dow = all(isinstance(d, int) for d in sim.weekdays) and tuple(sorted({d % 7 for d in sim.weekdays})) == ALL_DOW

    day_specs: list[DaySpec]
    if sim.day_and:  # Debian cron: a field starting with '*' means both fields must match
        if not full_dom and not full_dow:
            raise _refuse(where, expr, "a day of the month and a day of the week that must both match have no "
                                       "Task Scheduler equivalent")
        if not full_dom:
            day_specs = [DaySpec("monthly", days_of_month=days_of_month, months=months)]
        elif not full_dow:
            day_specs = _dow_specs(sim.weekdays, months, where, expr)
        else:
            day_specs = ([DaySpec("daily")] if months == ALL_MONTHS
                         else [DaySpec("monthly", days_of_month=ALL_DOM, months=months)])
    else:  # both restricted: cron runs when either matches, so a trigger for each
        day_specs = [DaySpec("monthly", days_of_month=days_of_month, months=months),
                     *_dow_specs(sim.weekdays, months, where, expr)]

    time_specs = _time_specs(sorted(sim.minutes), sorted(sim.hours))
    count = len(time_specs) * len(day_specs)
    if count > MAX_TRIGGERS:
        raise _refuse(where, expr, f"its times of day and days would need {count} triggers, more than Task "
                      f"Scheduler's {MAX_TRIGGERS}")
    return [(t, d) for d in day_specs for t in time_specs]
