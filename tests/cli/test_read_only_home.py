"""A home this user can read but not write — a monitor's account watching another user's home, or a
home on a read-only mount — still answers `status`, `signals` and `history`; `report` says where it
can write instead. SQLite reads a WAL database through an index file it must create in the folder, so
before the fix every read-only command there failed with "unable to open database file".

The folder is made read-only for real: a read-only tmpfs mount when the tests run as root (root
ignores permission bits), or permission bits otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import NOW
from tests.report.seed import seed_everything

pytestmark = pytest.mark.skipif(os.name == "nt", reason="Windows folders have no read-only permission bit")


@pytest.fixture
def read_only_home(tmp_path):
    from turbomode.store.db import connect

    made = tmp_path / "made"
    made.mkdir()
    conn = connect(made / "turbomode.db")
    seed_everything(conn, NOW)
    conn.close()  # the last connection checkpoints the write-ahead log into the database and deletes it
    assert not (made / "turbomode.db-wal").exists()
    home = tmp_path / "home"
    home.mkdir()
    if os.geteuid() != 0:
        shutil.copytree(made, home, dirs_exist_ok=True)
        home.chmod(0o555)
        yield home
        home.chmod(0o755)
        return
    if not shutil.which("mount") or subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(home)],
                                                   capture_output=True).returncode != 0:
        pytest.skip("running as root without the right to mount: no folder can be read-only for root here")
    try:
        shutil.copytree(made, home, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True, capture_output=True)
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], capture_output=True)


def run(home, *args):
    """The real CLI as its own process, as a monitor would start it."""
    return subprocess.run([sys.executable, "-m", "turbomode", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=120)


def test_status_signals_and_history_read_a_home_this_user_cannot_write(read_only_home):
    assert not os.access(read_only_home, os.W_OK)
    status = run(read_only_home, "status", "--json")
    assert status.returncode in (0, 1), status.stderr  # 1: the seeded runs are old by today's clock
    jobs = {j["name"]: j for j in json.loads(status.stdout)["jobs"]}
    assert jobs["scan"]["last_success"] is not None  # read from the seeded ledger
    assert "error" not in status.stderr

    signals = run(read_only_home, "signals", "--format", "json")
    assert signals.returncode == 0, signals.stderr
    assert len(json.loads(signals.stdout)) == 24  # every seeded signal

    history = run(read_only_home, "history")
    assert history.returncode == 0, history.stderr
    assert not (read_only_home / "turbomode.db-shm").exists()


def test_report_in_a_read_only_home_names_the_page_and_the_way_out(read_only_home, tmp_path):
    page = run(read_only_home, "report")
    assert page.returncode == 2
    [line] = [ln for ln in page.stderr.splitlines() if ln.startswith("error:")]
    assert f"cannot write {read_only_home / 'report.html'}" in line
    assert "`turbomode report --out FILE`" in line

    elsewhere = run(read_only_home, "report", "--out", str(tmp_path / "page.html"))
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "Signals" in (tmp_path / "page.html").read_text(encoding="utf-8")
