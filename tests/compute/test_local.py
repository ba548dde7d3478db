"""The local backend: a process pool on this machine (one worker: inline), behind the one interface."""

from __future__ import annotations

import os

import pytest

from tests.compute import pieces
from turbomode import compute
from turbomode.errors import ComputeLost


@pytest.fixture
def pool():
    with compute.LocalBackend(2) as backend:
        yield backend


def test_every_piece_comes_back_once_in_the_order_it_finishes(pool):
    # the slow first piece finishes last
    got = list(pool.map(pieces.sleep_then, [("slow", (0.8, "a")), ("fast1", (0.0, "b")), ("fast2", (0.0, "c"))]))
    assert sorted(got) == [("fast1", "b"), ("fast2", "c"), ("slow", "a")]
    assert got[-1] == ("slow", "a")
    described = pool.describe()
    timing = described["pieces"]["sleep_then"]
    assert described == {"backend": "local", "workers": 2, "pieces": {"sleep_then": {
        "count": 3, "seconds": timing["seconds"], "max_seconds": timing["max_seconds"]}}}
    # the slow piece slept 0.8 s in its worker; the two fast ones add only their own overhead, which a
    # loaded machine (or Wine) can stretch, so the bound above is loose and the one below is exact
    assert 0.78 <= timing["max_seconds"] <= timing["seconds"] < 10


def test_the_pieces_run_in_other_processes_and_a_shared_input_is_unpickled_once_per_worker(pool):
    shared = pool.share(pieces.Counted(list(range(1000))))
    got = [out for _, out in pool.map(pieces.pid_and_loads, [(i, (shared, i)) for i in range(24)])]
    pids = {pid for pid, _, _ in got}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert max(loads for _, loads, _ in got) == 1  # each worker read the shared file once, then kept it
    assert sorted(v for _, _, v in got) == [1000 + i for i in range(24)]


def test_one_worker_runs_the_pieces_here_without_copying_them():
    value = pieces.Counted([1, 2, 3])
    with compute.LocalBackend(1) as inline:
        assert inline.share(value) is value
        [(_, (pid, _, total))] = list(inline.map(pieces.pid_and_loads, [("a", (value, 0))]))
    assert pid == os.getpid() and total == 3


def test_a_piece_that_fails_raises_its_own_error(pool):
    with pytest.raises(ValueError, match="bad input"):
        list(pool.map(pieces.fail, [("x", ("bad input",))]))


def test_a_worker_that_dies_fails_the_map_cleanly(pool):
    with pytest.raises(ComputeLost, match="local worker process died"):
        list(pool.map(pieces.die, [("x", (None,))]))


def test_features_in_sector_chunks_are_the_features_of_the_whole_panel():
    import pandas as pd

    from tests.compute.market import SECURITIES
    from turbomode.data.sample import generate
    from turbomode.ml.features import compute_features
    from turbomode.ml.train import features_on
    from datetime import date

    panel = generate(SECURITIES, date(2023, 1, 2), date(2024, 12, 31), seed=3, strength=0.6)
    sectors = {s.symbol: s.sector for s in SECURITIES}
    with compute.LocalBackend(2) as backend:
        chunked = features_on(backend, panel, sectors, min_symbols=1)
        assert backend.stats["features_piece"]["count"] == 2  # one chunk per sector here
    pd.testing.assert_frame_equal(chunked, compute_features(panel, sectors))


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="finds the workers as the fork server's children (POSIX)")
def test_a_local_worker_killed_mid_train_fails_the_run_cleanly_and_writes_nothing(home):
    """Exit 1, the ledger says why, no model version and no registry row."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    import psutil

    from tests.compute.market import write_config, write_market

    write_config(home, trees=200)
    write_market(home)
    proc = subprocess.Popen([sys.executable, "-m", "turbomode", "--home", str(home), "train", "--no-deps",
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the pool's workers are the fork server's children; kill one as soon as it exists
    deadline, victim = time.monotonic() + 120, None
    while victim is None and time.monotonic() < deadline and proc.poll() is None:
        for child in psutil.Process(proc.pid).children(recursive=True):
            if child.ppid() != proc.pid:  # a grandchild: forked by the fork server
                victim = child
                break
        time.sleep(0.05)
    assert victim is not None, "no worker process appeared"
    victim.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert err.strip().count("\n") == 0 and "a local worker process died" in err and "Traceback" not in err
    conn = sqlite3.connect(home / "turbomode.db")
    status, error = conn.execute("SELECT status, error FROM task_runs WHERE task = 'train'").fetchone()
    models = conn.execute("SELECT COUNT(*) FROM model_metadata").fetchone()[0]
    conn.close()
    assert status == "failed" and "worker process died" in error and models == 0
    assert not (home / "models").exists() or list((home / "models").iterdir()) == []


def test_a_worker_that_died_before_a_map_is_reported_as_a_lost_worker_not_a_traceback(pool):
    from concurrent.futures.process import BrokenProcessPool

    died = pool._start().submit(os._exit, 1)  # a worker dies between maps (killed while warming up, say)
    with pytest.raises(BrokenProcessPool):
        died.result(timeout=120)
    with pytest.raises(ComputeLost, match="a local worker process died"):
        list(pool.map(pieces.sleep_then, [("a", (0.0, "a")), ("b", (0.0, "b"))]))


def test_a_train_on_workers_leaves_the_model_libraries_to_them_until_a_champion_is_rescored(home):
    """With workers the coordinating process writes the models' bytes as the pieces returned them:
    it imports scikit-learn, XGBoost and LightGBM (seconds) only to re-score a champion."""
    import json
    import subprocess
    import sys

    from tests.compute.market import write_config, write_market

    write_config(home)
    write_market(home)
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('LIBRARIES=' + ','.join(m for m in ('sklearn', 'xgboost', 'lightgbm') "
             "if m in sys.modules), file=sys.stderr))\n"
             f"sys.argv = ['turbomode', '--home', {str(home)!r}, 'train', '--no-deps', '--json', '--workers', '2']\n"
             "from turbomode.cli.main import main\nmain()\n")

    def train() -> tuple[dict, str]:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["summary"], done.stderr.rsplit("LIBRARIES=", 1)[1].strip()

    first, libraries = train()
    assert libraries == "" and first["promoted"] == ["Energy", "Utilities"]
    second, libraries = train()  # now there are champions to re-score on the new validation rows
    assert libraries == "sklearn,xgboost,lightgbm"
    assert all(s["champion_log_loss"] is not None for s in second["sectors"].values())
