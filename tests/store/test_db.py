"""Opening, migrating and adopting the database."""

import sqlite3

import pytest

from turbomode.errors import NotADatabase
from turbomode.store import db as dbmod
from turbomode.store.schema_version import MIGRATION_NAMES

# The old system's schema: active_signals exactly as the seed lists it, the other seven tables with
# the columns an older build used. Every row here must survive adoption untouched.
LEGACY_SQL = """
CREATE TABLE active_signals (id INTEGER PRIMARY KEY, symbol TEXT, signal_type TEXT, confidence REAL,
  entry_price REAL, target_price REAL, stop_loss REAL, sector TEXT, created_at TEXT, expires_at TEXT,
  is_active INTEGER);
CREATE TABLE signal_history (id INTEGER PRIMARY KEY, symbol TEXT, signal_type TEXT, outcome TEXT,
  closed_at TEXT);
CREATE TABLE sector_stats (id INTEGER PRIMARY KEY, sector TEXT, total_signals INTEGER, win_rate REAL);
CREATE TABLE trades (id INTEGER PRIMARY KEY, symbol TEXT, entry_date TEXT, outcome TEXT, legacy_col TEXT);
CREATE TABLE feature_store (id INTEGER PRIMARY KEY, symbol TEXT, date TEXT, blob TEXT);
CREATE TABLE model_metadata (id INTEGER PRIMARY KEY, sector TEXT, model_type TEXT, accuracy REAL);
CREATE TABLE training_runs (id INTEGER PRIMARY KEY, started_at TEXT, status TEXT);
CREATE TABLE price_data (symbol TEXT, date TEXT, open REAL, high REAL, low REAL, close REAL, volume INTEGER);
"""


def _legacy_db(path):
    conn = sqlite3.connect(path)
    conn.executescript(LEGACY_SQL)
    conn.executemany(
        "INSERT INTO active_signals VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(i, sym, "SELL", 0.9356, 100.0, 95.0, 103.0, "Consumer Discretionary", "2026-01-21T18:45:45",
          "2026-02-04T18:45:45", 1) for i, sym in enumerate(["MDT", "EBAY", "LEN", "GM", "ROST"], start=1)],
    )
    conn.execute("INSERT INTO signal_history VALUES (1, 'HD', 'BUY', 'target', '2026-01-10')")
    conn.execute("INSERT INTO sector_stats VALUES (1, 'Technology', 12, 0.5)")
    conn.executemany("INSERT INTO trades VALUES (?,?,?,?,?)",
                     [(i, "AAPL", f"2025-01-{i:02d}", "HOLD", "x") for i in range(1, 29)])
    conn.execute("INSERT INTO feature_store VALUES (1, 'AAPL', '2025-01-02', '{}')")
    conn.execute("INSERT INTO model_metadata VALUES (1, 'Technology', 'xgboost', 0.61)")
    conn.execute("INSERT INTO training_runs VALUES (1, '2026-01-18T00:00:00', 'done')")
    conn.execute("INSERT INTO price_data VALUES ('AAPL', '2026-01-21', 1, 2, 0.5, 1.5, 100)")
    conn.commit()
    conn.close()


def _dump(path, table):
    conn = sqlite3.connect(path)
    cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    rows = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    conn.close()
    return cols, rows


def test_a_database_from_the_old_system_is_adopted_with_every_row(tmp_path):
    path = tmp_path / "turbomode.db"
    _legacy_db(path)
    before = {t: _dump(path, t) for t in
              ["active_signals", "signal_history", "sector_stats", "trades", "feature_store",
               "model_metadata", "training_runs", "price_data"]}
    conn = dbmod.connect(path)
    conn.close()
    for table, (cols, rows) in before.items():
        new_cols, new_rows = _dump(path, table)
        assert new_cols[: len(cols)] == cols, table  # old columns kept, in place
        assert [r[: len(cols)] for r in new_rows] == rows, table  # every row, unchanged
    cols, _ = _dump(path, "active_signals")
    assert {"market_date", "model_version", "data_source"} <= set(cols)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"task_runs", "locks", "backtest_runs", "drift_results", "symbols"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_migrations_run_once_and_the_fast_path_sees_nothing_pending(tmp_path):
    path = tmp_path / "t.db"
    dbmod.connect(path).close()
    conn = dbmod.connect(path)
    assert dbmod.pending_migrations(conn) == []
    names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert names == list(MIGRATION_NAMES)


def test_the_light_list_of_migration_names_matches_the_registered_migrations():
    from turbomode.store.migrations import migrations

    assert tuple(m.name for m in migrations._migrations) == MIGRATION_NAMES


@pytest.mark.parametrize("content", [b"hello, I am a spreadsheet\n" * 10, b"\x00" * 4096, b"SQLite format 2\x00xx"])
def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(tmp_path, content):
    path = tmp_path / "turbomode.db"
    path.write_bytes(content)
    with pytest.raises(NotADatabase, match="not an SQLite database"):
        dbmod.connect(path)
    assert path.read_bytes() == content


def test_a_failed_transaction_leaves_nothing_behind(fresh_db):
    with pytest.raises(RuntimeError):
        with dbmod.transaction(fresh_db):
            fresh_db.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")
    assert fresh_db.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "m.bin"
    dbmod.atomic_write_bytes(target, b"one")
    dbmod.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["m.bin"]
