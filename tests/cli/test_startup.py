"""status, catchup (nothing due) and --help stay off the heavy libraries (SPEC §11: ≤ 0.5 s, ≤ 1.2x a bare
Typer app), and off the lighter ones that together cost more than that margin."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ["pandas", "numpy", "sqlite_utils", "sklearn", "xgboost", "lightgbm", "yfinance", "exchange_calendars"]
# Each costs 2-60 ms of a ~40 ms budget over the floor: the rich table and progress machinery, psutil (the
# start time comes from /proc on Linux), the alert channels, platformdirs (TURBOMODE_HOME is set), and
# the other commands' modules (the CLI builds only the command it runs).
COSTLY = ["rich", "rich.console", "rich.table", "rich.progress", "psutil", "turbomode.ops.alerts", "platformdirs",
          *(f"turbomode.cli.{m}_cmd" for m in ("demo", "history", "signals", "report", "ingest", "scan", "train",
                                                "backtest", "drift", "maintain", "schedule", "config"))]

# Run the real entry point, then report which heavy modules ended up imported.
PROBE = """
import atexit, json, sys
heavy = {heavy!r}
atexit.register(lambda: open({out!r}, "w").write(json.dumps([m for m in heavy if m in sys.modules])))
sys.argv = ["turbomode", *{args!r}]
from turbomode.cli.main import main
main()
"""


def _imported(args, tmp_path, watch=HEAVY):
    out = tmp_path / "modules.json"
    code = PROBE.format(heavy=list(watch), out=str(out), args=list(args))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ}, capture_output=True,
                          text=True, timeout=120)
    return proc, json.loads(out.read_text())


@pytest.fixture
def nothing_due(sched_home, fake_jobs, alerts_spy, cli):
    assert cli("catchup").exit_code == 0  # every job succeeds now, with the real clock
    return sched_home


@pytest.mark.parametrize("args", [("status",), ("status", "--json"), ("catchup",), ("catchup", "--json"),
                                  ("catchup", "--dry-run"), ("history",)])
def test_fast_commands_import_no_heavy_library(nothing_due, tmp_path, args):
    proc, heavy = _imported(args, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert heavy == []
    if args[0] == "catchup" and "--json" not in args:
        assert "nothing to catch up" in proc.stdout


@pytest.mark.parametrize("args", [("status",), ("status", "--json"), ("catchup",), ("catchup", "--json")])
def test_fast_commands_import_none_of_the_costly_modules(nothing_due, tmp_path, args):
    proc, costly = _imported(args, tmp_path, COSTLY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert costly == []


def test_a_status_that_logs_nothing_does_not_import_the_rotating_handler(nothing_due, tmp_path):
    proc, loaded = _imported(("status",), tmp_path, ["logging.handlers"])
    assert proc.returncode == 0 and loaded == []


def test_help_imports_no_heavy_library(tmp_path):
    proc, heavy = _imported(("--help",), tmp_path)
    assert proc.returncode == 0 and heavy == []


def test_the_probe_would_notice_a_heavy_import(nothing_due, tmp_path):
    # the same probe on a command that must load the NYSE calendar itself (empty session cache)
    import sqlite3

    conn = sqlite3.connect(nothing_due / "turbomode.db")
    conn.execute("DELETE FROM market_sessions")
    conn.commit()
    conn.close()
    proc, heavy = _imported(("status", "--json"), tmp_path)
    assert "exchange_calendars" in heavy and "pandas" in heavy


def test_the_cli_freezes_its_objects_so_exit_skips_the_final_collection(tmp_path):
    """The final garbage collection at exit walks every library object (0.3 s after a scan); gc.freeze skips it."""
    out = tmp_path / "frozen.txt"
    code = (f"import atexit, gc, sys; atexit.register(lambda: open({str(out)!r}, 'w').write(str(gc.get_freeze_count())));"
            " sys.argv = ['turbomode', '--version']; from turbomode.cli.main import main; main()")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("turbomode ")
    assert int(out.read_text()) > 10_000
