"""The CLI against a real cluster started as a user would: `dask scheduler` and two `dask worker`
programs on 127.0.0.1 — and what happens when a worker, every worker or the scheduler goes away."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.compute.conftest import free_port
from tests.compute.market import write_config, write_market

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
TIMEOUT = 5  # compute.timeout_seconds in these homes: how long a cluster may be unreachable or empty


@pytest.fixture
def market(home):
    write_config(home, extra=f"[compute]\ntimeout_seconds = {TIMEOUT}\n")
    write_market(home)
    return home


def turbomode(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "turbomode", "--home", str(home), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def ledger(home: Path, task: str = "train") -> tuple:
    conn = sqlite3.connect(home / "turbomode.db")
    try:
        return conn.execute("SELECT status, exit_code, error, summary FROM task_runs WHERE task = ? ORDER BY id DESC",
                            (task,)).fetchone()
    finally:
        conn.close()


def nothing_written(home: Path) -> bool:
    conn = sqlite3.connect(home / "turbomode.db")
    try:
        models = conn.execute("SELECT COUNT(*) FROM model_metadata").fetchone()[0]
    finally:
        conn.close()
    folders = [p for p in (home / "models").iterdir()] if (home / "models").exists() else []
    return models == 0 and folders == []


def test_train_runs_on_a_cluster_of_separate_programs_and_the_ledger_says_where(market, cluster_factory):
    cluster = cluster_factory()
    code, out, err = finish(turbomode(market, "train", "--no-deps", "--json", "--dask", cluster.address))
    assert code == 0, err
    ran_on = json.loads(out)["summary"]["compute"]
    assert ran_on["backend"] == "dask" and ran_on["workers"] == 2 and ran_on["address"] == cluster.address
    assert ran_on["pieces"]["fit_piece"]["count"] == 4
    status, _, _, summary = ledger(market)
    assert status == "succeeded" and json.loads(summary)["compute"]["address"] == cluster.address
    # and the same cluster serves a backtest
    code, out, err = finish(turbomode(market, "backtest", "--no-deps", "--json", "--folds", "2", "--dask",
                                      cluster.address))
    assert code == 0, err
    assert json.loads(out)["summary"]["compute"]["pieces"]["fold_sector_signals"]["count"] == 4


def test_a_worker_killed_mid_train_costs_a_retry_not_the_run(market, cluster_factory):
    cluster = cluster_factory()
    proc = turbomode(market, "train", "--no-deps", "--json", "--dask", cluster.address)
    victim = cluster.wait_until_running("turbomode-fit_piece")
    cluster.kill(victim)  # a piece was running on it
    code, out, err = finish(proc)
    assert code == 0, err
    s = json.loads(out)["summary"]
    assert s["models"] == 4 and s["compute"]["pieces"]["fit_piece"]["count"] == 4
    assert len(list((market / "models").iterdir())) == 1  # one whole version


def test_losing_every_worker_fails_the_run_cleanly_and_writes_nothing(market, cluster_factory):
    cluster = cluster_factory()
    proc = turbomode(market, "train", "--no-deps", "--dask", cluster.address)
    cluster.wait_until_running("turbomode-fit_piece")
    cluster.kill("w0")
    cluster.kill("w1")
    code, out, err = finish(proc)
    assert code == 1
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"has had no workers for {TIMEOUT} s" in err and "nothing was written" in err
    status, exit_code, error, _ = ledger(market)
    assert (status, exit_code) == ("failed", 1) and "no workers" in error
    assert nothing_written(market)


def test_a_scheduler_lost_mid_run_is_exit_1_and_the_ledger_says_why(market, cluster_factory):
    cluster = cluster_factory()
    proc = turbomode(market, "train", "--no-deps", "--dask", cluster.address)
    cluster.wait_until_running("turbomode-fit_piece")
    cluster.kill("scheduler")
    code, out, err = finish(proc)
    assert code == 1, err
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert f"lost the Dask scheduler at {cluster.address}" in err
    status, exit_code, error, _ = ledger(market)
    assert (status, exit_code) == ("failed", 1) and "lost the Dask scheduler" in error
    assert nothing_written(market)


def test_an_unreachable_scheduler_is_one_line_and_exit_2(market):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    t = time.monotonic()
    code, out, err = finish(turbomode(market, "train", "--no-deps", "--dask", address))
    assert code == 2
    assert err.strip() == (f"error: cannot reach the Dask scheduler at {address} within {TIMEOUT} s "
                           + err.strip().split(f"within {TIMEOUT} s ", 1)[1])
    assert err.strip().count("\n") == 0 and "Traceback" not in err and "start it (`dask scheduler`)" in err
    assert time.monotonic() - t < 60
    assert ledger(market)[:2] == ("failed", 2)


def test_a_worker_missing_a_library_is_named(market, cluster_factory):
    cluster = cluster_factory(workers=1, preload=HERE / "hide_lightgbm.py")
    code, out, err = finish(turbomode(market, "train", "--no-deps", "--dask", cluster.address))
    assert code == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert "cannot import lightgbm" in err and "the Dask worker tcp://127.0.0.1:" in err
    assert nothing_written(market)
