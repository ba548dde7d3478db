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


def _indexes(path, table="price_data"):
    conn = sqlite3.connect(path)
    try:
        return {r[1]: r[3] for r in conn.execute(f"PRAGMA index_list({table})")}  # name -> origin
    finally:
        conn.close()


class TestOnePriceKey:
    """price_data's (symbol, date) key exists once: a second unique index slowed every bar write 1.37x."""

    def test_a_new_database_has_only_the_primary_key(self, tmp_path):
        dbmod.connect(tmp_path / "t.db").close()
        assert _indexes(tmp_path / "t.db") == {"sqlite_autoindex_price_data_1": "pk"}

    def test_an_adopted_table_without_a_key_gets_the_unique_index_and_upserts_work(self, tmp_path):
        from datetime import datetime, timezone

        import pandas as pd

        from turbomode.store import prices

        path = tmp_path / "turbomode.db"
        _legacy_db(path)
        conn = dbmod.connect(path)
        assert _indexes(path) == {"price_data_symbol_date": "c"}
        bars = pd.DataFrame({"symbol": ["AAPL"], "date": ["2026-01-21"], "open": [1.0], "high": [2.0], "low": [0.5],
                             "close": [1.6], "adj_close": [1.6], "volume": [10.0]})
        with dbmod.transaction(conn):
            prices.write_bars(conn, bars, "csv", datetime(2026, 1, 22, tzinfo=timezone.utc))
        rows = conn.execute("SELECT close FROM price_data WHERE symbol = 'AAPL'").fetchall()
        conn.close()
        assert [r[0] for r in rows] == [1.6]

    def test_an_adopted_table_with_its_own_unique_key_gets_no_second_one(self, tmp_path):
        path = tmp_path / "turbomode.db"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE price_data (symbol TEXT, date TEXT, close REAL, UNIQUE (date, symbol))")
        conn.close()
        dbmod.connect(path).close()
        assert _indexes(path) == {"sqlite_autoindex_price_data_1": "u"}

    def test_a_database_made_before_drops_the_duplicate_and_keeps_its_bars(self, tmp_path):
        path = tmp_path / "t.db"
        conn = dbmod.connect(path)
        conn.execute("CREATE UNIQUE INDEX price_data_symbol_date ON price_data(symbol, date)")  # as m001 did
        conn.execute("INSERT INTO price_data (symbol, date, close) VALUES ('AAA', '2026-01-21', 1.0)")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_one_price_key'")
        conn.close()
        dbmod._checked.clear()
        conn = dbmod.connect(path)
        assert dbmod.pending_migrations(conn) == []
        assert [tuple(r) for r in conn.execute("SELECT symbol, date, close FROM price_data")] == [("AAA", "2026-01-21", 1.0)]
        conn.close()
        assert _indexes(path) == {"sqlite_autoindex_price_data_1": "pk"}

    def test_the_adopted_tables_index_survives_the_cleanup(self, tmp_path):
        path = tmp_path / "turbomode.db"
        _legacy_db(path)
        conn = dbmod.connect(path)
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_one_price_key'")
        conn.close()
        dbmod._checked.clear()
        dbmod.connect(path).close()
        assert _indexes(path) == {"price_data_symbol_date": "c"}


class TestDuplicateBarsInAnOldDatabase:
    """The old system's keyless price_data may hold two bars for one symbol and date: the key cannot be
    built over them, so before the fix every upgrade failed with "UNIQUE constraint failed"."""

    SHAPES = {
        "seed, with an id": "CREATE TABLE price_data (id INTEGER PRIMARY KEY, symbol TEXT, date TEXT, open REAL,"
                            " high REAL, low REAL, close REAL, volume INTEGER)",
        "no id": "CREATE TABLE price_data (symbol TEXT, date TEXT, open REAL, high REAL, low REAL, close REAL,"
                 " volume INTEGER)",
        "without rowid": "CREATE TABLE price_data (id INTEGER NOT NULL PRIMARY KEY, symbol TEXT, date TEXT, open REAL,"
                         " high REAL, low REAL, close REAL, volume INTEGER) WITHOUT ROWID",
    }
    # (id, symbol, date, close): AAPL 01-20 written three times, MSFT 01-20 twice, the rest once
    BARS = [(1, "AAPL", "2026-01-20", 1.0), (2, "MSFT", "2026-01-20", 5.0), (3, "AAPL", "2026-01-20", 1.1),
            (4, "AAPL", "2026-01-21", 1.2), (5, "MSFT", "2026-01-20", 5.1), (6, "AAPL", "2026-01-20", 1.3),
            (7, None, "2026-01-20", 9.0), (8, None, "2026-01-20", 9.1)]

    def _old_db(self, path, shape):
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE active_signals (id INTEGER PRIMARY KEY, symbol TEXT)")
        conn.execute(self.SHAPES[shape])
        for i, sym, day, close in self.BARS:
            if shape == "no id":
                conn.execute("INSERT INTO price_data VALUES (?, ?, 1, 2, 0.5, ?, 100)", (sym, day, close))
            else:
                conn.execute("INSERT INTO price_data VALUES (?, ?, ?, 1, 2, 0.5, ?, 100)", (i, sym, day, close))
        conn.commit()
        conn.close()

    @pytest.mark.parametrize("shape", list(SHAPES))
    def test_the_upgrade_keeps_the_last_written_bar_and_moves_the_others_unchanged(self, tmp_path, shape):
        path = tmp_path / "turbomode.db"
        self._old_db(path, shape)
        conn = sqlite3.connect(path)
        old_cols = [r[1] for r in conn.execute("PRAGMA table_info(price_data)")]
        old_rows = conn.execute("SELECT * FROM price_data").fetchall()
        conn.close()
        notes = []

        conn = dbmod.connect(path, notice=notes.append)

        assert dbmod.pending_migrations(conn) == []
        kept = conn.execute("SELECT symbol, date, close FROM price_data ORDER BY symbol, date, close").fetchall()
        assert [tuple(r) for r in kept] == [(None, "2026-01-20", 9.0), (None, "2026-01-20", 9.1),
                                            ("AAPL", "2026-01-20", 1.3), ("AAPL", "2026-01-21", 1.2),
                                            ("MSFT", "2026-01-20", 5.1)]
        moved = conn.execute(f"SELECT {', '.join(old_cols)}, original_rowid, moved_at FROM price_data_duplicates"
                             " ORDER BY close").fetchall()
        conn.close()
        # every bar the old system stored is still somewhere, with the values it had
        by_close = {r[old_cols.index("close")]: r for r in old_rows}
        assert [tuple(r)[: len(old_cols)] for r in moved] == [by_close[c] for c in (1.0, 1.1, 5.0)]
        if shape != "without rowid":
            assert [r[-2] for r in moved] == [1, 3, 2]  # where they were
        assert all(r[-1] for r in moved)
        assert len(notes) == 2 and "backed up" in notes[0]
        assert "3 extra bar(s)" in notes[1] and "price_data_duplicates" in notes[1]
        assert _indexes(path) in ({"price_data_symbol_date": "c"},
                                  {"price_data_symbol_date": "c", "sqlite_autoindex_price_data_1": "pk"})

    def test_an_old_database_without_duplicates_gets_no_side_table_and_no_note(self, tmp_path):
        path = tmp_path / "turbomode.db"
        _legacy_db(path)
        notes = []
        dbmod.connect(path, notice=notes.append).close()
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'price_data_duplicates'").fetchone() is None
        conn.close()
        assert len(notes) == 1 and "backed up" in notes[0]

    def test_an_old_price_table_without_a_date_column_is_still_adopted(self, tmp_path):
        path = tmp_path / "turbomode.db"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE price_data (symbol TEXT, close REAL)")
        conn.executemany("INSERT INTO price_data VALUES ('AAPL', ?)", [(1.0,), (1.1,)])
        conn.commit()
        conn.close()
        dbmod.connect(path).close()
        assert [r[1] for r in _dump(path, "price_data")[1]] == [1.0, 1.1]
