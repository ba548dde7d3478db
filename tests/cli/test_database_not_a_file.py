"""A turbomode.db that is neither a file nor a folder: a FIFO (named pipe) would block every command
forever on opening it (a cron job that never ends), and a symbolic link to nowhere was reported as a
folder that is missing or not writable. Each is one line naming what the path is, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli.unprivileged import posix_only


def turbomode(home, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOMODE_")}
    return subprocess.run([sys.executable, "-m", "turbomode", "--home", str(home), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def only_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text and "unexpected" not in text
    return lines[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("args", [["status"], ["scan", "--no-deps"], ["maintain"]], ids=" ".join)
def test_a_database_path_that_is_a_fifo_is_refused_instead_of_blocking(tmp_path, args):
    home = tmp_path / "home"
    home.mkdir()
    os.mkfifo(home / "turbomode.db")
    proc = turbomode(home, *args)
    assert proc.returncode == 2, proc.stderr
    assert f"{home / 'turbomode.db'} is not a regular file" in only_line(proc.stderr)


@posix_only
@pytest.mark.parametrize("args", [["status"], ["scan", "--no-deps"]], ids=" ".join)
def test_a_database_path_that_is_a_link_to_nowhere_names_the_link(tmp_path, args):
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "gone" / "turbomode.db"
    os.symlink(target, home / "turbomode.db")
    proc = turbomode(home, *args)
    assert proc.returncode == 2, proc.stderr
    line = only_line(proc.stderr)
    assert f"{home / 'turbomode.db'} is a symbolic link to {target}, which does not exist" in line
    assert not target.parent.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("args, code", [(["config", "validate"], 0), (["scan", "--no-deps"], 4)],
                         ids=["config validate", "scan"])
def test_a_log_file_that_is_a_fifo_is_left_alone_instead_of_blocking(tmp_path, args, code):
    # the log is a convenience: a command runs without it rather than wait forever for a reader
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    os.mkfifo(home / "logs" / "turbomode.log")
    proc = turbomode(home, *args)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and "Logging error" not in proc.stderr
