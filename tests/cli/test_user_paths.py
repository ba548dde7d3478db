"""Errors about a path the user gave name that path, exit 2, and leave nothing behind (issue 10 item 13)."""

from __future__ import annotations

import shutil

import pytest

from tests.cli.unprivileged import open_folder, posix_only, run_as_nobody


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def test_export_windows_onto_an_existing_file_is_one_line_naming_it(cli, tmp_path):
    target = tmp_path / "tasks.xml"
    target.write_text("mine")
    result = cli("schedule", "export", "--windows", str(target))
    assert result.exit_code == 2
    assert f"--windows {target} is a file, not a folder" in one_line(result.output)
    assert target.read_text() == "mine"


def test_report_out_a_folder_is_one_line_and_leaves_no_temporary_file(cli, tmp_path, fresh_db):
    folder = tmp_path / "reports"
    folder.mkdir()
    result = cli("report", "--out", str(folder))
    assert result.exit_code == 2
    assert one_line(result.output) == (f"error: --out {folder} is a folder; give a file name, such as "
                                       f"{folder / 'report.html'}")
    assert list(folder.iterdir()) == [] and not list(tmp_path.glob(".*.tmp"))


@pytest.fixture
def shared_home():
    folder = open_folder()
    home = folder / "home"
    from turbomode.store.db import connect

    connect(home / "turbomode.db").close()
    home.chmod(0o777)
    (home / "turbomode.db").chmod(0o666)
    locked = folder / "locked"
    locked.mkdir(mode=0o755)  # only its owner may write here
    yield home, locked
    shutil.rmtree(folder, ignore_errors=True)


@posix_only
def test_report_out_into_a_folder_this_user_cannot_write_names_the_users_file(shared_home):
    home, locked = shared_home
    proc = run_as_nobody(["--home", str(home), "report", "--out", str(locked / "page.html")], home.parent)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc.stderr)
    assert str(locked / "page.html") in line and ".tmp" not in line, line
    assert list(locked.iterdir()) == []
