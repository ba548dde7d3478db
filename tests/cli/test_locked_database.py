"""A database another program holds a write transaction on (a second TurboMode, an SQLite browser with
unsaved changes) for longer than the busy timeout: one line naming it and what to do, exit 1, nothing
changed — not "unexpected OperationalError: database is locked"."""

from __future__ import annotations

import json
import sqlite3

import pytest

from turbomode.store.db import connect


@pytest.fixture
def held(db_path, monkeypatch):
    """The database with a write transaction open on a second connection; a 0.2 s busy timeout."""
    connect(db_path).close()
    monkeypatch.setattr("turbomode.store.db.BUSY_TIMEOUT_S", 0.2)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO meta (key, value, updated_at) VALUES ('held', 'by another program', 'now')")
    yield other
    other.execute("ROLLBACK")
    other.close()


@pytest.mark.parametrize("args", [["maintain"], ["scan", "--no-deps"], ["catchup"]], ids=" ".join)
def test_a_database_locked_by_another_program_is_one_line_exit_1(cli, held, db_path, args):
    result = cli(*args)

    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "unexpected" not in lines[0] and "Traceback" not in result.output
    assert f"{db_path} is locked by another program" in lines[0] and "run the command again" in lines[0]


def test_a_locked_database_is_a_json_error_under_json(cli, held):
    result = cli("maintain", "--json")
    assert result.exit_code == 1
    assert "is locked by another program" in json.loads(result.stdout)["error"]


def test_a_refused_run_leaves_the_ledger_as_it_was(cli, held, db_path):
    cli("maintain")
    held.execute("ROLLBACK")
    held.execute("BEGIN")  # the fixture's teardown rolls back again
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM task_runs").fetchone()[0] == 0
    conn.close()
