"""The schedule rendered for the OS scheduler: a crontab block and Windows Task Scheduler XML.

Everything comes from the config (``jobs.<job>.schedule`` / ``enabled``, ``catchup.at_reboot``,
``catchup.heartbeat``, ``general.timezone``). Nothing here touches the OS: ``scheduler_install``
registers what this module renders. Pure functions of (config, target), so the committed examples
(``crontab.example``, ``schtasks/*.xml``, ``schtasks/install.ps1``) are reproducible:

    uv run python -m turbomode.ops.scheduler_export --write-examples .
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from turbomode.config import Config
from turbomode.errors import BadSchedule, SchedulerError
from turbomode.jobs import JOBS, ORDER
# The cron -> calendar-trigger translation lives in task_triggers; its names are used here and by tests.
from turbomode.ops.task_triggers import (ALL_DOM, ALL_DOW, ALL_MONTHS, ALL_WEEKS, MAX_TRIGGERS,  # noqa: F401
                                         DaySpec, TimeSpec, windows_triggers)

BEGIN = "# BEGIN turbomode"
END = "# END turbomode"
TASK_FOLDER = "TurboMode"
TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
CRON_LOG = "cron.log"

# How long Task Scheduler lets each task run before stopping it (ISO-8601 durations). Generous:
# the run wrapper records what happened; this only stops a hung process.
TIME_LIMITS = {"ingest": "PT2H", "scan": "PT1H", "train": "PT8H", "backtest": "PT4H", "drift": "PT1H",
               "maintain": "PT2H", "catchup": "PT12H"}
# Task Scheduler retries a failed start this often; the run lock makes a retry harmless.
RESTART_INTERVAL, RESTART_COUNT = "PT15M", 2
LOGON_DELAY, BOOT_DELAY = "PT2M", "PT5M"
# Calendar triggers need a StartBoundary; its date only anchors the schedule (any past date works).
ANCHOR_DATE = "2026-01-01"

# Placeholders in the committed examples; schtasks/install.ps1 replaces the Windows ones.
EXAMPLE_CRON_EXE = "/path/to/turbomode"
EXAMPLE_CRON_HOME = "/home/you/.local/share/turbomode"
EXAMPLE_WIN_EXE = "C:\\path\\to\\turbomodew.exe"
EXAMPLE_WIN_HOME = "C:\\Users\\you\\AppData\\Local\\turbomode"
EXAMPLE_WIN_USER = "YOURPC\\you"


@dataclass(frozen=True)
class Target:
    """What the scheduled commands run: an argv prefix for turbomode, the absolute home, the user."""

    command: tuple[str, ...]
    home: str
    user: str = ""


def task_name(job: str) -> str:
    """Task Scheduler name of a job ('scan' -> 'Scan'); the full path is \\TurboMode\\Scan."""
    return job.capitalize()


def find_executable(platform: str | None = None) -> tuple[str, ...]:
    """The command the OS scheduler should start, as absolute paths.

    The ``turbomode`` console script of the running interpreter's own environment comes first: it
    is the installation the user is running now (same packages), it is an absolute path that does
    not depend on cron's PATH, and on Windows it is an .exe Task Scheduler can start directly. We
    do not use ``shutil.which``: PATH may lead to another installation. Without a console script
    (an unusual install) we fall back to ``<this python> -m turbomode``, which always works.

    For Task Scheduler (``platform='windows'``, the default on Windows) the window-less launcher
    ``turbomodew.exe`` (and ``pythonw.exe``) are preferred, so no console flashes up every hour.
    """
    windows = (os.name == "nt") if platform is None else platform == "windows"
    names = ("turbomodew.exe", "turbomode.exe") if windows else ("turbomode",)
    exe = Path(sys.executable).absolute() if sys.executable else None
    dirs: list[Path] = []
    if exe is not None:
        dirs.append(exe.parent)  # a venv's bin/ or Scripts\ (symlinked pythons keep the venv path)
    for scheme in (None, f"{os.name}_user"):
        try:
            dirs.append(Path(sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")))
        except KeyError:
            pass
    for d in dirs:
        for name in names:
            script = d / name
            if script.is_file():
                return (str(script),)
    if exe is not None and exe.is_file():
        quiet = exe.with_name("pythonw.exe")
        return (str(quiet if windows and quiet.is_file() else exe), "-m", "turbomode")
    found = shutil.which("turbomode")
    if found:
        return (str(Path(found).absolute()),)
    raise SchedulerError("cannot find the turbomode executable; pass its absolute path with --exe")


def current_user() -> str:
    """DOMAIN\\user on Windows (what a LogonTrigger names), the login name elsewhere."""
    domain, name = os.environ.get("USERDOMAIN"), os.environ.get("USERNAME")
    if domain and name:
        return f"{domain}\\{name}"
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): a LogonTrigger then needs editing by hand
        return "you"


# --- cron ---------------------------------------------------------------------------------------

def _cron_command(target: Target, args: list[str]) -> str:
    home = target.home
    log = str(PurePosixPath(home) / "logs" / CRON_LOG)
    # cron runs the line with /bin/sh, PATH=/usr/bin:/bin and no profile: absolute, quoted paths,
    # TURBOMODE_HOME set on the line itself, and every % escaped (cron turns a bare % into a newline).
    line = (f"TURBOMODE_HOME={shlex.quote(home)} "
            + " ".join(shlex.quote(a) for a in (*target.command, *args))
            + f" >> {shlex.quote(log)} 2>&1")
    return line.replace("%", "\\%")


def cron_lines(cfg: Config, target: Target) -> list[tuple[str, str]]:
    """(schedule, command) per line of the block: enabled jobs, then the catch-up lines."""
    out = [(cfg.schedule(job), _cron_command(target, [job, "--trigger", "cron"]))
           for job in ORDER if cfg.enabled(job)]
    if cfg["catchup.at_reboot"]:
        out.append(("@reboot", _cron_command(target, ["catchup"])))
    if cfg["catchup.heartbeat"]:
        out.append((cfg["catchup.heartbeat"], _cron_command(target, ["catchup"])))
    return out


def render_cron(cfg: Config, target: Target) -> str:
    """The marked crontab block, ending with a newline (cron ignores a last line without one)."""
    from turbomode.config import beyond_cron

    for key in [f"jobs.{job}.schedule" for job in ORDER if cfg.enabled(job)] + ["catchup.heartbeat"]:
        field = beyond_cron(cfg[key]) if cfg[key] else None
        if field:
            raise BadSchedule(f"{key} = {cfg[key]!r} uses {field!r} (a last day or an n-th weekday), "
                              "which Task Scheduler reads but cron does not; for a crontab use numbers, names (mon, "
                              "jan), *, lists (1,15), ranges (1-5) and steps (*/10)")
    for text in (target.home, *target.command):
        if "\n" in text or "\r" in text:
            raise SchedulerError(f"the path {text!r} contains a line break, which a crontab cannot hold; "
                                 "choose another --home")
    lines = [
        BEGIN,
        "# Generated by `turbomode schedule install` from turbomode.toml: change the config and run it",
        "# again rather than editing these lines. Output goes to the log named on each line.",
    ]
    zone = cfg["general.timezone"]
    if zone != "local":
        lines += [
            "# CRON_TZ is honoured by cronie (Fedora, RHEL, Arch). Debian and Ubuntu cron ignore it and read",
            "# these times in the machine's zone; the hourly catch-up then runs what is due in the configured",
            "# zone. CRON_TZ applies to every line after it: keep this block at the end of the crontab.",
            f"CRON_TZ={zone}",
        ]
    lines += [f"{when} {command}" for when, command in cron_lines(cfg, target)]
    lines.append(END)
    return "\n".join(lines) + "\n"


# --- Windows Task Scheduler XML ---------------------------------------------------------------------

def _duration(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m or not h else "")


def _win_arguments(target: Target, args: list[str]) -> str:
    # Task Scheduler cannot set environment variables, so the home travels as --home. It is always
    # quoted (install.ps1 substitutes paths with spaces); a trailing backslash would escape the quote.
    home = target.home.rstrip("\\") or target.home
    before = subprocess.list2cmdline(list(target.command[1:]))
    after = subprocess.list2cmdline(args)
    return " ".join(p for p in (before, f'--home "{home}"', after) if p)


def _offset_suffix(zone: str, now: datetime | None) -> str:
    if zone == "local":
        return ""
    from zoneinfo import ZoneInfo

    when = now or datetime.fromisoformat(ANCHOR_DATE + "T12:00:00")
    off = (when.astimezone(ZoneInfo(zone)) if when.tzinfo else when.replace(tzinfo=ZoneInfo(zone))).utcoffset()
    total = int(off.total_seconds() // 60) if off else 0
    sign = "+" if total >= 0 else "-"
    h, m = divmod(abs(total), 60)
    return f"{sign}{h:02d}:{m:02d}"


_DOW_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")


def _calendar_trigger(parent, time: TimeSpec, days: DaySpec, offset: str) -> None:
    from xml.etree.ElementTree import SubElement as sub

    trig = sub(parent, "CalendarTrigger")
    # The schema's triggerBaseType is a sequence (Enabled, StartBoundary, EndBoundary, Repetition,
    # ExecutionTimeLimit), followed by calendarTriggerType's RandomDelay and one ScheduleBy* element.
    h, m = divmod(time.start, 60)
    sub(trig, "Enabled").text = "true"
    sub(trig, "StartBoundary").text = f"{ANCHOR_DATE}T{h:02d}:{m:02d}:00{offset}"
    if time.every:
        rep = sub(trig, "Repetition")
        sub(rep, "Interval").text = _duration(time.every)
        # One minute past the last start, so the last repetition is inside the window.
        sub(rep, "Duration").text = _duration(time.span + 1)
        sub(rep, "StopAtDurationEnd").text = "false"
    if days.kind == "daily":
        sched = sub(trig, "ScheduleByDay")
        sub(sched, "DaysInterval").text = "1"
    elif days.kind == "weekly":
        sched = sub(trig, "ScheduleByWeek")
        dows = sub(sched, "DaysOfWeek")
        for d in days.days_of_week:
            sub(dows, _DOW_NAMES[d])
        sub(sched, "WeeksInterval").text = "1"
    elif days.kind == "monthly":
        sched = sub(trig, "ScheduleByMonth")
        doms = sub(sched, "DaysOfMonth")
        for d in days.days_of_month:
            sub(doms, "Day").text = str(d)
        months = sub(sched, "Months")
        for mo in days.months:
            sub(months, _MONTH_NAMES[mo - 1])
    else:  # monthly_dow: the given weekdays in every week of the given months
        sched = sub(trig, "ScheduleByMonthDayOfWeek")
        weeks = sub(sched, "Weeks")
        for w in days.weeks:
            sub(weeks, "Week").text = w
        dows = sub(sched, "DaysOfWeek")
        for d in days.days_of_week:
            sub(dows, _DOW_NAMES[d])
        months = sub(sched, "Months")
        for mo in days.months:
            sub(months, _MONTH_NAMES[mo - 1])


def _task_xml(name: str, description: str, add_triggers, target: Target, args: list[str],
              time_limit: str) -> bytes:
    from xml.etree import ElementTree as ET
    from xml.etree.ElementTree import SubElement as sub

    task = ET.Element("Task", {"version": "1.2", "xmlns": TASK_NS})
    reg = sub(task, "RegistrationInfo")
    sub(reg, "Author").text = "TurboMode"
    sub(reg, "Description").text = description
    sub(reg, "URI").text = f"\\{TASK_FOLDER}\\{name}"
    add_triggers(sub(task, "Triggers"))
    principals = sub(task, "Principals")
    principal = sub(principals, "Principal", {"id": "Author"})
    # The signed-in user's own session: no stored password, no elevation, network available.
    sub(principal, "LogonType").text = "InteractiveToken"
    sub(principal, "RunLevel").text = "LeastPrivilege"
    settings = sub(task, "Settings")
    for key, value in (
        ("MultipleInstancesPolicy", "IgnoreNew"),
        ("DisallowStartIfOnBatteries", "false"),
        ("StopIfGoingOnBatteries", "false"),
        ("AllowHardTerminate", "true"),
        ("StartWhenAvailable", "true"),
        ("RunOnlyIfNetworkAvailable", "false"),
        ("AllowStartOnDemand", "true"),
        ("Enabled", "true"),
        ("Hidden", "false"),
        ("RunOnlyIfIdle", "false"),
        ("WakeToRun", "false"),
        ("ExecutionTimeLimit", time_limit),
        ("Priority", "7"),
    ):
        sub(settings, key).text = value
    restart = sub(settings, "RestartOnFailure")
    sub(restart, "Interval").text = RESTART_INTERVAL
    sub(restart, "Count").text = str(RESTART_COUNT)
    actions = sub(task, "Actions", {"Context": "Author"})
    exec_ = sub(actions, "Exec")
    sub(exec_, "Command").text = target.command[0]
    sub(exec_, "Arguments").text = _win_arguments(target, args)
    sub(exec_, "WorkingDirectory").text = target.home
    ET.indent(task, space="  ")
    text = '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode") + "\n"
    # UTF-16 LE with a BOM and CRLF: exactly what `schtasks /Query /XML` writes and what
    # `schtasks /Create /XML` reads without guessing a code page for non-ASCII paths.
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def job_task_xml(cfg: Config, target: Target, job: str, now: datetime | None = None) -> bytes:
    expr = cfg.schedule(job)
    specs = windows_triggers(expr, f"jobs.{job}.schedule")
    offset = _offset_suffix(cfg["general.timezone"], now)

    def add(triggers) -> None:
        for t, d in specs:
            _calendar_trigger(triggers, t, d, offset)

    desc = (f"TurboMode {job}: {JOBS[job].summary}. Schedule '{expr}' from turbomode.toml; "
            "regenerate with `turbomode schedule install`.")
    return _task_xml(task_name(job), desc, add, target, [job, "--trigger", "cron"], TIME_LIMITS.get(job, "PT2H"))


def catchup_task_xml(cfg: Config, target: Target, now: datetime | None = None,
                     boot: bool = True) -> bytes | None:
    """\\TurboMode\\Catchup: at logon (and boot) and on the heartbeat schedule; None if neither is on."""
    from xml.etree.ElementTree import SubElement as sub

    heartbeat = cfg["catchup.heartbeat"]
    specs = windows_triggers(heartbeat, "catchup.heartbeat") if heartbeat else []
    if not cfg["catchup.at_reboot"] and not specs:
        return None
    offset = _offset_suffix(cfg["general.timezone"], now)

    def add(triggers) -> None:
        if cfg["catchup.at_reboot"]:
            logon = sub(triggers, "LogonTrigger")
            sub(logon, "Enabled").text = "true"
            sub(logon, "UserId").text = target.user or current_user()
            sub(logon, "Delay").text = LOGON_DELAY
            if boot:
                # Registering a boot trigger needs an administrator; install falls back without it.
                b = sub(triggers, "BootTrigger")
                sub(b, "Enabled").text = "true"
                sub(b, "Delay").text = BOOT_DELAY
        for t, d in specs:
            _calendar_trigger(triggers, t, d, offset)

    desc = ("TurboMode catch-up: replays every job whose scheduled run was missed (machine off or "
            "asleep), once, in dependency order. Runs at logon and on catchup.heartbeat.")
    return _task_xml("Catchup", desc, add, target, ["catchup"], TIME_LIMITS["catchup"])


def render_windows(cfg: Config, target: Target, now: datetime | None = None) -> dict[str, bytes]:
    """Task name -> XML bytes for every enabled job, plus Catchup when at_reboot or a heartbeat is on.

    Raises BadSchedule naming the first schedule Task Scheduler cannot express.
    """
    out = {task_name(job): job_task_xml(cfg, target, job, now) for job in ORDER if cfg.enabled(job)}
    catchup = catchup_task_xml(cfg, target, now)
    if catchup is not None:
        out["Catchup"] = catchup
    return out


def all_task_names() -> list[str]:
    """Every task TurboMode may have registered (uninstall removes all of them)."""
    return [task_name(j) for j in ORDER] + ["Catchup"]


def warnings(cfg: Config, platform: str) -> list[str]:
    """Caveats the user should read before installing (printed by `schedule export/install`)."""
    zone = cfg["general.timezone"]
    out = []
    if zone != "local" and platform == "cron":
        out.append(f"general.timezone is {zone}: the block sets CRON_TZ, which cronie honours but Debian/Ubuntu "
                   "cron ignores (times are then read in the machine's zone and the hourly catch-up runs "
                   "what was missed)")
    if zone != "local" and platform == "windows":
        out.append(f"general.timezone is {zone}: Task Scheduler gets that zone's current UTC offset and does "
                   "not follow its daylight-saving changes; the hourly catch-up runs what was missed")
    return out


# --- `schedule show` ----------------------------------------------------------------------------

def overview(cfg: Config, target: Target, now: datetime) -> dict:
    """What `schedule show` prints: per job the schedule, next run, cron line and Windows verdict."""
    from turbomode.clock import iso
    from turbomode.schedule import cron

    tz = cron.zone(cfg["general.timezone"])
    jobs = []
    for job in ORDER:
        expr = cfg.schedule(job)
        nxt = cron.next_fire(expr, tz, now) if cfg.enabled(job) else None
        try:
            windows_triggers(expr, f"jobs.{job}.schedule")
            verdict = "ok"
        except BadSchedule as exc:
            verdict = str(exc)
        jobs.append({
            "job": job, "enabled": cfg.enabled(job), "schedule": expr, "description": cron.describe(expr),
            "next_run": iso(nxt) if nxt else None,
            "next_run_local": nxt.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if nxt else None,
            "cron_line": f"{expr} {_cron_command(target, [job, '--trigger', 'cron'])}",
            "windows": verdict,
        })
    heartbeat = cfg["catchup.heartbeat"]
    return {
        "timezone": cfg["general.timezone"],
        "home": target.home,
        "command": list(target.command),
        "jobs": jobs,
        "catchup": {"at_reboot": cfg["catchup.at_reboot"], "heartbeat": heartbeat,
                    "description": cron.describe(heartbeat) if heartbeat else None},
    }


# --- the committed examples ---------------------------------------------------------------------

EXAMPLE_CRON_HEADER = f"""\
# TurboMode crontab block, generated from the DEFAULT schedule with placeholder paths.
# `turbomode schedule install` writes the real block (your paths, your turbomode.toml) into your
# crontab, and `turbomode schedule uninstall` removes it. To use this file by hand instead, replace
# {EXAMPLE_CRON_EXE} and {EXAMPLE_CRON_HOME}, create the logs folder, and paste the block with `crontab -e`.
# Regenerate: uv run python -m turbomode.ops.scheduler_export --write-examples .
"""

INSTALL_PS1 = r"""# Registers TurboMode's tasks in Windows Task Scheduler (folder \TurboMode\) from the XML files
# beside this script. Generated by `uv run python -m turbomode.ops.scheduler_export --write-examples .`
# from the DEFAULT schedule; `turbomode schedule install` does the same from your own turbomode.toml.
#
#   powershell -ExecutionPolicy Bypass -File schtasks\install.ps1 [-Exe C:\...\turbomodew.exe] [-TurboHome C:\...]
#   powershell -ExecutionPolicy Bypass -File schtasks\install.ps1 -Uninstall
#
# The XML files hold placeholders for the executable, the home folder and the user; this script fills
# them in. Run it from an elevated prompt to also get the boot trigger of TurboMode\Catchup.
param(
    [string]$Exe = "",
    [string]$TurboHome = "",
    [switch]$Uninstall
)
# No global "Stop": Windows PowerShell 5.1 turns a native command's stderr into terminating errors.
$Names = @(@NAMES@)

if ($Uninstall) {
    foreach ($n in $Names) {
        schtasks /Delete /TN "TurboMode\$n" /F 2>$null | Out-Null
    }
    Write-Host "Removed the TurboMode tasks."
    exit 0
}

if (-not $Exe) {
    # turbomodew.exe is the window-less launcher: no console flashes up at each scheduled run.
    $cmd = Get-Command turbomodew -ErrorAction SilentlyContinue
    if (-not $cmd) { $cmd = Get-Command turbomode -ErrorAction SilentlyContinue }
    if (-not $cmd) { throw "turbomode is not on PATH; pass -Exe C:\path\to\turbomodew.exe" }
    $Exe = $cmd.Source
}
$Exe = (Resolve-Path $Exe -ErrorAction Stop).Path
if (-not $TurboHome) {
    if ($env:TURBOMODE_HOME) { $TurboHome = $env:TURBOMODE_HOME }
    else { $TurboHome = Join-Path $env:LOCALAPPDATA "turbomode" }
}
$TurboHome = $TurboHome.TrimEnd('\')
New-Item -ItemType Directory -Force -Path (Join-Path $TurboHome "logs") -ErrorAction Stop | Out-Null
$User = "$env:USERDOMAIN\$env:USERNAME"

function Esc([string]$s) { [System.Security.SecurityElement]::Escape($s) }

function Register([string]$Name, [string]$Xml) {
    $tmp = Join-Path $env:TEMP "turbomode-$Name.xml"
    [System.IO.File]::WriteAllText($tmp, $Xml, [System.Text.Encoding]::Unicode)
    schtasks /Create /TN "TurboMode\$Name" /XML $tmp /F | Out-Host
    $code = $LASTEXITCODE
    Remove-Item $tmp -ErrorAction SilentlyContinue
    return $code
}

foreach ($n in $Names) {
    $xml = [System.IO.File]::ReadAllText((Join-Path $PSScriptRoot "$n.xml"))
    $xml = $xml.Replace('@EXE@', (Esc $Exe)).Replace('@HOME@', (Esc $TurboHome)).Replace('@USER@', (Esc $User))
    $code = Register $n $xml
    if ($code -ne 0 -and $n -eq "Catchup") {
        # Only administrators may register a boot trigger: keep the logon trigger and say so.
        $xml = [regex]::Replace($xml, '(?s)\s*<BootTrigger>.*?</BootTrigger>', '')
        $code = Register $n $xml
        if ($code -eq 0) { Write-Warning "TurboMode\Catchup registered without its boot trigger (needs an elevated prompt)." }
    }
    if ($code -ne 0) { throw "schtasks could not register TurboMode\$n (exit $code)" }
}
Write-Host "Registered $($Names.Count) tasks in \TurboMode\ for $Exe with home $TurboHome."
"""


def example_targets() -> tuple[Target, Target]:
    return (Target((EXAMPLE_CRON_EXE,), EXAMPLE_CRON_HOME, "you"),
            Target((EXAMPLE_WIN_EXE,), EXAMPLE_WIN_HOME, EXAMPLE_WIN_USER))


def render_examples() -> dict[str, bytes]:
    """Relative path -> content of every committed example, from the default config."""
    from turbomode.config import defaults

    cfg = defaults()
    cron_target, win_target = example_targets()
    out = {"crontab.example": (EXAMPLE_CRON_HEADER + render_cron(cfg, cron_target)).encode("utf-8")}
    tasks = render_windows(cfg, win_target)
    for name, xml in tasks.items():
        out[f"schtasks/{name}.xml"] = xml
    names = ", ".join(f'"{n}"' for n in tasks)
    ps1 = (INSTALL_PS1.replace("@NAMES@", names).replace("@EXE@", EXAMPLE_WIN_EXE)
           .replace("@HOME@", EXAMPLE_WIN_HOME).replace("@USER@", EXAMPLE_WIN_USER))
    out["schtasks/install.ps1"] = ps1.encode("ascii")
    return out


def write_examples(root: Path) -> list[Path]:
    from turbomode.store.db import atomic_write_bytes

    written = []
    for rel, data in render_examples().items():
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m turbomode.ops.scheduler_export",
                                     description="Regenerate crontab.example and schtasks/ from the default config.")
    parser.add_argument("--write-examples", metavar="DIR", required=True, type=Path,
                        help="repository root to write crontab.example and schtasks/ into")
    args = parser.parse_args(argv)
    for path in write_examples(args.write_examples):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
