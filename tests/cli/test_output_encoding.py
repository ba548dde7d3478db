"""Every command's output survives a stream in the Windows ANSI code page (cp1252).

On Windows, output redirected to a file or a pipe (`turbomode status > status.txt`, a monitor, Task
Scheduler's capture) is encoded in the ANSI code page, strictly: `status` printed ✗ and died with
UnicodeEncodeError. Here the real entry point runs with stdout and stderr replaced by exactly such
streams (cp1252, errors='strict'), on Linux as on Windows, for every command that prints; the home
folder's name has a character cp1252 lacks, so printed paths are covered too.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NOW
from tests.report.seed import seed_everything

REPO = Path(__file__).resolve().parents[2]


def cp1252_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="strict", write_through=True)


def run_main(monkeypatch, *args: str) -> tuple[int, str, str]:
    """`turbomode ARGS` in-process through main(), as the console launcher runs it; (exit, out, err)."""
    from turbomode.cli.main import main

    out, err = cp1252_stream(), cp1252_stream()
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", out)
        m.setattr(sys, "stderr", err)
        m.setattr(sys, "argv", ["turbomode", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.buffer.getvalue().decode("cp1252"), err.buffer.getvalue().decode("cp1252")


@pytest.fixture
def seeded_home(tmp_path, monkeypatch) -> Path:
    """A home with signals, runs, sector stats, a backtest and a drift check; its name is not cp1252."""
    from turbomode.store.db import connect

    home = tmp_path / "Łódź TurboMode ✓"
    monkeypatch.setenv("TURBOMODE_HOME", str(home))
    home.mkdir()
    conn = connect(home / "turbomode.db")
    seed_everything(conn, NOW)
    conn.close()
    return home


# (arguments, exit codes that are right for them on the seeded home)
COMMANDS = [
    (("status",), {1}),  # stale and failed jobs: the ✗ lines
    (("status", "--json"), {1}),
    (("catchup", "--dry-run"), {0}),
    (("catchup", "--dry-run", "--json"), {0}),
    (("history",), {0}),
    (("history", "--json"), {0}),
    (("signals",), {0}),
    (("signals", "--format", "csv"), {0}),
    (("signals", "--format", "json"), {0}),
    (("report",), {0}),
    (("schedule", "show"), {0}),
    (("schedule", "export", "--cron"), {0}),
    (("config", "show"), {0}),
    (("config", "validate"), {0}),
    (("config", "init"), {0}),
    (("drift", "--no-deps"), {0, 1, 3, 4}),
    (("scan", "--no-deps"), {4}),  # no champion: refused, with a message
    (("maintain",), {0}),
    (("--version",), {0}),
    (("--help",), {0}),
]


@pytest.mark.parametrize("args, codes", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_command_output_in_the_ansi_code_page(seeded_home, monkeypatch, args, codes):
    code, out, err = run_main(monkeypatch, *args)
    assert "UnicodeEncodeError" not in out + err and "Traceback" not in out + err
    assert "unexpected" not in err, err
    assert code in codes, (code, out, err)
    assert out or err


def test_status_marks_fall_back_to_plain_stand_ins(seeded_home, monkeypatch):
    code, out, _ = run_main(monkeypatch, "status")
    assert code == 1
    assert "x signals" in out or "+ signals" in out  # ✓/✗ became +/x, the columns kept
    assert "UNHEALTHY" in out


def test_windows_export_writes_its_files_and_says_where(seeded_home, monkeypatch, tmp_path):
    code, out, err = run_main(monkeypatch, "schedule", "export", "--windows", str(tmp_path / "xml ✓"))
    assert code == 0, err
    assert len(list((tmp_path / "xml ✓").glob("*.xml"))) == 7


@pytest.mark.parametrize("command", ["demo", "status", "catchup", "history", "signals", "report", "ingest",
                                     "scan", "train", "backtest", "drift", "maintain", "restore", "schedule",
                                     "config"])
def test_every_help_in_the_ansi_code_page(seeded_home, monkeypatch, command):
    code, out, err = run_main(monkeypatch, command, "--help")
    assert code == 0 and "Usage" in out and not err


def test_status_redirected_in_a_real_process(seeded_home, tmp_path):
    """The whole process, as `turbomode status > status.txt` runs it on Windows (there cp1252 is the
    default for a redirected stream; PYTHONIOENCODING makes Linux do the same)."""
    out_file = tmp_path / "status.txt"
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "TURBOMODE_HOME": str(seeded_home)}
    with open(out_file, "wb") as fh:
        proc = subprocess.run([sys.executable, "-m", "turbomode", "status"], cwd=REPO, env=env, stdout=fh,
                              stderr=subprocess.PIPE, timeout=120)
    err = proc.stderr.decode("cp1252")
    assert proc.returncode == 1 and "Traceback" not in err and "unexpected" not in err, err
    assert "UNHEALTHY" in out_file.read_bytes().decode("cp1252")
