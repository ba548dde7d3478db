"""Errors about a path the user gave name that path, exit 2, and leave nothing behind (issue 10 item 13)."""

from __future__ import annotations

import os
import shutil
import stat

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


def _symlink(link, target) -> None:
    try:
        os.symlink(target, link)
    except (OSError, NotImplementedError):  # Windows without the symlink privilege
        pytest.skip("this user cannot make symbolic links")


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
needs_symlinks = pytest.mark.skipif(os.name == "nt", reason="symbolic links need a privilege on Windows")


@needs_symlinks
def test_report_out_a_symlink_writes_the_file_it_names_and_keeps_the_link(cli, tmp_path, fresh_db):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "real.html").write_text("old page")
    link = tmp_path / "report.html"
    _symlink(link, pages / "real.html")
    result = cli("report", "--out", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == (pages / "real.html").resolve()
    text = (pages / "real.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and "old page" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "pages", "report.html"]  # no temporary file
    assert [p.name for p in pages.iterdir()] == ["real.html"]


@needs_symlinks
def test_report_out_a_symlink_to_a_new_file_creates_that_file(cli, tmp_path, fresh_db):
    link = tmp_path / "report.html"
    _symlink(link, tmp_path / "target.html")
    assert cli("report", "--out", str(link)).exit_code == 0
    assert link.is_symlink() and (tmp_path / "target.html").read_text().startswith("<!DOCTYPE html>")


@needs_fifo
@pytest.mark.parametrize("through_a_link", [False, True], ids=["the FIFO", "a link to the FIFO"])
def test_report_out_a_fifo_is_refused_and_left_in_place(cli, tmp_path, fresh_db, through_a_link):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    out = fifo
    if through_a_link:
        out = tmp_path / "link.html"
        _symlink(out, fifo)
    result = cli("report", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert one_line(result.output) == (f"error: the report path {fifo} is a FIFO (named pipe), not a regular file, "
                                       "which the report would replace; give --out the name of a new or regular file")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # not replaced by an HTML file
    assert not list(tmp_path.glob(".*.tmp"))


@needs_fifo
def test_a_default_report_path_that_is_a_fifo_is_refused(cli, home, fresh_db):
    os.mkfifo(home / "report.html")
    result = cli("report")
    assert result.exit_code == 2, result.output
    assert "is a FIFO (named pipe), not a regular file, which the report would replace; move it away" in \
        one_line(result.output)
