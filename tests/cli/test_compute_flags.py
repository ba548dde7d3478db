"""--workers and --dask on train, backtest and drift; status and catchup never load Dask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("train", "backtest", "drift")


@pytest.mark.parametrize("command", COMMANDS)
def test_the_job_commands_document_both_flags(cli, command):
    out = cli(command, "--help").output
    assert "--workers" in out and "--dask" in out and "ADDRESS" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_workers_and_dask_together_are_one_line_and_exit_2(cli, home, command):
    result = cli(command, "--workers", "2", "--dask", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "cannot be combined with --dask" in result.output and "Traceback" not in result.output


def test_dask_without_the_extra_is_one_line_exit_2_and_runs_no_prerequisite(cli, home, monkeypatch):
    import importlib.util
    import sqlite3

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    result = cli("train", "--dask", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "pip install 'turbomode[dask]'" in result.output
    db = home / "turbomode.db"
    ran = sqlite3.connect(db).execute("SELECT COUNT(*) FROM task_runs").fetchone()[0] if db.exists() else 0
    assert ran == 0  # not even the stale ingest ran first


def test_a_malformed_dask_address_is_exit_2(cli, home):
    result = cli("backtest", "--dask", "http://scheduler:8786")
    assert result.exit_code == 2 and "--dask" in result.output and "tcp://host:8786" in result.output


PROBE = """
import atexit, json, sys
atexit.register(lambda: open({out!r}, "w").write(json.dumps([m for m in ("dask", "distributed") if m in sys.modules])))
sys.argv = ["turbomode", *{args!r}]
from turbomode.cli.main import main
main()
"""


@pytest.mark.parametrize("args", [("status",), ("status", "--json"), ("catchup",), ("catchup", "--dry-run")])
def test_status_and_catchup_never_import_dask_even_when_the_config_asks_for_it(sched_home, fake_jobs, alerts_spy,
                                                                               cli, tmp_path, args):
    assert cli("catchup").exit_code == 0  # every job succeeds now: nothing is due
    with open(sched_home / "turbomode.toml", "a", encoding="utf-8") as fh:
        fh.write('[compute]\nbackend = "dask"\naddress = "tcp://127.0.0.1:9"\n')
    out = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", PROBE.format(out=str(out), args=list(args))], cwd=REPO,
                          env={**os.environ}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out.read_text()) == []


@pytest.mark.parametrize("address", ["notanaddress", "tcp://scheduler", "tcp://scheduler:99999", "tcp://[::1]"])
def test_a_dask_address_without_a_usable_port_is_refused_by_config_validate(cli, home, address):
    # every Dask scheme needs a port: validate called these valid, and train then failed trying to connect
    home.mkdir(parents=True, exist_ok=True)
    (home / "turbomode.toml").write_text(f'[compute]\nbackend = "dask"\naddress = "{address}"\n')
    result = cli("config", "validate")
    assert result.exit_code == 2, result.output
    assert "config option compute.address" in result.output and "port" in result.output


def test_a_dask_flag_without_a_port_is_named_before_connecting(cli, home):
    result = cli("backtest", "--dask", "notanaddress")
    assert result.exit_code == 2, result.output
    assert "--dask 'notanaddress' needs a port" in result.output and "cannot reach" not in result.output
