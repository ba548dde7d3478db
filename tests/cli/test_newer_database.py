"""A database a newer TurboMode has upgraded (a migration this version does not know): jobs refuse it in
one sentence, exit 2, and change nothing; read-only commands read it with a note; restore refuses such
a backup. Writing into a schema whose rules this version does not know could break what the newer
version stored."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from tests.cli.test_maintain_cmd import dump_all, populate

NEWER = "m999_from_a_newer_version"


def mark_newer(path):
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('turbomode', ?, "
                 "'2030-01-01 00:00:00')", (NEWER,))
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


@pytest.mark.parametrize("args", [["maintain"], ["scan", "--no-deps"], ["catchup"],
                                  ["ingest", "--source", "sample", "--symbols", "AAPL"]], ids=" ".join)
def test_a_job_refuses_a_database_from_a_newer_version_and_changes_nothing(cli, db_path, args):
    populate(db_path)
    mark_newer(db_path)
    before = dump_all(db_path)

    result = cli(*args)

    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert f"{db_path} was written by a newer version of TurboMode" in lines[0] and NEWER in lines[0]
    assert "upgrade TurboMode" in lines[0]
    assert dump_all(db_path) == before


def test_a_refusal_is_a_json_error_under_json(cli, db_path):
    populate(db_path)
    mark_newer(db_path)
    result = cli("maintain", "--json")
    assert result.exit_code == 2
    assert "newer version of TurboMode" in json.loads(result.stdout)["error"]


def test_a_read_only_command_reads_a_database_from_a_newer_version_with_a_note(cli, db_path):
    populate(db_path)
    mark_newer(db_path)
    before = dump_all(db_path)

    result = cli("signals")

    assert result.exit_code == 0, result.output
    assert "newer version of TurboMode" in result.stderr and "upgrade TurboMode" in result.stderr
    assert dump_all(db_path) == before


def test_restore_refuses_a_backup_from_a_newer_version(cli, tmp_path, db_path):
    populate(db_path)
    newer = tmp_path / "newer.db"
    shutil.copyfile(db_path, newer)
    mark_newer(newer)
    before = dump_all(db_path)

    result = cli("restore", str(newer), "--yes")

    assert result.exit_code == 2, result.output
    assert f"{newer} was written by a newer version of TurboMode" in result.output
    assert dump_all(db_path) == before
    assert not list(db_path.parent.glob("*.before-restore"))
