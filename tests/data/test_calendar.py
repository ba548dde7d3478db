from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from turbomode.data import calendar

UTC = timezone.utc


@pytest.mark.parametrize("now, expected", [
    (datetime(2026, 1, 23, 12, 0, tzinfo=UTC), date(2026, 1, 22)),  # Friday morning in New York
    (datetime(2026, 1, 23, 21, 0, tzinfo=UTC), date(2026, 1, 23)),  # at the close
    (datetime(2026, 1, 20, 12, 0, tzinfo=UTC), date(2026, 1, 16)),  # Tuesday after Martin Luther King Day
    (datetime(2025, 11, 28, 18, 30, tzinfo=UTC), date(2025, 11, 28)),  # day after Thanksgiving: 13:00 close
    (datetime(2025, 11, 28, 17, 59, tzinfo=UTC), date(2025, 11, 26)),
])
def test_last_completed_session_follows_the_nyse_calendar(now, expected):
    assert calendar.last_completed_session(now) == expected


def test_sessions_carry_utc_open_and_close_and_skip_holidays():
    s = calendar.sessions(date(2025, 12, 24), date(2025, 12, 26))
    assert [d for d, _, _ in s] == [date(2025, 12, 24), date(2025, 12, 26)]
    d, o, c = s[0]
    assert o == datetime(2025, 12, 24, 14, 30, tzinfo=UTC) and c == datetime(2025, 12, 24, 18, 0, tzinfo=UTC)
