"""Upgrading the old system's database through the real CLI: it must succeed, or fail once, clearly,
without piling up backups (an hourly catch-up retries it all day)."""

from __future__ import annotations

import sqlite3

import time_machine

from tests.conftest import NOW

SEED_SQL = """
CREATE TABLE active_signals (id INTEGER PRIMARY KEY, symbol TEXT, signal_type TEXT, confidence REAL,
  entry_price REAL, target_price REAL, stop_loss REAL, sector TEXT, created_at TEXT, expires_at TEXT,
  is_active INTEGER);
CREATE TABLE price_data (id INTEGER PRIMARY KEY, symbol TEXT, date TEXT, open REAL, high REAL, low REAL,
  close REAL, volume INTEGER);
INSERT INTO price_data VALUES (1, 'AAPL', '2026-01-20', 100, 102, 99, 101, 1000);
INSERT INTO price_data VALUES (2, 'AAPL', '2026-01-20', 100, 102, 99, 101.5, 1200);
"""


def seed_home(home, extra_sql: str = ""):
    home.mkdir(parents=True)
    (home / "turbomode.toml").write_text('[data]\nstart = "2025-12-01"\n[data.sample]\nstart = "2025-12-01"\n')
    conn = sqlite3.connect(home / "turbomode.db")
    conn.executescript(SEED_SQL + extra_sql)
    conn.close()
    return home / "turbomode.db"


def rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_an_old_database_with_two_bars_for_one_day_is_upgraded_and_keeps_both(cli, home):
    db = seed_home(home)
    with time_machine.travel(NOW, tick=False):
        result = cli("ingest", "--source", "sample", "--symbols", "AAPL", "--no-deps")
    assert result.exit_code == 0, result.output
    assert "unexpected" not in result.output
    assert "1 extra bar(s)" in result.stderr and "price_data_duplicates" in result.stderr
    assert rows(db, "SELECT id, close, volume FROM price_data_duplicates") == [(1, 101.0, 1000)]
    assert rows(db, "SELECT count(*) FROM price_data WHERE symbol = 'AAPL' AND date = '2026-01-20'") == [(1,)]
    assert len(list((home / "backups").glob("*-before-upgrade.db"))) == 1


def tables(db):
    return sorted(r[0] for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'"))


def test_an_upgrade_that_fails_says_so_changes_nothing_and_is_backed_up_once(cli, home):
    # a table of the user's own that happens to bear the name of the run ledger, without its columns
    db = seed_home(home, "CREATE TABLE task_runs (id INTEGER PRIMARY KEY, note TEXT);"
                         "INSERT INTO task_runs VALUES (1, 'mine');")
    before = tables(db), rows(db, "SELECT * FROM price_data ORDER BY id"), rows(db, "SELECT * FROM task_runs")

    results = [cli(*args) for args in (["ingest", "--no-deps"], ["catchup"], ["maintain", "--no-deps"])]

    for result in results:
        assert result.exit_code == 2, result.output
        assert "unexpected" not in result.output and "Traceback" not in result.output
        [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
        assert f"cannot upgrade {db}" in line and "nothing in it was changed" in line
    saved = list((home / "backups").glob("*-before-upgrade.db"))
    assert len(saved) == 1, saved  # one copy, however often the hourly catch-up retries
    assert "no second one was made" in results[1].stderr and "no second one was made" in results[2].stderr
    # rolled back whole: not even the migrations table is left behind
    assert (tables(db), rows(db, "SELECT * FROM price_data ORDER BY id"), rows(db, "SELECT * FROM task_runs")) == before
    assert tables(saved[0]) == before[0]


def test_a_changed_database_gets_a_new_copy_before_the_next_attempt(cli, home):
    db = seed_home(home, "CREATE TABLE task_runs (id INTEGER PRIMARY KEY, note TEXT);")
    assert cli("maintain", "--no-deps").exit_code == 2
    conn = sqlite3.connect(db)  # the old system, still running, stores another bar
    conn.execute("INSERT INTO price_data VALUES (3, 'MSFT', '2026-01-20', 1, 2, 0.5, 1.5, 10)")
    conn.commit()
    conn.close()
    assert cli("maintain", "--no-deps").exit_code == 2
    saved = sorted((home / "backups").glob("*-before-upgrade.db"))
    assert len(saved) == 2
    assert sorted(rows(p, "SELECT count(*) FROM price_data")[0][0] for p in saved) == [2, 3]


def test_a_backups_folder_that_is_a_file_stops_the_upgrade_and_is_named(cli, home):
    db = seed_home(home)
    (home / "backups").write_text("")
    before = tables(db)
    result = cli("maintain", "--no-deps")
    assert result.exit_code == 2, result.output
    assert f"cannot write a backup into {home / 'backups'}: it is a file" in result.stderr
    assert "unexpected" not in result.output
    assert tables(db) == before  # not upgraded without its copy
