"""Registering the rendered schedule with the OS: the user's crontab, or Windows Task Scheduler.

cron: the marked block (``# BEGIN turbomode`` … ``# END turbomode``) replaces any previous one and
goes at the end of ``crontab -l``; every other line is kept as it was. Installing twice changes
nothing; uninstalling removes exactly the block. Windows: one ``schtasks /Create /XML`` per task
(tasks of disabled jobs are deleted), ``schtasks /Delete`` to uninstall.

Every OS call goes through ``_run`` so tests can capture it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from turbomode.config import Config
from turbomode.errors import ConfigError, SchedulerError
from turbomode.ops import scheduler_export as export
from turbomode.ops.scheduler_export import BEGIN, END, TASK_FOLDER, Target

log = logging.getLogger("turbomode.schedule")


@dataclass
class InstallResult:
    platform: str  # cron | windows
    action: str  # installed | unchanged | removed | absent
    tasks: list[str] = field(default_factory=list)  # cron lines or task names
    messages: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def default_platform() -> str:
    return "windows" if sys.platform == "win32" else "cron"


def _run(argv: list[str], input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=60)


# --- cron ---------------------------------------------------------------------------------------

def _crontab() -> str:
    found = shutil.which("crontab")
    if not found:
        raise SchedulerError("the `crontab` command is not installed; install cron (e.g. `sudo apt-get "
                             "install cron`) or add the block from `turbomode schedule export --cron` by hand")
    return found


def read_crontab() -> str:
    """The user's crontab text; '' when they have none yet."""
    proc = _run([_crontab(), "-l"])
    if proc.returncode != 0:
        if "no crontab" in (proc.stderr or "").lower():
            return ""
        raise SchedulerError(f"`crontab -l` failed ({(proc.stderr or '').strip() or proc.returncode}); "
                             "check that cron is installed and you may use it")
    return proc.stdout


def write_crontab(text: str) -> None:
    proc = _run([_crontab(), "-"], input=text)
    if proc.returncode != 0:
        raise SchedulerError(f"`crontab -` refused the new crontab ({(proc.stderr or '').strip()}); "
                             "your crontab is unchanged")


def remove_block(text: str) -> tuple[str, bool]:
    """``text`` without the turbomode block; (new text, whether a block was found)."""
    kept: list[str] = []
    inside = found = False
    for line in text.splitlines():
        if line.strip() == BEGIN and not inside:
            inside = found = True
            continue
        if inside:
            if line.strip() == END:
                inside = False
            continue
        kept.append(line)
    if inside:
        raise SchedulerError(f"your crontab has '{BEGIN}' without '{END}'; fix it with `crontab -e` "
                             "and run the command again")
    return ("\n".join(kept) + "\n" if kept else ""), found


def extract_block(text: str) -> str | None:
    """The turbomode block of a crontab (with its markers and final newline), or None."""
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.strip() == BEGIN]
    if not starts:
        return None
    rest = lines[starts[0]:]
    ends = [i for i, ln in enumerate(rest) if ln.strip() == END]
    return "\n".join(rest[:ends[0] + 1]) + "\n" if ends else None


def cron_state(cfg: Config, target: Target) -> str:
    """Whether the user's crontab holds this schedule: current, outdated, absent or unavailable."""
    try:
        block = extract_block(read_crontab())
    except SchedulerError:
        return "unavailable"
    if block is None:
        return "absent"
    return "current" if block == export.render_cron(cfg, target) else "outdated"


def splice_block(text: str, block: str) -> str:
    """``text`` with the turbomode block replaced (or added) at the end; other lines unchanged."""
    rest, _ = remove_block(text)
    return rest + block


def cron_daemon_running() -> bool | None:
    """Whether a cron daemon process is running (None where we cannot tell: macOS starts it on demand)."""
    if not sys.platform.startswith("linux"):
        return None
    import psutil

    try:
        return any(p.info["name"] in ("cron", "crond", "cronie", "busybox-crond")
                   for p in psutil.process_iter(["name"]))
    except psutil.Error:
        return None


def install_cron(cfg: Config, target: Target) -> InstallResult:
    block = export.render_cron(cfg, target)
    (Path(target.home) / "logs").mkdir(parents=True, exist_ok=True)  # cron's `>>` needs the folder
    current = read_crontab()
    new = splice_block(current, block)
    lines = [f"{when} {cmd}" for when, cmd in export.cron_lines(cfg, target)]
    result = InstallResult("cron", "unchanged" if new == current else "installed", lines)
    if new != current:
        write_crontab(new)
        log.info("installed the crontab block (%d lines)", len(lines))
    if cron_daemon_running() is False:  # common in containers and WSL
        result.messages.append("no cron daemon is running, so nothing will start these lines; start it "
                               "(`sudo service cron start` or `sudo systemctl enable --now cron`)")
    return result


def uninstall_cron() -> InstallResult:
    current = read_crontab()
    new, found = remove_block(current)
    if not found:
        return InstallResult("cron", "absent")
    if new.strip():
        write_crontab(new)
    else:  # nothing of the user's left: back to "no crontab", as before the install
        proc = _run([_crontab(), "-r"])
        if proc.returncode != 0:
            write_crontab(new)
    log.info("removed the crontab block")
    return InstallResult("cron", "removed")


# --- Windows Task Scheduler ---------------------------------------------------------------------

def _task_path(name: str) -> str:
    return f"{TASK_FOLDER}\\{name}"


def _schtasks(*args: str) -> subprocess.CompletedProcess:
    try:
        return _run(["schtasks", *args])
    except FileNotFoundError:
        raise SchedulerError("`schtasks` was not found; Task Scheduler is Windows-only: use "
                             "`turbomode schedule export --windows DIR` and register the files on Windows") from None


def install_windows(cfg: Config, target: Target, xml_dir: Path, now: datetime | None = None) -> InstallResult:
    """Write one XML per task into ``xml_dir`` and register each with ``schtasks /Create /XML /F``."""
    tasks = export.render_windows(cfg, target, now)  # refuses an inexpressible schedule before any change
    xml_dir.mkdir(parents=True, exist_ok=True)
    (Path(target.home) / "logs").mkdir(parents=True, exist_ok=True)
    result = InstallResult("windows", "installed")
    for name, xml in tasks.items():
        path = xml_dir / f"{name}.xml"
        path.write_bytes(xml)
        result.files.append(str(path))
        proc = _schtasks("/Create", "/TN", _task_path(name), "/XML", str(path), "/F")
        if proc.returncode != 0 and name == "Catchup":
            # Only administrators may register a boot trigger; keep the logon trigger.
            fallback = export.catchup_task_xml(cfg, target, now, boot=False)
            path.write_bytes(fallback)
            proc = _schtasks("/Create", "/TN", _task_path(name), "/XML", str(path), "/F")
            if proc.returncode == 0:
                result.messages.append("TurboMode\\Catchup was registered without its boot trigger, which "
                                       "needs an administrator; run the install from an elevated prompt to add it")
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout or "").strip() or f"exit {proc.returncode}"
            raise SchedulerError(f"schtasks could not register {_task_path(name)} ({detail}); "
                                 f"the XML is in {path}")
        result.tasks.append(_task_path(name))
    for name in export.all_task_names():
        if name not in tasks:  # a job disabled since the last install
            _schtasks("/Delete", "/TN", _task_path(name), "/F")
    log.info("registered %d tasks in \\%s\\", len(result.tasks), TASK_FOLDER)
    return result


def uninstall_windows() -> InstallResult:
    result = InstallResult("windows", "absent")
    for name in export.all_task_names():
        proc = _schtasks("/Delete", "/TN", _task_path(name), "/F")
        if proc.returncode == 0:
            result.tasks.append(_task_path(name))
            result.action = "removed"
    log.info("removed %d tasks from \\%s\\", len(result.tasks), TASK_FOLDER)
    return result


# --- entry points used by `turbomode schedule install|uninstall` ---------------------------------

def install(ctx, platform: str | None = None, exe: str | None = None, now: datetime | None = None) -> InstallResult:
    platform = platform or default_platform()
    target = make_target(ctx, exe, platform)
    if platform == "cron":
        return install_cron(ctx.config, target)
    return install_windows(ctx.config, target, ctx.home / "schtasks", now)


def uninstall(platform: str | None = None) -> InstallResult:
    platform = platform or default_platform()
    return uninstall_cron() if platform == "cron" else uninstall_windows()


def make_target(ctx, exe: str | None = None, platform: str | None = None) -> Target:
    """The target for this installation: the running turbomode (or ``exe``) and the context's home."""
    if exe is not None:
        # The scheduler starts the command from another folder (cron: the user's home; Task Scheduler:
        # System32), so a relative path would name another file, or none: a usage error, like a missing one.
        path = Path(exe).expanduser()
        if not exe.strip():
            raise ConfigError("--exe is empty; give the absolute path of the turbomode executable, or leave "
                              "--exe out to use this environment's")
        if not path.is_absolute():
            raise ConfigError(f"--exe {exe} is a relative path, which the scheduler would read from another "
                              "folder; give the absolute path of the turbomode executable")
        if not path.is_file():
            raise ConfigError(f"--exe {exe} is not a file; give the absolute path of the turbomode executable")
        command: tuple[str, ...] = (str(path),)
    else:
        command = export.find_executable(platform or default_platform())
    return Target(command, str(Path(ctx.home).absolute()), export.current_user())
