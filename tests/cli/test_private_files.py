"""Everything TurboMode creates is private on POSIX: files 0600, folders 0700, under a 022 umask
(issue 10 item 16). Real processes, started with the usual umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOMODE_")}
    return subprocess.run([sys.executable, "-m", "turbomode", *args], env=env, capture_output=True, text=True,
                          timeout=300, preexec_fn=lambda: os.umask(0o022))


def test_the_database_backups_config_logs_and_report_are_private(tmp_path):
    home = tmp_path / "home"
    for args in (["config", "init", "--source", "sample"], ["ingest", "--symbols", "AAPL,MSFT", "--start", "2025-06-02"],
                 ["maintain"], ["report"], ["report", "--out", str(home / "out" / "page.html")]):
        proc = run("--home", str(home), *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    made = [home, *home.rglob("*")]
    names = {p.relative_to(home).as_posix() for p in made}
    for expected in ("turbomode.db", "turbomode.toml", "logs/turbomode.log", "report.html", "out/page.html"):
        assert expected in names
    assert any(n.startswith("backups/turbomode-") for n in names)
    loose = {p.relative_to(home).as_posix() or ".": oct(stat.S_IMODE(p.stat().st_mode)) for p in made
             if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}, f"readable by others: {loose}"
