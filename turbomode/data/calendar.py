"""The NYSE trading calendar (exchange_calendars ``XNYS``), imported lazily.

``sessions`` gives each session's date and its open/close in UTC; ``last_completed_session`` is the
latest session whose close is at or before ``now`` (early closes included). Ingest copies the
sessions into the ``market_sessions`` table so ``status`` can judge freshness with the stdlib.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone

CALENDAR = "XNYS"


@functools.lru_cache(maxsize=4)
def _calendar(start: date, end: date):
    import warnings

    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecation notices from the library's internals
        return xcals.get_calendar(CALENDAR, start=start.isoformat(), end=end.isoformat())


def sessions(start: date, end: date) -> list[tuple[date, datetime, datetime]]:
    """(session date, open UTC, close UTC) for every NYSE session from ``start`` to ``end``."""
    if end < start:
        return []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = _calendar(start, end).schedule
    out = []
    for day, o, c in zip(sched.index, sched["open"], sched["close"]):
        out.append((day.date(), o.to_pydatetime().astimezone(timezone.utc),
                    c.to_pydatetime().astimezone(timezone.utc)))
    return out


def last_completed_session(now: datetime) -> date:
    """The latest NYSE session whose close is at or before ``now``."""
    if now.tzinfo is None:
        raise ValueError("naive datetime; pass an aware one")
    today = now.astimezone(timezone.utc).date()
    # a window that always holds a completed session (the longest NYSE closure is a few days)
    for s in reversed(sessions(today - timedelta(days=20), today + timedelta(days=1))):
        if s[2] <= now:
            return s[0]
    raise ValueError(f"no completed NYSE session in the 20 days before {now.isoformat()}")


def session_dates(start: date, end: date) -> list[date]:
    return [s[0] for s in sessions(start, end)]
