"""Paths TurboMode reads that are neither a file nor a folder. A FIFO (named pipe) blocks whoever opens
it until the other end is opened: as turbomode.db, the log, a price CSV or the universe file it hung
the command forever (a cron job that never ends). A symbolic link to nowhere as turbomode.db was
reported as a folder that is missing or not writable. Each is now named for what it is."""

from __future__ import annotations

import json
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


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_price_csv_that_is_a_fifo_fails_its_symbol_and_the_others_are_stored(tmp_path):
    from tests.cli.test_ingest_cmd import REAL

    home, csv = tmp_path / "home", tmp_path / "csv"
    csv.mkdir(parents=True)
    home.mkdir()
    (home / "universe.csv").write_text("symbol,name,sector\nCALM,Cal-Maine,Consumer Staples\n"
                                       "AAPL,Apple,Information Technology\n")
    (home / "turbomode.toml").write_text(f'[general]\nuniverse = "universe.csv"\n[data]\nsource = "csv"\n'
                                         f'csv_dir = "{csv.as_posix()}"\nstart = "2020-01-01"\n')
    (csv / "CALM.csv").write_bytes((REAL / "CALM-1d-no-bad-divs.csv").read_bytes())
    os.mkfifo(csv / "AAPL.csv")
    proc = turbomode(home, "ingest", "--no-deps", "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert summary["failed"]["AAPL"].startswith(f"{csv / 'AAPL.csv'} is not a regular file")
    assert summary["bars_added"] == 662  # CALM's


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_universe_file_that_is_a_fifo_is_one_line_exit_2(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    os.mkfifo(home / "universe.csv")
    (home / "turbomode.toml").write_text('[general]\nuniverse = "universe.csv"\n')
    proc = turbomode(home, "config", "validate")
    assert proc.returncode == 2, proc.stderr
    assert f"the universe file {home / 'universe.csv'} is not a regular file" in only_line(proc.stderr)
