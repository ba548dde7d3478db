"""A train killed mid-write leaves models/.tmp-* behind; the next train or maintain removes it, and
never the folder of a writer that is still alive (issue 10 item 12)."""

from __future__ import annotations

import subprocess
import sys

from tests.ml.test_registry import fits  # noqa: F401 - small real fitted sectors
from turbomode.ml import registry


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def leftovers(models, live_pid: int) -> tuple:
    killed = models / f".tmp-20260101T000000Z-{dead_pid()}"
    (killed / "energy").mkdir(parents=True)
    (killed / "energy" / "logistic.pkl").write_bytes(b"half a model")
    pruning = models / f".pruning-{dead_pid()}-0"
    pruning.mkdir()
    alive = models / f".tmp-20260102T000000Z-{live_pid}"
    alive.mkdir()
    return killed, pruning, alive


def test_maintain_removes_the_temporary_folders_of_killed_writers(cli, home):
    models = home / "models"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed, pruning, alive = leftovers(models, sleeper.pid)
        result = cli("maintain", "--json")
        assert result.exit_code == 0, result.output
        assert not killed.exists() and not pruning.exists()
        assert alive.exists(), "a writer that is still running keeps its folder"
        assert "temporary model folders of killed writers removed: 2" in result.stdout
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_next_write_of_a_version_removes_them_too(tmp_path, fits):
    models = tmp_path / "models"
    models.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed, pruning, alive = leftovers(models, sleeper.pid)
        registry.write_version(models, "v2", fits)
        assert sorted(p.name for p in models.iterdir()) == sorted([alive.name, "v2"])
    finally:
        sleeper.kill()
        sleeper.wait()
