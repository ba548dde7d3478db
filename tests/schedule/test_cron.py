"""Cron math in a zone: previous/next fire times, counting, DST days, descriptions."""

import os
from datetime import datetime, timezone

import pytest

from turbomode.clock import iso
from turbomode.errors import BadSchedule
from turbomode.schedule import cron

UTC = timezone.utc
NY = cron.zone("America/New_York")
LONDON = cron.zone("Europe/London")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class TestPreviousFire:
    def test_it_counts_a_fire_exactly_at_now(self):
        # 23:30 New York on Jan 22 is 04:30Z on Jan 23
        assert iso(cron.previous_fire("30 23 * * *", NY, at("2026-01-23T04:30:00Z"))) == "2026-01-23T04:30:00Z"

    def test_it_returns_the_day_before_one_second_early(self):
        assert iso(cron.previous_fire("30 23 * * *", NY, at("2026-01-23T04:29:59Z"))) == "2026-01-22T04:30:00Z"

    def test_it_ignores_microseconds(self):
        now = datetime(2026, 1, 23, 4, 30, 0, 999_999, tzinfo=UTC)
        assert iso(cron.previous_fire("30 23 * * *", NY, now)) == "2026-01-23T04:30:00Z"

    def test_weekly_schedule_goes_back_to_last_sunday(self):
        # Friday Jan 23: the last Sunday 00:00 New York was Jan 18, 05:00Z
        assert iso(cron.previous_fire("0 0 * * 0", NY, at("2026-01-23T12:00:00Z"))) == "2026-01-18T05:00:00Z"

    def test_it_rejects_a_naive_now(self):
        with pytest.raises(ValueError):
            cron.previous_fire("30 23 * * *", NY, datetime(2026, 1, 23))

    @pytest.mark.parametrize("expr", ["61 * * * *", "* * * *", "x 1 * * *", "0 0 30 2 *"])
    def test_it_rejects_bad_expressions_with_a_named_error(self, expr):
        with pytest.raises(BadSchedule, match="turbomode.toml"):
            cron.previous_fire(expr, NY, at("2026-01-23T12:00:00Z"))


class TestDstTransitions:
    def test_new_york_spring_forward_runs_a_skipped_time_at_the_end_of_the_gap(self):
        # 2026-03-08 02:00 EST -> 03:00 EDT; 02:30 does not exist, cron runs it at 03:00 EDT (07:00Z)
        assert iso(cron.previous_fire("30 2 * * *", NY, at("2026-03-08T12:00:00Z"))) == "2026-03-08T07:00:00Z"
        assert iso(cron.next_fire("30 2 * * *", NY, at("2026-03-08T06:00:00Z"))) == "2026-03-08T07:00:00Z"

    def test_new_york_fall_back_runs_a_repeated_time_once(self):
        # 2026-11-01 01:30 happens twice (05:30Z EDT, 06:30Z EST); cron runs only the first
        assert iso(cron.previous_fire("30 1 * * *", NY, at("2026-11-01T06:45:00Z"))) == "2026-11-01T05:30:00Z"
        assert iso(cron.next_fire("30 1 * * *", NY, at("2026-11-01T05:30:00Z"))) == "2026-11-02T06:30:00Z"
        assert cron.count_fires("30 1 * * *", NY, at("2026-10-31T12:00:00Z"), at("2026-11-02T12:00:00Z"), 10) == (2, False)

    def test_london_spring_forward(self):
        # 2026-03-29 01:00 GMT -> 02:00 BST; 01:30 runs at 02:00 BST (01:00Z)
        assert iso(cron.previous_fire("30 1 * * *", LONDON, at("2026-03-29T12:00:00Z"))) == "2026-03-29T01:00:00Z"

    def test_london_fall_back(self):
        # 2026-10-25 02:00 BST -> 01:00 GMT; 01:30 runs once, at 01:30 BST (00:30Z)
        assert iso(cron.previous_fire("30 1 * * *", LONDON, at("2026-10-25T01:45:00Z"))) == "2026-10-25T00:30:00Z"

    def test_a_daily_evening_job_keeps_its_wall_clock_time_across_the_change(self):
        assert iso(cron.previous_fire("30 23 * * *", LONDON, at("2026-03-28T12:00:00Z"))) == "2026-03-27T23:30:00Z"
        assert iso(cron.previous_fire("30 23 * * *", LONDON, at("2026-03-30T12:00:00Z"))) == "2026-03-29T22:30:00Z"


class TestCountFires:
    def test_it_counts_the_half_open_interval(self):
        n = cron.count_fires("30 23 * * *", NY, at("2026-01-18T04:30:00Z"), at("2026-01-23T04:30:00Z"), 100)
        assert n == (5, False)

    def test_it_stops_at_the_cap_and_says_so(self):
        assert cron.count_fires("* * * * *", NY, at("2026-01-01T00:00:00Z"), at("2026-01-23T00:00:00Z"), 100) == (100, True)

    def test_an_empty_interval_counts_nothing(self):
        assert cron.count_fires("* * * * *", NY, at("2026-01-23T00:00:00Z"), at("2026-01-22T00:00:00Z"), 100) == (0, False)


def test_it_describes_schedules_in_words():
    assert cron.describe("30 23 * * *") == "At 23:30 every day"
    assert cron.describe("0 0 * * 0") == "At 00:00 on Sunday"


def test_local_resolves_to_a_real_zone():
    assert cron.zone("local").key == cron.local_zone_name()
    assert cron.zone("local").utcoffset(datetime(2026, 1, 1)) is not None


def test_an_unknown_zone_is_a_named_error():
    with pytest.raises(BadSchedule, match="general.timezone"):
        cron.zone("Mars/Olympus_Mons")


@pytest.mark.skipif(os.name != "posix", reason="Windows has no /etc/localtime (tzlocal reads the registry)")
class TestLinkedLocalZone:
    """The fast path for 'local': read /etc/localtime's link; anything unusual is left to tzlocal."""

    @pytest.fixture
    def etc(self, tmp_path, monkeypatch):
        monkeypatch.delenv("TZ", raising=False)
        zoneinfo = tmp_path / "usr" / "share" / "zoneinfo"
        (zoneinfo / "America").mkdir(parents=True)
        (zoneinfo / "America" / "New_York").write_bytes(b"")
        etc = tmp_path / "etc"
        etc.mkdir()
        return etc

    def link(self, etc, name="America/New_York"):
        (etc / "localtime").symlink_to(etc.parent / "usr" / "share" / "zoneinfo" / name)

    def test_it_reads_the_zone_from_the_link(self, etc):
        self.link(etc)
        assert cron._linked_zone_name(str(etc)) == "America/New_York"

    def test_an_agreeing_etc_timezone_is_fine(self, etc):
        self.link(etc)
        (etc / "timezone").write_text("America/New_York\n")
        assert cron._linked_zone_name(str(etc)) == "America/New_York"

    def test_a_disagreeing_etc_timezone_is_left_to_tzlocal(self, etc):
        self.link(etc)
        (etc / "timezone").write_text("Europe/London\n")
        assert cron._linked_zone_name(str(etc)) is None

    def test_a_copied_localtime_is_left_to_tzlocal(self, etc):
        (etc / "localtime").write_bytes(b"TZif")
        assert cron._linked_zone_name(str(etc)) is None

    def test_tz_in_the_environment_is_left_to_tzlocal(self, etc, monkeypatch):
        self.link(etc)
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        assert cron._linked_zone_name(str(etc)) is None

    def test_a_link_to_no_known_zone_is_left_to_tzlocal(self, etc):
        (etc.parent / "usr" / "share" / "zoneinfo" / "Nowhere").write_bytes(b"")
        self.link(etc, "Nowhere")
        assert cron._linked_zone_name(str(etc)) is None

    def test_on_this_machine_it_agrees_with_tzlocal(self):
        import tzlocal

        fast = cron._linked_zone_name()
        if fast is None:
            pytest.skip("this machine's zone is not a plain /etc/localtime link")
        assert fast == tzlocal.get_localzone_name()
