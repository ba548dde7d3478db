"""Cron math in the configured zone: previous and next fire times, counts, plain-words descriptions.

cronsim does the calendar work with Debian cron's semantics, including daylight saving: a fixed-time
job in a skipped hour fires once at the end of the gap, and one in a repeated hour fires once (the
first occurrence). We only translate between the stored UTC instants and the schedule's zone.
Nothing here reads the clock: ``now`` is always an argument.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from turbomode.errors import BadSchedule

UTC = timezone.utc
SECOND = timedelta(seconds=1)


@functools.lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    """The IANA zone for a config value: 'local' is this machine's zone (tzlocal, all platforms)."""
    if name == "local":
        name = local_zone_name()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadSchedule(f"unknown time zone {name!r}; set general.timezone to an IANA name such as "
                          "'America/New_York'") from None


def local_zone_name() -> str:
    """This machine's IANA zone name ('UTC' when the platform does not say)."""
    name = _linked_zone_name()
    if name:
        return name
    try:
        import tzlocal

        name = tzlocal.get_localzone_name()
    except Exception:  # an unconfigured machine: tzlocal raises or warns; UTC is the honest guess
        name = None
    return name or "UTC"


def _linked_zone_name(etc: str = "/etc") -> str | None:
    """The common Linux/macOS case read directly: no TZ variable, ``localtime`` in ``etc`` a link into a
    zoneinfo folder, and ``timezone`` there (if any) naming the same zone. None otherwise.

    tzlocal gives the same answer there, but importing it and its probing of ZoneInfo keys cost
    ~11 ms, a quarter of the start-up budget of `status` and `catchup` (SPEC §11); every other
    case (TZ set, Windows, a copied localtime, disagreeing files) is left to it.
    """
    if os.name == "posix" and not os.environ.get("TZ"):
        try:
            target = os.readlink(os.path.join(etc, "localtime"))
        except OSError:  # missing, or a copy rather than a link
            return None
        _, sep, name = os.path.realpath(os.path.join(etc, target)).partition("/zoneinfo/")
        if not sep or not name:
            return None
        try:
            with open(os.path.join(etc, "timezone"), "rb") as fh:
                stated = fh.read().decode("ascii").strip()
        except (OSError, UnicodeDecodeError):
            stated = None
        if stated and stated != name:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
        return name
    return None


def _sim(expr: str, start: datetime, reverse: bool = False) -> CronSim:
    try:
        return CronSim(expr, start, reverse=reverse)
    except CronSimError as exc:
        raise BadSchedule(f"cron expression {expr!r} is invalid ({exc}); fix it in turbomode.toml") from None


def _local(now: datetime, tz: ZoneInfo) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime; pass an aware one")
    return now.astimezone(tz)


def previous_fire(expr: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before ``now`` (UTC), or None if none in 50 years."""
    # cronsim's reverse iteration yields times strictly before its start; start one second later so
    # that a run exactly at the scheduled second counts as "at or before".
    start = _local(now, tz).replace(microsecond=0) + SECOND
    try:
        return next(_sim(expr, start, reverse=True)).astimezone(UTC)
    except StopIteration:
        return None


def next_fire(expr: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The first scheduled time strictly after ``now`` (UTC), or None if none in 50 years."""
    try:
        return next(_sim(expr, _local(now, tz).replace(microsecond=0))).astimezone(UTC)
    except StopIteration:
        return None


def count_fires(expr: str, tz: ZoneInfo, after: datetime, until: datetime, cap: int) -> tuple[int, bool]:
    """How many scheduled times fall in (after, until], counted up to ``cap``; (count, capped)."""
    if until <= after:
        return 0, False
    count = 0
    for fire in _sim(expr, _local(after, tz).replace(microsecond=0)):
        if fire.astimezone(UTC) > until:
            return count, False
        count += 1
        if count >= cap:
            return count, True
    return count, False


def describe(expr: str) -> str:
    """The schedule in plain words, e.g. 'At 23:30 every day', 'At 00:00 on Sunday'."""
    try:
        return _sim(expr, datetime(2026, 1, 1)).explain()
    except Exception:  # explain() is best effort; the expression itself is shown beside it
        return expr
