"""Rendering the schedule: the crontab block, Task Scheduler XML, and the committed examples."""

from __future__ import annotations

import shlex
import sys
import sysconfig
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from turbomode import config
from turbomode.errors import BadSchedule
from turbomode.ops import scheduler_export as se
from turbomode.ops.scheduler_export import DaySpec, Target, TimeSpec

REPO = Path(__file__).resolve().parents[2]
NS = {"t": se.TASK_NS}
TARGET = Target(("/opt/tm venv/bin/turbomode",), "/data/tm 100%/home", "bob")
WIN = Target(("C:\\Program Files\\tm\\turbomode.exe",), "C:\\Users\\Zoë Q\\tm home\\", "PC\\zoe")


def cfg(**overrides) -> config.Config:
    return config.defaults().with_overrides(**overrides)


def block_entries(block: str) -> list[str]:
    return [ln for ln in block.splitlines() if ln and not ln.startswith("#")]


class TestCronBlock:
    def test_it_is_marked_and_ends_with_a_newline(self):
        block = se.render_cron(cfg(), TARGET)
        lines = block.splitlines()
        assert lines[0] == "# BEGIN turbomode" and lines[-1] == "# END turbomode"
        assert block.endswith("# END turbomode\n")

    def test_each_enabled_job_runs_the_absolute_executable_with_the_home_and_a_log(self):
        block = se.render_cron(cfg(), TARGET)
        scan = next(ln for ln in block_entries(block) if " scan " in ln)
        assert scan.startswith("30 23 * * * ")
        command = scan[len("30 23 * * * "):].replace("\\%", "%")
        words = shlex.split(command)
        assert words[:5] == ["TURBOMODE_HOME=/data/tm 100%/home", "/opt/tm venv/bin/turbomode", "scan",
                             "--trigger", "cron"]
        assert words[5:] == [">>", "/data/tm 100%/home/logs/cron.log", "2>&1"]

    def test_every_percent_sign_is_escaped(self):
        block = se.render_cron(cfg(), TARGET)
        for line in block_entries(block):
            assert "%" not in line.replace("\\%", "")

    def test_it_holds_reboot_and_heartbeat_catchup_lines(self):
        entries = block_entries(se.render_cron(cfg(), TARGET))
        catchups = [ln.split(" TURBOMODE_HOME")[0] for ln in entries if ln.split(">>")[0].rstrip().endswith("catchup")]
        assert catchups == ["@reboot", "17 * * * *"]

    @pytest.mark.parametrize("overrides, absent", [
        ({"catchup__heartbeat": ""}, "17 * * * *"),
        ({"catchup__at_reboot": False}, "@reboot"),
    ])
    def test_catchup_lines_follow_the_config(self, overrides, absent):
        entries = block_entries(se.render_cron(cfg(**overrides), TARGET))
        assert not any(ln.startswith(absent) for ln in entries)
        assert len(entries) == 7

    def test_a_disabled_job_has_no_line(self):
        entries = block_entries(se.render_cron(cfg(jobs__train__enabled=False), TARGET))
        assert not any(" train " in ln for ln in entries)
        assert len(entries) == 7

    def test_schedules_come_from_the_config(self):
        entries = block_entries(se.render_cron(cfg(jobs__scan__schedule="15 6 * * 1-5"), TARGET))
        assert any(ln.startswith("15 6 * * 1-5 ") and " scan " in ln for ln in entries)

    def test_cron_tz_appears_only_for_a_configured_zone(self):
        assert "CRON_TZ" not in se.render_cron(cfg(), TARGET)
        entries = block_entries(se.render_cron(cfg(general__timezone="America/New_York"), TARGET))
        assert entries[0] == "CRON_TZ=America/New_York"
        assert se.warnings(cfg(general__timezone="America/New_York"), "cron")
        assert se.warnings(cfg(), "cron") == []

    def test_every_schedule_field_is_valid_cron(self):
        from cronsim import CronSim
        from datetime import datetime

        for line in block_entries(se.render_cron(cfg(), TARGET)):
            if line.startswith(("@", "CRON_TZ=")):
                continue
            CronSim(" ".join(line.split()[:5]), datetime(2026, 1, 1))

    def test_a_path_with_a_line_break_is_refused(self):
        with pytest.raises(se.SchedulerError, match="line break"):
            se.render_cron(cfg(), Target(("/bin/turbomode",), "/tmp/a\nb"))

    @pytest.mark.parametrize("key, expr", [("jobs__maintain__schedule", "0 23 L * *"),
                                           ("jobs__backtest__schedule", "0 9 * * 5#2"),
                                           ("catchup__heartbeat", "0 9 L * *")])
    def test_a_schedule_only_task_scheduler_reads_is_refused_for_cron_naming_it(self, key, expr):
        # cron would reject the whole crontab at install ("bad day-of-month"): say which line, exit 2
        with pytest.raises(BadSchedule, match=key.replace("__", ".")) as info:
            se.render_cron(cfg(**{key: expr}), TARGET)
        assert "Task Scheduler reads but cron does not" in str(info.value) and info.value.exit_code == 2

    def test_a_disabled_job_may_use_what_cron_cannot_read(self):
        se.render_cron(cfg(jobs__maintain__schedule="0 23 L * *", jobs__maintain__enabled=False), TARGET)


class TestWindowsTriggers:
    @pytest.mark.parametrize("expr, expected", [
        ("30 23 * * *", [(TimeSpec(23 * 60 + 30), DaySpec("daily"))]),
        ("0 0 * * 0", [(TimeSpec(0), DaySpec("weekly", days_of_week=(0,)))]),
        ("0 0 * * 7", [(TimeSpec(0), DaySpec("weekly", days_of_week=(0,)))]),
        ("5 23 * * 1-5", [(TimeSpec(23 * 60 + 5), DaySpec("weekly", days_of_week=(1, 2, 3, 4, 5)))]),
        ("17 * * * *", [(TimeSpec(17, every=60, span=23 * 60), DaySpec("daily"))]),
        ("*/15 9-17 * * 1-5", [(TimeSpec(9 * 60, every=15, span=8 * 60 + 45),
                               DaySpec("weekly", days_of_week=(1, 2, 3, 4, 5)))]),
        ("0 */6 * * *", [(TimeSpec(0, every=360, span=18 * 60), DaySpec("daily"))]),
        ("0 9,17 * * *", [(TimeSpec(9 * 60, every=480, span=480), DaySpec("daily"))]),
        ("0 9,12,20 * * *", [(TimeSpec(9 * 60), DaySpec("daily")), (TimeSpec(12 * 60), DaySpec("daily")),
                             (TimeSpec(20 * 60), DaySpec("daily"))]),
        ("0 3 1,15 * *", [(TimeSpec(180), DaySpec("monthly", days_of_month=(1, 15), months=se.ALL_MONTHS))]),
        ("0 3 * 1,7 *", [(TimeSpec(180), DaySpec("monthly", days_of_month=se.ALL_DOM, months=(1, 7)))]),
        ("0 3 * 1 1", [(TimeSpec(180), DaySpec("monthly_dow", days_of_week=(1,), months=(1,)))]),
        # Both day fields restricted: cron runs on either, so two triggers.
        ("0 3 1 * 1", [(TimeSpec(180), DaySpec("monthly", days_of_month=(1,), months=se.ALL_MONTHS)),
                       (TimeSpec(180), DaySpec("weekly", days_of_week=(1,)))]),
        # issue 10 item 14: what the XML can say, said
        ("0 0 L * *", [(TimeSpec(0), DaySpec("monthly", days_of_month=("Last",), months=se.ALL_MONTHS))]),
        ("0 6 1,L * *", [(TimeSpec(360), DaySpec("monthly", days_of_month=(1, "Last"), months=se.ALL_MONTHS))]),
        ("0 9 * * 5#2", [(TimeSpec(540), DaySpec("monthly_dow", days_of_week=(5,), months=se.ALL_MONTHS,
                                                  weeks=("2",)))]),
        ("0 9 * * 5L", [(TimeSpec(540), DaySpec("monthly_dow", days_of_week=(5,), months=se.ALL_MONTHS,
                                                 weeks=("Last",)))]),
        ("0 9 * 3,6 1#1,3#1,5L", [(TimeSpec(540), DaySpec("monthly_dow", days_of_week=(1, 3), months=(3, 6),
                                                           weeks=("1",))),
                                   (TimeSpec(540), DaySpec("monthly_dow", days_of_week=(5,), months=(3, 6),
                                                           weeks=("Last",)))]),
        ("0 9 15 * 1#2", [(TimeSpec(540), DaySpec("monthly", days_of_month=(15,), months=se.ALL_MONTHS)),
                          (TimeSpec(540), DaySpec("monthly_dow", days_of_week=(1,), months=se.ALL_MONTHS,
                                                  weeks=("2",)))]),
        ("*/7 * * * *", [(TimeSpec(m, every=60, span=23 * 60), DaySpec("daily")) for m in range(0, 60, 7)]),
        ("0,10,25 * * * *", [(TimeSpec(m, every=60, span=23 * 60), DaySpec("daily")) for m in (0, 10, 25)]),
        ("*/20 1,2,7 * * *", [(TimeSpec(h * 60, every=20, span=40), DaySpec("daily")) for h in (1, 2, 7)]),
    ])
    def test_it_translates_what_task_scheduler_can_express(self, expr, expected):
        assert se.windows_triggers(expr, "jobs.scan.schedule") == expected

    @pytest.mark.parametrize("expr, why", [
        ("0 0 */2 * 1", "a day of the month and a day of the week that must both match"),
        ("0 0 LW * *", "W, the weekday nearest a day of the month"),
        ("0 0 * * 1#5", "#5, the 5th such weekday, exists only in some months"),
        ("0,1,3 0,1,5-23 * * *", "would need 63 triggers, more than Task Scheduler's 48"),
    ])
    def test_it_refuses_what_task_scheduler_cannot_express_naming_the_job(self, expr, why):
        with pytest.raises(BadSchedule) as info:
            se.windows_triggers(expr, "jobs.scan.schedule")
        assert f"jobs.scan.schedule = '{expr}'" in str(info.value)
        assert why in str(info.value)

    def test_render_refuses_a_job_and_names_it(self):
        with pytest.raises(BadSchedule, match=r"jobs\.drift\.schedule = '0 0 \*/2 \* 1'"):
            se.render_windows(cfg(jobs__drift__schedule="0 0 */2 * 1"), WIN)

    def test_a_disabled_job_with_an_inexpressible_schedule_is_not_rendered(self):
        tasks = se.render_windows(cfg(jobs__drift__schedule="0 0 */2 * 1", jobs__drift__enabled=False), WIN)
        assert "Drift" not in tasks

    def test_an_inexpressible_heartbeat_is_refused(self):
        with pytest.raises(BadSchedule, match="catchup.heartbeat"):
            se.render_windows(cfg(catchup__heartbeat="0,1,3 0,1,5-23 * * *"), WIN)

    def test_the_last_day_and_the_nth_weekday_are_written_as_task_scheduler_reads_them(self):
        root = parse(se.render_windows(cfg(jobs__maintain__schedule="0 23 L * *",
                                           jobs__backtest__schedule="0 9 * * 5#2"), WIN)["Maintain"])
        days = root.find("t:Triggers/t:CalendarTrigger/t:ScheduleByMonth/t:DaysOfMonth", NS)
        assert [d.text for d in days] == ["Last"]
        assert_schema_order(root)
        root = parse(se.render_windows(cfg(jobs__backtest__schedule="0 9 * * 5#2"), WIN)["Backtest"])
        by = root.find("t:Triggers/t:CalendarTrigger/t:ScheduleByMonthDayOfWeek", NS)
        assert [w.text for w in by.find("t:Weeks", NS)] == ["2"]
        assert [local(d.tag) for d in by.find("t:DaysOfWeek", NS)] == ["Friday"]
        assert len(by.find("t:Months", NS)) == 12

    def test_every_seven_minutes_is_nine_hourly_triggers(self):
        root = parse(se.render_windows(cfg(jobs__scan__schedule="*/7 * * * *"), WIN)["Scan"])
        triggers = root.findall("t:Triggers/t:CalendarTrigger", NS)
        assert [t.find("t:StartBoundary", NS).text[11:16] for t in triggers] == \
            ["00:00", "00:07", "00:14", "00:21", "00:28", "00:35", "00:42", "00:49", "00:56"]
        assert {t.find("t:Repetition/t:Interval", NS).text for t in triggers} == {"PT1H"}
        assert {t.find("t:Repetition/t:Duration", NS).text for t in triggers} == {"PT23H1M"}


# The schema's xs:sequence types: children must appear in this order (xs:all types are free).
SEQUENCES = {
    "CalendarTrigger": ["Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit",
                        "RandomDelay", "ScheduleByDay", "ScheduleByWeek", "ScheduleByMonth",
                        "ScheduleByMonthDayOfWeek"],
    "LogonTrigger": ["Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit", "UserId", "Delay"],
    "BootTrigger": ["Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit", "Delay"],
    "Exec": ["Command", "Arguments", "WorkingDirectory"],
    "RestartOnFailure": ["Interval", "Count"],
}


def parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml.decode("utf-16"))


def local(tag: str) -> str:
    return tag.split("}", 1)[1]


def assert_schema_order(root: ET.Element) -> None:
    for el in root.iter():
        order = SEQUENCES.get(local(el.tag))
        if order is None:
            continue
        names = [local(c.tag) for c in el]
        assert all(n in order for n in names), (local(el.tag), names)
        assert names == sorted(names, key=order.index), (local(el.tag), names)


class TestTaskXml:
    def test_it_is_utf16_with_a_bom_and_crlf_and_declares_it(self):
        xml = se.render_windows(cfg(), WIN)["Scan"]
        assert xml.startswith(b"\xff\xfe")
        text = xml.decode("utf-16")
        assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>\r\n')
        assert "\n" not in text.replace("\r\n", "")

    def test_every_task_follows_the_schema_order_and_namespace(self):
        for name, xml in se.render_windows(cfg(jobs__scan__schedule="*/15 9-17 1,15 * 1-5"), WIN).items():
            root = parse(xml)
            assert root.tag == f"{{{se.TASK_NS}}}Task", name
            assert_schema_order(root)

    def test_the_settings_are_the_ones_the_spec_asks_for(self):
        root = parse(se.render_windows(cfg(), WIN)["Train"])
        s = root.find("t:Settings", NS)
        value = {local(c.tag): (c.text or "").strip() for c in s}
        assert value["StartWhenAvailable"] == "true"
        assert value["MultipleInstancesPolicy"] == "IgnoreNew"
        assert value["DisallowStartIfOnBatteries"] == "false"
        assert value["StopIfGoingOnBatteries"] == "false"
        assert value["ExecutionTimeLimit"] == se.TIME_LIMITS["train"] == "PT8H"
        assert s.find("t:RestartOnFailure/t:Interval", NS).text == "PT15M"
        assert s.find("t:RestartOnFailure/t:Count", NS).text == "2"

    def test_the_action_runs_the_executable_with_the_home_quoted(self):
        root = parse(se.render_windows(cfg(), WIN)["Scan"])
        ex = root.find("t:Actions/t:Exec", NS)
        assert ex.find("t:Command", NS).text == "C:\\Program Files\\tm\\turbomode.exe"
        assert ex.find("t:Arguments", NS).text == '--home "C:\\Users\\Zoë Q\\tm home" scan --trigger cron'
        assert ex.find("t:WorkingDirectory", NS).text == "C:\\Users\\Zoë Q\\tm home\\"
        assert root.find("t:RegistrationInfo/t:URI", NS).text == "\\TurboMode\\Scan"

    def test_a_python_fallback_command_keeps_its_module_arguments(self):
        target = Target(("C:\\Python311\\python.exe", "-m", "turbomode"), "C:\\tm")
        ex = parse(se.render_windows(cfg(), target)["Ingest"]).find("t:Actions/t:Exec", NS)
        assert ex.find("t:Command", NS).text == "C:\\Python311\\python.exe"
        assert ex.find("t:Arguments", NS).text == '-m turbomode --home "C:\\tm" ingest --trigger cron'

    def test_a_weekly_job_gets_a_weekly_calendar_trigger(self):
        trig = parse(se.render_windows(cfg(), WIN)["Backtest"]).find("t:Triggers/t:CalendarTrigger", NS)
        assert trig.find("t:StartBoundary", NS).text == "2026-01-01T23:05:00"
        week = trig.find("t:ScheduleByWeek", NS)
        assert [local(d.tag) for d in week.find("t:DaysOfWeek", NS)] == ["Saturday"]
        assert week.find("t:WeeksInterval", NS).text == "1"

    def test_a_configured_zone_gets_its_offset(self):
        xml = se.render_windows(cfg(general__timezone="America/New_York"), WIN)["Scan"]
        assert parse(xml).find("t:Triggers/t:CalendarTrigger/t:StartBoundary", NS).text == "2026-01-01T23:30:00-05:00"
        assert se.warnings(cfg(general__timezone="America/New_York"), "windows")

    def test_catchup_runs_at_logon_at_boot_and_hourly(self):
        root = parse(se.render_windows(cfg(), WIN)["Catchup"])
        triggers = root.find("t:Triggers", NS)
        assert [local(t.tag) for t in triggers] == ["LogonTrigger", "BootTrigger", "CalendarTrigger"]
        logon = triggers.find("t:LogonTrigger", NS)
        assert logon.find("t:UserId", NS).text == "PC\\zoe"
        assert logon.find("t:Delay", NS).text == "PT2M"
        rep = triggers.find("t:CalendarTrigger/t:Repetition", NS)
        assert rep.find("t:Interval", NS).text == "PT1H"
        assert root.find("t:Actions/t:Exec/t:Arguments", NS).text.endswith(" catchup")
        assert root.find("t:RegistrationInfo/t:URI", NS).text == "\\TurboMode\\Catchup"

    def test_catchup_without_boot_keeps_the_logon_trigger(self):
        root = parse(se.catchup_task_xml(cfg(), WIN, boot=False))
        assert [local(t.tag) for t in root.find("t:Triggers", NS)] == ["LogonTrigger", "CalendarTrigger"]

    def test_no_catchup_task_when_both_catchups_are_off(self):
        tasks = se.render_windows(cfg(catchup__at_reboot=False, catchup__heartbeat=""), WIN)
        assert sorted(tasks) == ["Backtest", "Drift", "Ingest", "Maintain", "Scan", "Train"]


class TestExecutable:
    def test_it_is_the_console_script_of_this_environment(self):
        (exe,) = se.find_executable()
        assert Path(exe).is_absolute() and Path(exe).name.startswith("turbomode")
        # beside python in a venv (bin/, Scripts\); a regular Windows install has them in Scripts\
        assert Path(exe).parent in (Path(sys.executable).absolute().parent, Path(sysconfig.get_path("scripts")))

    def test_without_a_console_script_it_runs_the_module_with_this_python(self, tmp_path, monkeypatch):
        fake_python = tmp_path / "bin" / "python"
        fake_python.parent.mkdir()
        fake_python.write_text("")
        monkeypatch.setattr(se.sys, "executable", str(fake_python))
        monkeypatch.setattr(se.sysconfig, "get_path", lambda *a, **k: str(tmp_path / "nowhere"))
        assert se.find_executable() == (str(fake_python), "-m", "turbomode")


class TestExamples:
    def test_the_committed_examples_match_the_default_config(self):
        stale = [rel for rel, data in se.render_examples().items()
                 if not (REPO / rel).is_file() or (REPO / rel).read_bytes() != data]
        assert not stale, ("out of date: " + ", ".join(stale)
                           + "; run `uv run python -m turbomode.ops.scheduler_export --write-examples .`")

    def test_no_stray_task_files_are_committed(self):
        expected = {Path(rel).name for rel in se.render_examples() if rel.startswith("schtasks/")}
        assert {p.name for p in (REPO / "schtasks").iterdir()} == expected

    def test_the_install_script_replaces_every_placeholder_used_in_the_xml(self):
        files = se.render_examples()
        ps1 = files["schtasks/install.ps1"].decode("ascii")
        for placeholder in (se.EXAMPLE_WIN_EXE, se.EXAMPLE_WIN_HOME, se.EXAMPLE_WIN_USER):
            assert f".Replace('{placeholder}'" in ps1
            assert any(placeholder in files[rel].decode("utf-16") for rel in files if rel.endswith(".xml"))
        assert 'schtasks /Create /TN "TurboMode\\$Name" /XML $tmp /F' in ps1

    def test_the_writer_script_regenerates_them(self, tmp_path):
        assert se.main(["--write-examples", str(tmp_path)]) == 0
        assert (tmp_path / "crontab.example").read_bytes() == (REPO / "crontab.example").read_bytes()
        assert (tmp_path / "schtasks" / "Scan.xml").read_bytes() == (REPO / "schtasks" / "Scan.xml").read_bytes()


class TestWindowsExecutable:
    def make_env(self, tmp_path, *names):
        scripts = tmp_path / "Scripts"
        scripts.mkdir()
        for n in ("python.exe", *names):
            (scripts / n).write_text("")
        return scripts

    def test_task_scheduler_gets_the_windowless_launcher(self, tmp_path, monkeypatch):
        scripts = self.make_env(tmp_path, "turbomode.exe", "turbomodew.exe")
        monkeypatch.setattr(se.sys, "executable", str(scripts / "python.exe"))
        assert se.find_executable("windows") == (str(scripts / "turbomodew.exe"),)

    def test_without_it_the_console_launcher(self, tmp_path, monkeypatch):
        scripts = self.make_env(tmp_path, "turbomode.exe")
        monkeypatch.setattr(se.sys, "executable", str(scripts / "python.exe"))
        assert se.find_executable("windows") == (str(scripts / "turbomode.exe"),)

    def test_without_launchers_pythonw_runs_the_module(self, tmp_path, monkeypatch):
        scripts = self.make_env(tmp_path, "pythonw.exe")
        monkeypatch.setattr(se.sys, "executable", str(scripts / "python.exe"))
        monkeypatch.setattr(se.sysconfig, "get_path", lambda *a, **k: str(tmp_path / "nowhere"))
        assert se.find_executable("windows") == (str(scripts / "pythonw.exe"), "-m", "turbomode")


def test_the_windowless_entry_point_survives_missing_stdout_and_stderr(monkeypatch, tmp_path):
    from turbomode.cli import main as cli_main

    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(sys, "argv", ["turbomodew", "--home", str(tmp_path / "h"), "schedule", "show"])
    with pytest.raises(SystemExit) as info:
        cli_main.main_windowless()
    assert info.value.code == 0
