"""A zero-byte turbomode.db (a crash mid-copy, a full disk, a sync client) in a home that has been used
is lost data, not a new database: every command refuses it and says which backup to restore. Before
the fix, read-only commands blamed "the old system" and jobs silently started a new, empty database,
whose backups then rotated the good ones out."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from tests.conftest import NOW
from turbomode.store import backup as backup_store
from turbomode.store import db as db_module
from turbomode.store.db import connect

COMMANDS = [["status"], ["signals"], ["history"], ["report"], ["maintain"], ["ingest", "--no-deps"], ["catchup"],
            ["scan", "--no-deps"]]


def used_home(home):
    """A home whose database held a signal and was backed up twice, then lost its contents."""
    db = home / "turbomode.db"
    conn = connect(db)
    conn.execute("INSERT INTO active_signals (symbol, signal_type, confidence, is_active)"
                 " VALUES ('AAA', 'BUY', 0.6, 1)")
    older = backup_store.backup_database(conn, home / "backups", NOW - timedelta(days=7))
    newest = backup_store.backup_database(conn, home / "backups", NOW)
    conn.close()
    for side in ("-wal", "-shm"):
        db.with_name(db.name + side).unlink(missing_ok=True)
    db.write_bytes(b"")
    db_module._checked.clear()  # this process opened it while it was sound; a new process would not have
    return db, older, newest


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_an_empty_database_in_a_used_home_is_refused_with_the_backup_to_restore(cli, home, args):
    db, _, newest = used_home(home)
    before = digests(home / "backups")

    result = cli(*args)

    assert result.exit_code == 2, result.output
    assert "unexpected" not in result.output and "old system" not in result.output
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert f"the database {db} is empty (0 bytes)" in line
    assert f"`turbomode restore {newest}`" in line
    assert db.stat().st_size == 0
    assert digests(home / "backups") == before


def test_the_json_error_names_the_backup_as_the_hint(cli, home):
    _, _, newest = used_home(home)
    result = cli("status", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["hint"] == f"restore the newest backup with `turbomode restore {newest}`"


@pytest.mark.parametrize("lost", ["emptied", "deleted"])
def test_restoring_the_named_backup_brings_the_rows_back(cli, home, lost):
    db, _, newest = (used_home if lost == "emptied" else lost_home)(home)
    result = cli("restore", str(newest), "--yes")
    assert result.exit_code == 0, result.output
    signals = json.loads(cli("signals", "--format", "json").stdout)
    assert [s["symbol"] for s in signals] == ["AAA"]


def test_an_empty_database_beside_model_versions_is_refused_too(cli, home):
    home.mkdir(parents=True)
    (home / "models" / "v20260101").mkdir(parents=True)
    (home / "turbomode.db").write_bytes(b"")
    result = cli("maintain")
    assert result.exit_code == 2
    assert "is empty (0 bytes)" in result.stderr and "move the empty file away" in result.stderr
    assert (home / "turbomode.db").stat().st_size == 0


def test_an_empty_file_in_an_unused_home_becomes_a_new_database_as_a_missing_one_does(cli, home):
    # what a first run killed before its first write leaves behind (SQLite creates the file on open)
    home.mkdir(parents=True)
    (home / "turbomode.db").write_bytes(b"")
    status = cli("status")
    assert status.exit_code == 2
    assert "no TurboMode database in" in status.stderr and "empty file" in status.stderr
    assert "old system" not in status.stderr
    assert cli("maintain").exit_code == 0
    assert (home / "turbomode.db").stat().st_size > 0


def test_a_fresh_home_without_a_database_file_still_starts_one(cli, home):
    result = cli("maintain")
    assert result.exit_code == 0, result.output
    assert (home / "turbomode.db").stat().st_size > 0


def lost_home(home):
    """A used home (a signal, two backups) whose database file, with its -wal and -shm, was then
    moved or deleted."""
    db, older, newest = used_home(home)
    db.unlink()
    return db, older, newest


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_missing_database_beside_backups_is_refused_and_no_new_one_is_started(cli, home, args):
    db, _, newest = lost_home(home)
    before = digests(home / "backups")

    result = cli(*args)

    assert result.exit_code == 2, result.output
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert f"the database {db} is missing although this home has backups" in line
    assert f"`turbomode restore {newest}`" in line
    assert not db.exists()
    assert digests(home / "backups") == before  # maintain did not rotate the good ones out


def test_a_missing_database_beside_model_versions_only_starts_a_new_one(cli, home):
    # a user starting afresh may keep old model folders; nothing there can be rotated away
    (home / "models" / "v20260101").mkdir(parents=True)
    result = cli("maintain")
    assert result.exit_code == 0, result.output
    assert (home / "turbomode.db").stat().st_size > 0
