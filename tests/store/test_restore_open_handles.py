"""Restoring a backup while the database is open elsewhere (Windows refuses to replace an open file).

On Windows ``os.replace`` over a file that any process holds open fails with WinError 5 (access
denied); on Linux it succeeds, but a connection that had the file open goes on reading and writing the
replaced file, unseen. A restore goes into the same file through SQLite, so both hold.
"""

from __future__ import annotations

import sqlite3

from tests.conftest import NOW
from turbomode.store import backup as backup_store
from turbomode.store.db import connect


def signal_symbols(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT symbol FROM active_signals ORDER BY symbol")]


def add_signal(conn, symbol: str) -> None:
    conn.execute("INSERT INTO active_signals (symbol, signal_type, confidence, sector, created_at, expires_at,"
                 " is_active) VALUES (?, 'BUY', 0.6, 'Energy', '2026-01-05T23:30:00Z', '2099-01-01T00:00:00Z', 1)",
                 (symbol,))


def test_restore_while_another_connection_holds_the_database_open(db_path, home):
    live = connect(db_path)
    add_signal(live, "AAA")
    backup = backup_store.backup_database(live, home / "backups", NOW)
    add_signal(live, "ZZZ")  # written after the backup: the restore takes it away
    reader = sqlite3.connect(db_path)  # a monitor's `turbomode status`, a scan still finishing
    assert signal_symbols(reader) == ["AAA", "ZZZ"]

    result = backup_store.restore_database(db_path, backup, NOW)

    assert result.kept_as is not None and result.kept_as.exists()
    assert signal_symbols(reader) == ["AAA"]  # the open connection sees the restored database
    assert signal_symbols(live) == ["AAA"]
    add_signal(live, "NEW")  # and goes on writing into the one database everyone reads
    fresh = sqlite3.connect(db_path)
    assert signal_symbols(fresh) == ["AAA", "NEW"]
    assert fresh.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert fresh.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    for conn in (fresh, reader, live):
        conn.close()


def test_restore_while_a_plain_file_handle_is_open_on_the_database(db_path, home):
    conn = connect(db_path)
    add_signal(conn, "AAA")
    backup = backup_store.backup_database(conn, home / "backups", NOW)
    add_signal(conn, "ZZZ")
    conn.close()
    with open(db_path, "rb") as held:  # a virus scanner or a file-sync client reading it
        backup_store.restore_database(db_path, backup, NOW)
        assert held.read(16) == b"SQLite format 3\x00"
    check = sqlite3.connect(db_path)
    assert signal_symbols(check) == ["AAA"]
    check.close()


def test_a_damaged_database_nobody_holds_is_still_replaced_by_the_backup(db_path, home):
    conn = connect(db_path)
    add_signal(conn, "AAA")
    backup = backup_store.backup_database(conn, home / "backups", NOW)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db_path, "r+b") as fh:  # the header is gone: SQLite cannot open it as a database
        fh.write(b"\x00" * 100)

    result = backup_store.restore_database(db_path, backup, NOW)

    assert result.kept_as.read_bytes()[:100] == b"\x00" * 100
    check = sqlite3.connect(db_path)
    assert signal_symbols(check) == ["AAA"]
    check.close()
