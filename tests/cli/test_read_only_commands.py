"""Read-only commands never create or migrate; a write command backs an old database up before
upgrading it, and says so (issue 10 item 17)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

READ_ONLY = [["status"], ["status", "--json"], ["signals"], ["signals", "--format", "csv"], ["history"],
             ["report"], ["catchup", "--dry-run"], ["config", "show"], ["config", "validate"],
             ["schedule", "show"]]

# The old system's database: one table, one open signal with an expiry in its own column (in the
# future of the real clock: `maintain` closes expired signals).
EXPIRES = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%d")
OLD_SCHEMA = f"""
CREATE TABLE active_signals (id INTEGER PRIMARY KEY, symbol TEXT, signal_type TEXT, confidence REAL,
  entry_price REAL, target_price REAL, stop_loss REAL, sector TEXT, created_at TEXT, expires_at TEXT,
  is_active INTEGER);
INSERT INTO active_signals VALUES (1, 'AAPL', 'BUY', 0.7, 100, 110, 95, 'Information Technology',
  '2026-01-20 23:30:00', '{EXPIRES} 21:00:00', 1);
"""


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_at_a_mistyped_home_creates_nothing(cli, home, args):
    result = cli(*args)
    assert not home.exists(), f"`turbomode {' '.join(args)}` created {sorted(p.name for p in home.iterdir())}"
    if args[0] in ("config", "schedule"):
        assert result.exit_code == 0, result.output  # they need no database
    else:
        assert result.exit_code == 2
        text = json.loads(result.output)["error"] if "--json" in args else result.output  # JSON escapes C:\\
        assert "no TurboMode database in" in text and str(home) in text


@pytest.fixture
def old_db(home):
    home.mkdir(parents=True)
    db = home / "turbomode.db"
    conn = sqlite3.connect(db)
    conn.executescript(OLD_SCHEMA)
    conn.close()
    return db


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("args", [a for a in READ_ONLY if a[0] not in ("config", "schedule")], ids=" ".join)
def test_a_read_only_command_leaves_an_old_database_as_it_was(cli, home, old_db, args):
    before = _digest(old_db)
    result = cli(*args)
    assert result.exit_code == 2
    assert "needs a schema upgrade" in result.output and "backs the file up first" in result.output
    assert _digest(old_db) == before
    assert sorted(p.name for p in home.iterdir()) == ["turbomode.db"]


def test_the_first_write_command_backs_the_old_database_up_and_says_so(cli, home, old_db):
    before = _digest(old_db)
    result = cli("maintain")
    assert result.exit_code == 0, result.output
    saved = sorted((home / "backups").glob("turbomode-*-before-upgrade.db"))
    assert len(saved) == 1
    assert f"note: backed up {old_db} to {saved[0]} before upgrading its schema" in result.stderr
    # the copy is the old file's content, untouched by the upgrade (and not in WAL mode)
    conn = sqlite3.connect(saved[0])
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["active_signals"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("SELECT symbol, expires_at FROM active_signals").fetchall() == [
        ("AAPL", f"{EXPIRES} 21:00:00")]
    conn.close()
    assert _digest(old_db) != before  # upgraded in place
    # a second write command finds nothing to upgrade and makes no second copy
    assert cli("maintain").exit_code == 0
    assert len(list((home / "backups").glob("*-before-upgrade.db"))) == 1


def test_adopted_signals_show_the_expiry_of_the_old_rows(cli, old_db):
    assert cli("maintain").exit_code == 0  # adopts it
    table = cli("signals", "--sort", "symbol")
    assert EXPIRES in table.stdout
    rows = json.loads(cli("signals", "--json").stdout)
    assert rows[0]["expires_at"] == f"{EXPIRES} 21:00:00"  # the stored columns, as they are


def test_a_database_only_additive_changes_behind_is_read_as_it_is_with_a_note(cli, home, fresh_db, db_path):
    # as after upgrading TurboMode: the newest migration (price_quarantine) is not applied yet
    fresh_db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_price_quarantine'")
    fresh_db.execute("DROP TABLE price_quarantine")
    fresh_db.close()

    def schema():
        conn = sqlite3.connect(db_path)
        try:
            return (sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")),
                    sorted(r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")))
        finally:
            conn.close()

    before = schema()
    result = cli("status", "--json")
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)["data"]["quarantined"] == 0
    assert "schema is 1 change(s) behind" in result.stderr and "the next job applies them" in result.stderr
    assert schema() == before  # not migrated
