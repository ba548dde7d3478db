"""A full disk or an unwritable home: one line naming the folder and the cause, exit 2, no logging
noise, nothing lost; the database reads again as soon as space exists (issue 10 item 1).

The full disk is a real 4 MB tmpfs when this process may mount one (root, as in .ci/run). Where
it may not, the same test runs the command under ``RLIMIT_FSIZE`` (a file-size limit: writes past
it fail with EFBIG, which SQLite reports as a disk I/O error); on Windows, which has neither, the
command runs in-process with SQLite's own size cap (``PRAGMA max_page_count``: a real SQLITE_FULL).
Each way asserts the same one line, exit code and intact data, and the test says which way it ran.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.unprivileged import open_folder, posix_only, run_as_nobody

SYMBOLS = "AAPL,MSFT"


def run_cli(args: list[str], preexec=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOMODE_")}
    return subprocess.run([sys.executable, "-m", "turbomode", *args], env=env, capture_output=True, text=True,
                          timeout=300, preexec_fn=preexec)


def only_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{text}"
    assert "Logging error" not in text and "Traceback" not in text
    return lines[0]


def bars(home: Path) -> int:
    conn = sqlite3.connect(home / "turbomode.db")
    try:
        return conn.execute("SELECT count(*) FROM price_data").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs, or None when this process may not mount one."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mnt)], capture_output=True).returncode == 0
    try:
        yield mnt if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def file_size_limit(limit: int):
    import resource  # POSIX only

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_is_one_line_exit_2_and_the_database_reads_again_once_space_exists(small_disk, tmp_path):
    home = (small_disk or tmp_path) / "home"
    first = run_cli(["--home", str(home), "ingest", "--source", "sample", "--symbols", SYMBOLS,
                     "--start", "2025-06-01"])
    assert first.returncode == 0, first.stderr
    stored = bars(home)
    grow = ["--home", str(home), "ingest", "--source", "sample", "--symbols", "AAPL,MSFT,GOOGL,AMZN,NVDA",
            "--full"]

    if small_disk is not None:  # a real full disk
        filler = fill(small_disk)
        proc = run_cli(grow)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        line = only_line(proc.stderr)
        assert line.startswith(f"error: the disk holding {home} is full (")
        assert "free some space" in line
        # a read-only command on the full disk says the same, instead of "needs a schema upgrade"
        status = run_cli(["--home", str(home), "status"])
        assert status.returncode == 2 and "is full" in only_line(status.stderr)
        filler.unlink()
    elif os.name == "posix":  # no mount allowed here: the same command under a file-size limit
        limit = (home / "turbomode.db").stat().st_size  # every file may be read, none may grow past this
        proc = run_cli(grow, preexec=file_size_limit(limit))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        line = only_line(proc.stderr)
        assert str(home) in line and ("disk I/O error" in line or "is full" in line), line
    else:  # Windows: SQLite's own cap on the database's size, in-process
        line = _full_in_process(grow, home)
        assert f"the disk holding {home} is full" in line, line

    # space again: the database reads at once, and nothing stored was lost
    status = run_cli(["--home", str(home), "status", "--json"])
    assert status.returncode in (0, 1), status.stdout + status.stderr
    assert json.loads(status.stdout)["data"]["latest_bar"] is not None
    assert bars(home) == stored
    history = json.loads(run_cli(["--home", str(home), "history", "--json"]).stdout)
    assert history[-1]["status"] == "succeeded"  # the first ingest is still on record


def _full_in_process(args: list[str], home: Path) -> str:
    from typer.testing import CliRunner

    from turbomode.cli.main import app
    from turbomode.store import db

    real = db.connect

    def capped(*a, **k):
        conn = real(*a, **k)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # not one page more: SQLITE_FULL
        return conn

    db.connect = capped
    try:
        result = CliRunner().invoke(app, args)
    finally:
        db.connect = real
    assert result.exit_code == 2, result.output
    return only_line(result.stderr)


@pytest.fixture
def root_owned_home():
    """A home with a database and logs, then made unwritable for anyone but its owner."""
    folder = open_folder()
    home = folder / "home"
    first = run_cli(["--home", str(home), "ingest", "--source", "sample", "--symbols", SYMBOLS,
                     "--start", "2025-06-01"])
    assert first.returncode == 0, first.stderr
    for path in [home, *home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield home
    shutil.rmtree(folder, ignore_errors=True)


@posix_only
def test_a_home_this_user_cannot_write_is_one_line_exit_2_without_logging_noise(root_owned_home):
    home = root_owned_home
    stored = bars(home)
    log_before = (home / "logs" / "turbomode.log").read_bytes()
    proc = run_as_nobody(["--home", str(home), "ingest", "--source", "sample", "--symbols", SYMBOLS],
                         home.parent)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = only_line(proc.stderr)
    assert str(home) in line and ("read-only" in line or "not writable" in line or "permission denied" in line)
    assert bars(home) == stored
    assert (home / "logs" / "turbomode.log").read_bytes() == log_before
