"""Installing the schedule: a fake `crontab` on PATH, a captured `schtasks`, and the real CLI."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from turbomode import config
from turbomode.errors import SchedulerError
from turbomode.ops import scheduler_export as se
from turbomode.ops import scheduler_install as si
from turbomode.ops.scheduler_export import Target

# an absolute path on this platform (a drive on Windows) to nothing
MISSING_EXE = str(Path(Path.cwd().anchor, "no", "such", "turbomode"))

FAKE_CRONTAB = """#!/bin/sh
# A stand-in for crontab(1): the table lives in $FAKE_CRONTAB_DIR/table; every call is logged.
dir="$FAKE_CRONTAB_DIR"
echo "$*" >> "$dir/calls"
case "$1" in
  -l) if [ -f "$dir/table" ]; then cat "$dir/table"; else echo "no crontab for $(id -un)" >&2; exit 1; fi ;;
  -r) if [ -f "$dir/table" ]; then rm "$dir/table"; else echo "no crontab for $(id -un)" >&2; exit 1; fi ;;
  -) cat > "$dir/stdin"; cp "$dir/stdin" "$dir/table" ;;
  *) echo "usage: crontab [-l|-r|-]" >&2; exit 1 ;;
esac
"""

USER_LINES = "MAILTO=me@example.com\n# my backups\n0 2 * * * /usr/local/bin/backup --all\n"


class FakeCrontab:
    def __init__(self, root: Path):
        self.root = root

    @property
    def table(self) -> str | None:
        p = self.root / "table"
        return p.read_text() if p.exists() else None

    @table.setter
    def table(self, text: str) -> None:
        (self.root / "table").write_text(text)

    @property
    def calls(self) -> list[str]:
        p = self.root / "calls"
        return p.read_text().splitlines() if p.exists() else []

    @property
    def stdin(self) -> str:
        return (self.root / "stdin").read_text()


@pytest.fixture
def fake_crontab(tmp_path, monkeypatch) -> FakeCrontab:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    script = bindir / "crontab"
    script.write_text(FAKE_CRONTAB)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CRONTAB_DIR", str(bindir))
    return FakeCrontab(bindir)


TARGET = Target(("/opt/tm/bin/turbomode",), "/srv/tm home", "bob")


def cfg(**overrides) -> config.Config:
    return config.defaults().with_overrides(**overrides)


class TestBlockSplicing:
    def test_it_appends_the_block_after_the_users_lines(self):
        block = se.render_cron(cfg(), TARGET)
        assert si.splice_block(USER_LINES, block) == USER_LINES + block

    def test_it_replaces_an_old_block_in_place_of_appending_another(self):
        old = se.render_cron(cfg(jobs__scan__schedule="0 1 * * *"), TARGET)
        new = se.render_cron(cfg(), TARGET)
        text = si.splice_block(USER_LINES + old + "5 5 * * * /bin/true\n", new)
        assert text == USER_LINES + "5 5 * * * /bin/true\n" + new
        assert text.count(se.BEGIN) == 1

    def test_removing_gives_back_the_users_lines_exactly(self):
        block = se.render_cron(cfg(), TARGET)
        assert si.remove_block(USER_LINES + block) == (USER_LINES, True)
        assert si.remove_block(block) == ("", True)
        assert si.remove_block(USER_LINES) == (USER_LINES, False)

    def test_a_missing_final_newline_is_added(self):
        block = se.render_cron(cfg(), TARGET)
        assert si.splice_block("0 2 * * * /bin/true", block) == "0 2 * * * /bin/true\n" + block

    def test_an_unterminated_block_is_refused(self):
        with pytest.raises(SchedulerError, match="without '# END turbomode'"):
            si.splice_block(USER_LINES + "# BEGIN turbomode\n* * * * * x\n", se.render_cron(cfg(), TARGET))


class TestCronInstall:
    def test_it_installs_into_a_user_without_a_crontab(self, fake_crontab, tmp_path):
        target = Target(TARGET.command, str(tmp_path / "home"))
        result = si.install_cron(cfg(), target)
        assert result.action == "installed" and len(result.tasks) == 8
        assert fake_crontab.table == se.render_cron(cfg(), target)
        assert fake_crontab.calls == ["-l", "-"]
        assert (tmp_path / "home" / "logs").is_dir()  # cron's `>>` needs it

    def test_it_keeps_the_users_lines_and_sends_the_whole_table_on_stdin(self, fake_crontab, tmp_path):
        fake_crontab.table = USER_LINES
        target = Target(TARGET.command, str(tmp_path / "home"))
        si.install_cron(cfg(), target)
        assert fake_crontab.stdin == USER_LINES + se.render_cron(cfg(), target)

    def test_installing_twice_writes_once(self, fake_crontab, tmp_path):
        fake_crontab.table = USER_LINES
        target = Target(TARGET.command, str(tmp_path / "home"))
        si.install_cron(cfg(), target)
        again = si.install_cron(cfg(), target)
        assert again.action == "unchanged"
        assert fake_crontab.calls == ["-l", "-", "-l"]
        assert fake_crontab.table.count(se.BEGIN) == 1

    def test_a_changed_config_replaces_the_block(self, fake_crontab, tmp_path):
        target = Target(TARGET.command, str(tmp_path / "home"))
        si.install_cron(cfg(), target)
        si.install_cron(cfg(jobs__scan__schedule="0 6 * * 1-5"), target)
        assert fake_crontab.table.count(se.BEGIN) == 1
        assert "\n0 6 * * 1-5 " in fake_crontab.table and "\n30 23 * * * " not in fake_crontab.table

    def test_uninstall_restores_the_users_crontab_exactly(self, fake_crontab, tmp_path):
        fake_crontab.table = USER_LINES
        si.install_cron(cfg(), Target(TARGET.command, str(tmp_path / "home")))
        assert si.uninstall_cron().action == "removed"
        assert fake_crontab.table == USER_LINES

    def test_uninstall_of_a_block_that_was_all_removes_the_crontab(self, fake_crontab, tmp_path):
        si.install_cron(cfg(), Target(TARGET.command, str(tmp_path / "home")))
        si.uninstall_cron()
        assert fake_crontab.table is None

    def test_uninstall_without_a_block_changes_nothing(self, fake_crontab):
        fake_crontab.table = USER_LINES
        assert si.uninstall_cron().action == "absent"
        assert fake_crontab.calls == ["-l"]
        assert si.uninstall_cron().action == "absent"  # and again: idempotent

    def test_a_crontab_that_cannot_be_read_is_an_error_not_an_empty_table(self, fake_crontab):
        (fake_crontab.root / "crontab").write_text("#!/bin/sh\necho 'crontab: permission denied' >&2\nexit 1\n")
        with pytest.raises(SchedulerError, match="permission denied"):
            si.read_crontab()

    def test_no_crontab_command_is_a_clear_error(self, monkeypatch, tmp_path):
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        with pytest.raises(SchedulerError, match="`crontab` command is not installed"):
            si.read_crontab()


class CapturedSchtasks:
    """Stands in for subprocess calls to schtasks; fails the calls ``fail(argv)`` picks."""

    def __init__(self):
        self.calls: list[list[str]] = []
        self.xml: dict[str, bytes] = {}
        self.fail = lambda argv: False

    def __call__(self, argv, input=None):
        self.calls.append(list(argv))
        if "/XML" in argv:
            self.xml[argv[argv.index("/TN") + 1]] = Path(argv[argv.index("/XML") + 1]).read_bytes()
        failed = self.fail(argv)
        return subprocess.CompletedProcess(argv, 1 if failed else 0, "", "ERROR: Access is denied." if failed else "")


@pytest.fixture
def schtasks(monkeypatch) -> CapturedSchtasks:
    captured = CapturedSchtasks()
    monkeypatch.setattr(si, "_run", captured)
    return captured


class TestWindowsInstall:
    def test_it_creates_one_task_per_enabled_job_and_catchup_from_xml(self, schtasks, tmp_path):
        target = Target(("C:\\tm\\turbomode.exe",), str(tmp_path / "home"), "PC\\bob")
        result = si.install_windows(cfg(jobs__drift__enabled=False), target, tmp_path / "xml")
        creates = [c for c in schtasks.calls if c[1] == "/Create"]
        names = ["Ingest", "Train", "Scan", "Backtest", "Maintain", "Catchup"]
        assert creates == [["schtasks", "/Create", "/TN", f"TurboMode\\{n}", "/XML",
                            str(tmp_path / "xml" / f"{n}.xml"), "/F"] for n in names]
        assert schtasks.xml["TurboMode\\Scan"] == se.render_windows(cfg(), target)["Scan"]
        # The disabled job's task is removed, in case an earlier install created it.
        assert ["schtasks", "/Delete", "/TN", "TurboMode\\Drift", "/F"] in schtasks.calls
        assert result.tasks == [f"TurboMode\\{n}" for n in names]

    def test_catchup_falls_back_to_logon_only_when_the_boot_trigger_is_refused(self, schtasks, tmp_path):
        def refuse_boot(argv):
            return "/XML" in argv and b"B\x00o\x00o\x00t\x00T\x00r\x00i\x00g" in Path(argv[argv.index("/XML") + 1]).read_bytes()

        schtasks.fail = refuse_boot
        target = Target(("C:\\tm\\turbomode.exe",), str(tmp_path / "home"), "PC\\bob")
        result = si.install_windows(cfg(), target, tmp_path / "xml")
        assert "TurboMode\\Catchup" in result.tasks
        assert "BootTrigger" not in schtasks.xml["TurboMode\\Catchup"].decode("utf-16")
        assert "LogonTrigger" in schtasks.xml["TurboMode\\Catchup"].decode("utf-16")
        assert any("boot trigger" in m for m in result.messages)

    def test_a_refused_task_is_an_error_naming_it(self, schtasks, tmp_path):
        schtasks.fail = lambda argv: "TurboMode\\Scan" in argv
        target = Target(("C:\\tm\\turbomode.exe",), str(tmp_path / "home"), "PC\\bob")
        with pytest.raises(SchedulerError, match=r"TurboMode\\Scan \(ERROR: Access is denied.\)"):
            si.install_windows(cfg(), target, tmp_path / "xml")

    def test_an_inexpressible_schedule_changes_nothing(self, schtasks, tmp_path):
        target = Target(("C:\\tm\\turbomode.exe",), str(tmp_path / "home"), "PC\\bob")
        with pytest.raises(se.BadSchedule, match="jobs.scan.schedule"):
            si.install_windows(cfg(jobs__scan__schedule="0 0 */2 * 1"), target, tmp_path / "xml")
        assert schtasks.calls == []

    def test_uninstall_deletes_every_turbomode_task(self, schtasks):
        schtasks.fail = lambda argv: "TurboMode\\Drift" in argv  # never installed
        result = si.uninstall_windows()
        assert [c for c in schtasks.calls] == [["schtasks", "/Delete", "/TN", f"TurboMode\\{n}", "/F"]
                                               for n in se.all_task_names()]
        assert result.action == "removed" and "TurboMode\\Drift" not in result.tasks


class TestCli:
    def test_show_json_lists_every_job_with_its_next_run(self, cli):
        result = cli("schedule", "show", "--json")
        assert result.exit_code == 0, result.output
        view = json.loads(result.output)
        assert [j["job"] for j in view["jobs"]] == ["ingest", "train", "scan", "backtest", "drift", "maintain"]
        scan = view["jobs"][2]
        assert scan["schedule"] == "30 23 * * *" and scan["description"] == "At 23:30 every day"
        assert scan["next_run"].endswith("Z") and scan["windows"] == "ok"
        assert Path(view["command"][0]).is_absolute()
        assert view["catchup"] == {"at_reboot": True, "heartbeat": "17 * * * *",
                                   "description": "At minute 17 of every hour"}

    def test_show_marks_a_schedule_windows_cannot_express(self, cli, home):
        home.mkdir(parents=True)
        (home / "turbomode.toml").write_text('[jobs.drift]\nschedule = "0 0 */2 * 1"\n')
        result = cli("schedule", "show")
        assert result.exit_code == 0
        assert "cannot express" in result.output

    def test_export_cron_prints_the_block(self, cli, home):
        result = cli("schedule", "export", "--cron")
        assert result.exit_code == 0
        assert result.stdout.startswith(se.BEGIN) and result.stdout.endswith(se.END + "\n")
        assert f"TURBOMODE_HOME={shlex.quote(str(home))}" in result.stdout  # quoted: C:\ has backslashes

    def test_export_windows_writes_the_files(self, cli, tmp_path):
        result = cli("schedule", "export", "--windows", str(tmp_path / "out"))
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{n}.xml" for n in se.all_task_names())

    def test_export_windows_refuses_an_inexpressible_schedule_with_exit_2(self, cli, home, tmp_path):
        home.mkdir(parents=True)
        (home / "turbomode.toml").write_text('[jobs.scan]\nschedule = "0 0 */2 * 1"\n')
        result = cli("schedule", "export", "--windows", str(tmp_path / "out"))
        assert result.exit_code == 2
        assert "jobs.scan.schedule = '0 0 */2 * 1' cannot be expressed in Windows Task Scheduler" in result.output
        assert "Traceback" not in result.output
        assert not (tmp_path / "out").exists()

    @pytest.mark.parametrize("args", [["export"], ["export", "--cron", "--windows", "x"]])
    def test_export_needs_exactly_one_format(self, cli, args):
        result = cli("schedule", *args)
        assert result.exit_code == 2
        assert "choose one of --cron or --windows" in result.output

    def test_install_and_uninstall_through_the_cli(self, cli, fake_crontab, home):
        fake_crontab.table = USER_LINES
        first = cli("schedule", "install", "--target", "cron")
        assert first.exit_code == 0, first.output
        assert "installed 8 entries in your crontab" in first.output
        again = cli("schedule", "install", "--target", "cron", "--json")
        assert json.loads(again.stdout)["action"] == "unchanged"
        assert fake_crontab.table.startswith(USER_LINES) and f"TURBOMODE_HOME={home} " in fake_crontab.table
        gone = cli("schedule", "uninstall", "--target", "cron")
        assert gone.exit_code == 0 and "removed TurboMode from your crontab" in gone.output
        assert fake_crontab.table == USER_LINES

    def test_install_windows_through_the_cli(self, cli, schtasks, home):
        result = cli("schedule", "install", "--target", "windows", "--exe", __file__)
        assert result.exit_code == 0, result.output
        assert len([c for c in schtasks.calls if c[1] == "/Create"]) == 7
        assert (home / "schtasks" / "Scan.xml").is_file()

    def test_install_refuses_an_exe_that_does_not_exist(self, cli, fake_crontab, tmp_path):
        result = cli("schedule", "install", "--target", "cron", "--exe", str(tmp_path / "nope"))
        assert result.exit_code == 2  # a usage error, like any other bad option
        assert "is not a file" in result.output
        assert fake_crontab.calls == []

    @pytest.mark.parametrize("command", [["export", "--cron"], ["export", "--windows", "xml"], ["show"],
                                         ["install", "--target", "cron"]], ids=" ".join)
    @pytest.mark.parametrize("exe, says", [
        ("relative/x", "--exe relative/x is a relative path, which the scheduler would read from another folder"),
        ("turbomode", "--exe turbomode is a relative path"),
        (MISSING_EXE, f"--exe {MISSING_EXE} is not a file"),
        ("", "--exe is empty"),
    ], ids=["relative", "a bare name", "missing", "empty"])
    def test_a_relative_missing_or_empty_exe_is_a_one_line_usage_error(self, cli, fake_crontab, tmp_path,
                                                                       monkeypatch, command, exe, says):
        monkeypatch.chdir(tmp_path)
        (tmp_path / "turbomode").write_text("#!/bin/sh\n")  # a relative path that exists here is still refused
        result = cli("schedule", *command, "--exe", exe)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and says in lines[0] and "unexpected" not in lines[0], result.output
        assert fake_crontab.calls == [] and not (tmp_path / "xml").exists()


def test_show_says_whether_the_crontab_holds_the_current_schedule(cli, fake_crontab, home):
    def installed():
        return json.loads(cli("schedule", "show", "--json").stdout)["installed"]

    assert installed() == "absent"
    cli("schedule", "install", "--target", "cron")
    assert installed() == "current"
    (home / "turbomode.toml").write_text('[jobs.scan]\nschedule = "0 6 * * *"\n')
    assert installed() == "outdated"
    assert "run `turbomode schedule install`" in cli("schedule", "show").stdout
    (fake_crontab.root / "crontab").write_text("#!/bin/sh\necho 'crontab: permission denied' >&2\nexit 1\n")
    assert installed() == "unavailable"


def test_extract_block_finds_the_block_among_other_lines():
    block = se.render_cron(cfg(), TARGET)
    assert si.extract_block(USER_LINES + block + "1 1 * * * /bin/true\n") == block
    assert si.extract_block(USER_LINES) is None


@pytest.mark.parametrize("running, warned", [(False, True), (True, False), (None, False)])
def test_install_warns_when_no_cron_daemon_runs(fake_crontab, tmp_path, monkeypatch, running, warned):
    monkeypatch.setattr(si, "cron_daemon_running", lambda: running)
    result = si.install_cron(cfg(), Target(TARGET.command, str(tmp_path / "home")))
    assert any("no cron daemon is running" in m for m in result.messages) is warned


def test_the_daemon_check_sees_a_process_named_cron(monkeypatch):
    import psutil

    class P:
        def __init__(self, name):
            self.info = {"name": name}

    monkeypatch.setattr(si.sys, "platform", "linux")
    monkeypatch.setattr(psutil, "process_iter", lambda attrs: iter([P("bash"), P("cron")]))
    assert si.cron_daemon_running() is True
    monkeypatch.setattr(psutil, "process_iter", lambda attrs: iter([P("bash")]))
    assert si.cron_daemon_running() is False


def test_every_command_line_the_scheduler_runs_is_accepted_by_the_cli():
    """The block and the XML run `<job> --trigger cron` and `catchup`: each must parse as given."""
    import shlex

    import typer

    from turbomode.cli.main import app

    group = typer.main.get_command(app)
    lines = [cmd for _, cmd in se.cron_lines(cfg(), TARGET)]
    assert len(lines) == 8
    for line in lines:
        words = shlex.split(line)
        args = words[words.index(TARGET.command[0]) + 1:words.index(">>")]
        name, rest = args[0], list(args[1:])
        sub = group.commands.get(name)
        assert sub is not None, f"the scheduler runs `turbomode {name}`, which does not exist"
        sub.make_context(name, rest)  # parses without running; raises on an unknown option or value
