"""The crontab block against the real thing: Debian's `crontab` command and a running `cron` daemon.

These tests change root's (or the current user's) real crontab, so they hold a machine-wide lock
(other checkouts may run the suite at the same time) and always put the previous crontab back.
Nothing is skipped: where cron cannot run, the test fails and says why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from turbomode.ops import scheduler_export as se
from turbomode.ops import scheduler_install as si

pytestmark = pytest.mark.slow

LOCK = Path("/tmp/turbomode-real-crontab.lock")
WAIT_S = 130


@contextlib.contextmanager
def machine_lock():
    if sys.platform == "win32":
        pytest.fail("the cron tests need a POSIX machine with Debian cron (see .ci/run)")
    import fcntl

    with open(LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # waits while another checkout's test holds the crontab
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _crontab_state() -> str | None:
    """The current crontab text, or None when there is none."""
    proc = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    if proc.returncode != 0:
        assert "no crontab" in proc.stderr.lower(), f"`crontab -l` failed: {proc.stderr}"
        return None
    return proc.stdout


def _restore(saved: str | None) -> None:
    if saved is None:
        subprocess.run(["crontab", "-r"], capture_output=True)
    else:
        subprocess.run(["crontab", "-"], input=saved, text=True, check=True)


@pytest.fixture
def real_crontab():
    """The real crontab of this user, saved first and restored afterwards, under the lock."""
    if shutil.which("crontab") is None:
        pytest.fail("the `crontab` command is missing; install Debian cron (`apt-get install cron`, as .ci/run does)")
    with machine_lock():
        saved = _crontab_state()
        try:
            yield saved
        finally:
            _restore(saved)
            assert _crontab_state() == saved, "the previous crontab was not restored"


def _cron_daemon_running() -> bool:
    for p in psutil.process_iter(["name"]):
        if p.info["name"] in ("cron", "crond"):
            return True
    return False


@contextlib.contextmanager
def cron_daemon():
    """A running cron daemon: the machine's, or one started here (and stopped afterwards).

    Started after the crontab is written, our own daemon reads it at start-up: no dependence on
    cron noticing the spool's modification time within the wait.
    """
    if _cron_daemon_running():
        yield None
        return
    cron = shutil.which("cron") or ("/usr/sbin/cron" if Path("/usr/sbin/cron").exists() else None)
    if cron is None:
        pytest.fail("no cron daemon is running and the `cron` program is missing; install Debian cron")
    if os.geteuid() != 0:
        pytest.fail("no cron daemon is running and only root can start one here; start cron "
                    "(`sudo service cron start`) or run the suite as root, as .ci/run does")
    proc = subprocess.Popen([cron, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    if proc.poll() is not None:
        pytest.fail(f"`cron -f` exited at once with status {proc.returncode}")
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _diagnosis(home: Path) -> str:
    log = home / "logs" / "cron.log"
    spool = subprocess.run(["ls", "-la", "--full-time", "/var/spool/cron/crontabs"], capture_output=True, text=True)
    return (f"cron daemon running: {_cron_daemon_running()}; crontab:\n{_crontab_state()}\nspool:\n{spool.stdout}"
            f"cron.log: {log.read_text()[-2000:] if log.exists() else '(none)'}")


def test_install_and_uninstall_leave_the_real_crontab_as_it_was(real_crontab, tmp_path):
    from turbomode import config

    user_lines = "# a line of the user's\n7 7 * * * /bin/true\n"
    subprocess.run(["crontab", "-"], input=user_lines, text=True, check=True)
    target = se.Target(se.find_executable(), str(tmp_path / "tm home %1"))
    si.install_cron(config.defaults(), target)
    installed = _crontab_state()
    assert installed == user_lines + se.render_cron(config.defaults(), target)
    assert si.install_cron(config.defaults(), target).action == "unchanged"
    # Debian's crontab validates what it is given: the CRON_TZ variant is accepted too.
    zoned = config.defaults().with_overrides(general__timezone="America/New_York")
    assert si.install_cron(zoned, target).action == "installed"
    assert _crontab_state() == user_lines + se.render_cron(zoned, target)
    si.uninstall_cron()
    assert _crontab_state() == user_lines


def test_the_block_runs_under_the_real_cron_daemon(real_crontab, tmp_path):
    """Proof that the line, its environment and its paths work: cron's own run lands in the ledger.

    The home has a space and a % in its name (quoting and cron's % rule); cron runs the line with
    PATH=/usr/bin:/bin and no profile. `maintain` is cheap and needs no network.
    """
    home = tmp_path / "cron home 100%"
    home.mkdir()
    off = "".join(f"[jobs.{j}]\nenabled = false\n" for j in ("ingest", "train", "scan", "backtest", "drift"))
    (home / "turbomode.toml").write_text(
        "[catchup]\nat_reboot = false\nheartbeat = \"\"\n"
        + off + "[jobs.maintain]\nschedule = \"* * * * *\"\n"
    )
    env = {**os.environ, "TURBOMODE_HOME": str(home)}
    exe = se.find_executable()
    time.sleep(1.1)  # a running cron compares the spool's mtime in whole seconds with its last look
    install = subprocess.run([*exe, "schedule", "install", "--target", "cron"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert install.returncode == 0, install.stderr
    block = _crontab_state()
    assert "* * * * * TURBOMODE_HOME=" in block and "\\%" in block

    rows: list[tuple] = []
    try:
        with cron_daemon():
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and not any(r[2] == "succeeded" for r in rows):
                time.sleep(2)
                rows = _cron_runs(home / "turbomode.db")
            diagnosis = _diagnosis(home)
    finally:
        uninstall = subprocess.run([*exe, "schedule", "uninstall", "--target", "cron"], env=env,
                                   capture_output=True, text=True, timeout=120)
    assert any(r == ("maintain", "cron", "succeeded") for r in rows), (
        f"no successful cron-triggered run in the ledger after {WAIT_S} s: {rows}; {diagnosis}")
    # cron may start a minute's line twice around its own start-up; the lock turns the second into a skip.
    assert all(r[2] in ("succeeded", "skipped") for r in rows), rows
    assert (home / "logs" / "cron.log").exists()  # the line's output went where the block says
    assert uninstall.returncode == 0, uninstall.stderr
    assert "# BEGIN turbomode" not in (_crontab_state() or "")


def _cron_runs(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        try:
            return conn.execute("SELECT task, trigger, status FROM task_runs WHERE trigger = 'cron'"
                                " AND status != 'running' ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the first run is still creating the schema
            return []
