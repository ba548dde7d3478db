"""Homes in the paths Windows users have: drive letters, spaces, non-ASCII, either slash.

`C:\\Users\\Zoë Łukasiewicz\\AppData\\...` is an ordinary home folder on Windows. The whole path of a
home — config, database, backups, restore, report, the Task Scheduler export — runs in one here (in
the Windows lane under a real drive letter; on Linux the same code with POSIX paths).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import NOW
from tests.report.seed import seed_everything

NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


@pytest.fixture
def odd_home(tmp_path) -> Path:
    return tmp_path / "Zoë Łukasiewicz" / "My TurboMode データ"


def test_a_home_with_spaces_and_non_ascii_runs_the_whole_life_cycle(cli, odd_home, runner):
    life_cycle(runner, odd_home)


# '#', '?' and '%' end or change the path of an SQLite URI unless quoted ('?' is not allowed in a
# Windows file name)
URI_NAMES = ["C# projects", "100% mine", "50%20 off"] + ([] if os.name == "nt" else ["why? not"])


@pytest.mark.parametrize("name", URI_NAMES)
def test_a_home_whose_path_holds_uri_characters_runs_the_whole_life_cycle(cli, tmp_path, runner, name):
    life_cycle(runner, tmp_path / name / "turbomode")


def life_cycle(runner, odd_home: Path) -> None:
    """config init, a seeded database, maintain, restore, report, status and the Task Scheduler export."""
    from turbomode.cli.main import app

    def run(*args):
        return runner.invoke(app, ["--home", str(odd_home), *args], catch_exceptions=False)

    assert run("config", "init").exit_code == 0
    assert (odd_home / "turbomode.toml").is_file()
    from turbomode.store.db import connect

    conn = connect(odd_home / "turbomode.db")
    seed_everything(conn, NOW)
    conn.close()
    assert run("maintain", "--no-deps").exit_code == 0
    (backup,) = (odd_home / "backups").glob("turbomode-*.db")
    restored = run("restore", str(backup), "--yes", "--json")
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["database"] == str(odd_home / "turbomode.db")
    assert sum(json.loads(restored.stdout)["rows"].values()) > 20  # the seeded rows came back
    report = run("report")
    assert report.exit_code == 0 and (odd_home / "report.html").is_file()
    status = run("status", "--json")
    assert status.exit_code in (0, 1) and json.loads(status.stdout)["jobs"]
    export = run("schedule", "export", "--windows", str(odd_home / "task xml"))
    assert export.exit_code == 0, export.output
    for xml in (odd_home / "task xml").glob("*.xml"):
        args = ET.parse(xml).getroot().find("t:Actions/t:Exec/t:Arguments", NS).text
        assert f'--home "{odd_home}"' in args  # quoted once, whole, as Task Scheduler passes it on


def test_the_same_home_spelled_with_forward_slashes_is_the_same_home(cli, odd_home, runner):
    from turbomode.cli.main import app

    assert runner.invoke(app, ["--home", str(odd_home), "config", "init"]).exit_code == 0
    other_spelling = odd_home.as_posix() + "/"  # C:/Users/... as typed in PowerShell
    result = runner.invoke(app, ["--home", other_spelling, "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout)["path"]) == odd_home / "turbomode.toml"


@pytest.mark.skipif(os.name != "nt", reason="drive letters are Windows'")
def test_a_home_on_another_drive_than_the_working_folder(cli, runner, tmp_path, monkeypatch):
    """Backups, restores and reports rename only within one folder: a home on D:\\ while the shell
    is on C:\\ never renames across drives (which Windows refuses)."""
    from turbomode.cli.main import app

    drives = [f"{d}:\\" for d in "ZYXWVUTSRQPONMLKJIHGFED" if os.path.isdir(f"{d}:\\")]
    other = [d for d in drives if Path(d).drive.upper() != Path(tmp_path).drive.upper()]
    if not other:
        pytest.skip("one drive only")
    home = Path(other[0]) / "tmp" / f"turbomode-drive-test-{os.getpid()}"
    try:
        home.mkdir(parents=True)
    except OSError:
        pytest.skip(f"{other[0]} is not writable")
    try:
        monkeypatch.chdir(tmp_path)
        assert runner.invoke(app, ["--home", str(home), "maintain", "--no-deps"]).exit_code == 0
        (backup,) = (home / "backups").glob("turbomode-*.db")
        copy = tmp_path / backup.name  # the backup the user keeps on C:
        copy.write_bytes(backup.read_bytes())
        assert runner.invoke(app, ["--home", str(home), "restore", str(copy), "--yes"]).exit_code == 0
        assert sqlite3.connect(home / "turbomode.db").execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
