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
