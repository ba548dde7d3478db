"""status, catchup (nothing due) and --help stay off the heavy libraries (SPEC §11: ≤ 0.5 s)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ["pandas", "numpy", "sqlite_utils", "sklearn", "xgboost", "lightgbm", "yfinance", "exchange_calendars"]

# Run the real entry point, then report which heavy modules ended up imported.
PROBE = """
import atexit, json, sys
heavy = {heavy!r}
atexit.register(lambda: open({out!r}, "w").write(json.dumps([m for m in heavy if m in sys.modules])))
sys.argv = ["turbomode", *{args!r}]
from turbomode.cli.main import main
main()
"""


def _imported(args, tmp_path):
    out = tmp_path / "modules.json"
    code = PROBE.format(heavy=HEAVY, out=str(out), args=list(args))
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
