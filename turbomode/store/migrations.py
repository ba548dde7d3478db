"""Versioned schema changes (sqlite-utils ``Migrations``), each applied once in one transaction.

m001 adopts a database created by the old system in place: the seed's eight tables keep their
names, columns and rows; tables that are missing are created, columns that are missing are added.
Nothing of the user's is ever dropped or rewritten: the one row that must leave a table (a second bar
for a symbol and date in a keyless price_data) moves, unchanged, to price_data_duplicates. Later
migrations only add, except m007, which drops a redundant index of our own.
"""

from __future__ import annotations

import re

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from turbomode.store.schema_version import MIGRATION_NAMES, MIGRATION_SET

migrations = Migrations(MIGRATION_SET)

# Seed tables (scheduler-investigation-2026-01-23.md, "Database Schema Reference") and the
# columns we need in each. Existing tables get the missing columns added with ALTER TABLE.
SEED_TABLES: dict[str, dict[str, str]] = {
    "active_signals": {
        # the seed's columns, exactly
        "id": "INTEGER PRIMARY KEY",
        "symbol": "TEXT",
        "signal_type": "TEXT",
        "confidence": "REAL",
        "entry_price": "REAL",
        "target_price": "REAL",
        "stop_loss": "REAL",
        "sector": "TEXT",
        "created_at": "TEXT",
        "expires_at": "TEXT",
        "is_active": "INTEGER",
        # ours
        "market_date": "TEXT",  # the session the signal was emitted for (YYYY-MM-DD)
        "expiry_date": "TEXT",  # last session it is open (YYYY-MM-DD)
        "model_version": "TEXT",
        "data_source": "TEXT",  # 'sample' marks synthetic data wherever signals are shown
        "prob_buy": "REAL",
        "prob_sell": "REAL",
        "prob_hold": "REAL",
        "atr": "REAL",
    },
    "signal_history": {
        "id": "INTEGER PRIMARY KEY",
        "signal_id": "INTEGER",
        "symbol": "TEXT",
        "signal_type": "TEXT",
        "confidence": "REAL",
        "entry_price": "REAL",
        "target_price": "REAL",
        "stop_loss": "REAL",
        "sector": "TEXT",
        "created_at": "TEXT",
        "expires_at": "TEXT",
        "market_date": "TEXT",
        "closed_at": "TEXT",
        "exit_date": "TEXT",
        "exit_price": "REAL",
        "outcome": "TEXT",  # target | stop | expired | reversed
        "realized_return": "REAL",
        "model_version": "TEXT",
        "data_source": "TEXT",
    },
    "sector_stats": {
        "id": "INTEGER PRIMARY KEY",
        "sector": "TEXT",
        "signal_type": "TEXT",
        "total_signals": "INTEGER",
        "wins": "INTEGER",
        "losses": "INTEGER",
        "hit_rate": "REAL",
        "avg_return": "REAL",
        "updated_at": "TEXT",
    },
    "trades": {
        "id": "INTEGER PRIMARY KEY",
        "symbol": "TEXT",
        "sector": "TEXT",
        "entry_date": "TEXT",
        "entry_price": "REAL",
        "target_price": "REAL",
        "stop_price": "REAL",
        "horizon_days": "INTEGER",
        "exit_date": "TEXT",
        "exit_price": "REAL",
        "outcome": "TEXT",  # BUY | SELL | HOLD (triple-barrier label)
        "return_pct": "REAL",
        "label_params": "TEXT",
        "created_at": "TEXT",
    },
    "feature_store": {
        "id": "INTEGER PRIMARY KEY",
        "symbol": "TEXT",
        "date": "TEXT",
        "feature_set": "TEXT",
        "features": "TEXT",  # JSON
        "created_at": "TEXT",
    },
    "model_metadata": {
        "id": "INTEGER PRIMARY KEY",
        "version": "TEXT",
        "sector": "TEXT",
        "model_type": "TEXT",  # one of the six, or 'ensemble'
        "path": "TEXT",
        "sha256": "TEXT",
        "status": "TEXT",  # champion | challenger | retired
        "created_at": "TEXT",
        "train_start": "TEXT",
        "train_end": "TEXT",
        "calib_start": "TEXT",
        "calib_end": "TEXT",
        "valid_start": "TEXT",
        "valid_end": "TEXT",
        "metrics": "TEXT",  # JSON: log_loss, brier, accuracy, ece, precision, class_mix
        "feature_names": "TEXT",  # JSON list
    },
    "training_runs": {
        "id": "INTEGER PRIMARY KEY",
        "version": "TEXT",
        "run_id": "INTEGER",
        "started_at": "TEXT",
        "finished_at": "TEXT",
        "status": "TEXT",
        "sectors": "TEXT",  # JSON list
        "train_start": "TEXT",
        "train_end": "TEXT",
        "valid_start": "TEXT",
        "valid_end": "TEXT",
        "metrics": "TEXT",  # JSON
        "promoted": "INTEGER",
        "notes": "TEXT",
    },
    "price_data": {
        "symbol": "TEXT",
        "date": "TEXT",  # exchange date YYYY-MM-DD
        "open": "REAL",
        "high": "REAL",
        "low": "REAL",
        "close": "REAL",
        "adj_close": "REAL",
        "volume": "REAL",
        "source": "TEXT",
        "ingested_at": "TEXT",
    },
}


PRICE_KEY = ("symbol", "date")
PRICE_KEY_INDEX = "price_data_symbol_date"
# Where m001 puts the extra bars an old price_data held for one (symbol, date): see _move_duplicate_prices.
PRICE_DUPLICATES = "price_data_duplicates"


def _key_indexes(db: Database, table: str, columns: tuple[str, ...]) -> list[str]:
    """Names of the unique, non-partial indexes (primary key included) on exactly ``columns``."""
    out = []
    for _, name, unique, _, partial in db.execute(f"PRAGMA index_list([{table}])").fetchall():
        if unique and not partial:
            cols = [r[2] for r in db.execute(f"PRAGMA index_info([{name}])").fetchall()]
            if sorted(cols) == sorted(columns):
                out.append(name)
    return out


def _table_columns(db: Database, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA table_info([{table}])").fetchall()]


def _adopt(db: Database, table: str, columns: dict[str, str], create_sql: str | None = None) -> None:
    existing = _table_columns(db, table)
    if not existing:
        cols = ",\n  ".join(f"[{c}] {t}" for c, t in columns.items())
        db.execute(create_sql or f"CREATE TABLE [{table}] (\n  {cols}\n)")
        return
    for col, typ in columns.items():
        if col not in existing:
            # ALTER TABLE ADD COLUMN cannot add a PRIMARY KEY; such a column arrives plain.
            db.execute(f"ALTER TABLE [{table}] ADD COLUMN [{col}] {typ.replace(' PRIMARY KEY', '')}")


def _row_key(db: Database, table: str) -> list[str]:
    """The columns that tell one row of ``table`` from another: its rowid, or a WITHOUT ROWID table's key."""
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()[0]
    if re.search(r"\bWITHOUT\s+ROWID\s*$", sql or "", re.IGNORECASE):
        info = sorted((r[5], r[1]) for r in db.execute(f"PRAGMA table_info([{table}])").fetchall() if r[5])
        return [f"[{name}]" for _, name in info]
    return ["rowid"]


def _move_duplicate_prices(db: Database) -> int:
    """Make an adopted keyless price_data fit its (symbol, date) key without losing a row.

    The old system allowed two bars for one symbol and date; the unique index cannot be built over
    them. Of each group the last written (highest rowid) stays in price_data, as a repeated write
    would have left it; the others move, unchanged, to PRICE_DUPLICATES with the rowid they had.
    Returns how many moved.
    """
    key = _row_key(db, "price_data")
    ident = ", ".join(key)
    cols = _table_columns(db, "price_data")
    # row_number() sorts once; a self-join on a table without an index would be quadratic.
    dupes = (f"SELECT {ident} FROM (SELECT {ident}, row_number() OVER (PARTITION BY symbol, date ORDER BY "
             f"{' DESC, '.join(key)} DESC) AS n FROM price_data WHERE symbol IS NOT NULL AND date IS NOT NULL)"
             " WHERE n > 1")
    if db.execute(f"SELECT count(*) FROM ({dupes})").fetchone()[0] == 0:
        return 0
    if not _table_columns(db, PRICE_DUPLICATES):
        types = {r[1]: r[2] for r in db.execute("PRAGMA table_info([price_data])").fetchall()}
        db.execute(f"CREATE TABLE [{PRICE_DUPLICATES}] (\n  "
                   + ",\n  ".join(f"[{c}] {types[c]}".rstrip() for c in cols)
                   + ",\n  original_rowid INTEGER,\n  moved_at TEXT\n)")
    from turbomode.clock import iso, now

    col_list = ", ".join(f"[{c}]" for c in cols)
    rowid = "rowid" if key == ["rowid"] else "NULL"
    target = ident if len(key) == 1 else f"({ident})"
    moved = db.execute(
        f"INSERT INTO [{PRICE_DUPLICATES}] ({col_list}, original_rowid, moved_at)"
        f" SELECT {col_list}, {rowid}, ? FROM price_data WHERE {target} IN ({dupes})", [iso(now())]).rowcount
    db.execute(f"DELETE FROM price_data WHERE {target} IN ({dupes})")
    return moved


def upgrade_notes(db: Database, applied: list[str]) -> list[str]:
    """What the user should know about an upgrade that applied the migrations ``applied``."""
    notes = []
    if MIGRATION_NAMES[0] in applied and _table_columns(db, PRICE_DUPLICATES):
        n = db.execute(f"SELECT count(*) FROM [{PRICE_DUPLICATES}]").fetchone()[0]
        if n:
            notes.append(f"price_data held {n} extra bar(s) for a symbol and date that already had one (the old "
                         "system allowed that); the last written bar of each stays in price_data and the "
                         f"{n} other(s) were moved, unchanged, to the table {PRICE_DUPLICATES}")
    return notes


@migrations(name=MIGRATION_NAMES[0])
def m001_adopt_seed_tables(db: Database) -> None:
    if set(PRICE_KEY) <= set(_table_columns(db, "price_data")) and not _key_indexes(db, "price_data", PRICE_KEY):
        _move_duplicate_prices(db)  # before columns are added: the moved rows are as they were
    price_cols = SEED_TABLES["price_data"]
    price_sql = (
        "CREATE TABLE price_data (\n  "
        + ",\n  ".join(f"[{c}] {t}" + (" NOT NULL" if c in ("symbol", "date") else "") for c, t in price_cols.items())
        + ",\n  PRIMARY KEY (symbol, date)\n) WITHOUT ROWID"
    )
    for table, cols in SEED_TABLES.items():
        _adopt(db, table, cols, price_sql if table == "price_data" else None)
    # An adopted price_data may lack the (symbol, date) key that bar upserts rely on; a unique index
    # gives the same guarantee. Ours has it as its primary key: a second copy slowed every bar write.
    if not _key_indexes(db, "price_data", PRICE_KEY):
        db.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {PRICE_KEY_INDEX} ON price_data(symbol, date)")
    db.execute("CREATE INDEX IF NOT EXISTS active_signals_active ON active_signals(is_active, symbol)")
    db.execute("CREATE INDEX IF NOT EXISTS signal_history_symbol ON signal_history(symbol, closed_at)")
    db.execute("CREATE INDEX IF NOT EXISTS trades_symbol_date ON trades(symbol, entry_date)")
    db.execute("CREATE INDEX IF NOT EXISTS model_metadata_version ON model_metadata(version, sector)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS symbols (\n"
        "  symbol TEXT PRIMARY KEY, name TEXT, sector TEXT, source TEXT,\n"
        "  first_date TEXT, last_date TEXT, last_checked_at TEXT, status TEXT, error TEXT\n)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT, updated_at TEXT)")
    # NYSE sessions cached from exchange_calendars at ingest time, so status can judge freshness
    # with the standard library alone (exchange_calendars imports pandas).
    db.execute(
        "CREATE TABLE IF NOT EXISTS market_sessions (\n"
        "  date TEXT PRIMARY KEY, open_utc TEXT NOT NULL, close_utc TEXT NOT NULL\n) WITHOUT ROWID"
    )


@migrations(name=MIGRATION_NAMES[1])
def m002_ledger_and_locks(db: Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS task_runs (
  id INTEGER PRIMARY KEY,
  task TEXT NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('cron','catchup','manual','dependency')),
  scheduled_for TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  heartbeat_at TEXT,
  status TEXT NOT NULL CHECK (status IN
    ('running','succeeded','failed','partial','skipped','blocked','abandoned')),
  pid INTEGER,
  host TEXT,
  summary TEXT,
  error TEXT,
  exit_code INTEGER,
  missed_count INTEGER,
  parent_run_id INTEGER
)"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS task_runs_task_started ON task_runs(task, started_at)")
    db.execute("CREATE INDEX IF NOT EXISTS task_runs_status ON task_runs(status)")
    # One row per held lock; claimed with INSERT … ON CONFLICT DO NOTHING and a row-count check.
    db.execute(
        """CREATE TABLE IF NOT EXISTS locks (
  name TEXT PRIMARY KEY,
  run_id INTEGER,
  pid INTEGER,
  host TEXT,
  acquired_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
)"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS alerts_sent (
  id INTEGER PRIMARY KEY,
  run_id INTEGER,
  task TEXT,
  kind TEXT,
  channel TEXT,
  sent_at TEXT,
  ok INTEGER,
  error TEXT
)"""
    )


@migrations(name=MIGRATION_NAMES[2])
def m003_models_backtest_drift(db: Database) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS backtest_runs (
  id INTEGER PRIMARY KEY,
  run_id INTEGER,
  created_at TEXT NOT NULL,
  start_date TEXT,
  end_date TEXT,
  folds INTEGER,
  models TEXT,
  params TEXT,
  metrics TEXT,
  data_source TEXT
)"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS backtest_folds (
  backtest_id INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
  fold INTEGER NOT NULL,
  train_start TEXT, train_end TEXT, test_start TEXT, test_end TEXT,
  PRIMARY KEY (backtest_id, fold)
)"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS backtest_results (
  backtest_id INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
  slice_kind TEXT NOT NULL,
  slice TEXT NOT NULL,
  trades INTEGER, hit_rate REAL, mean_return REAL, profit_factor REAL,
  sharpe REAL, max_drawdown REAL, exposure REAL, total_return REAL,
  PRIMARY KEY (backtest_id, slice_kind, slice)
)"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS backtest_equity (
  backtest_id INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
  date TEXT NOT NULL,
  strategy REAL,
  buy_hold REAL,
  PRIMARY KEY (backtest_id, date)
)"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS drift_runs (
  id INTEGER PRIMARY KEY,
  run_id INTEGER,
  created_at TEXT NOT NULL,
  model_version TEXT,
  level TEXT,
  summary TEXT
)"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS drift_results (
  drift_id INTEGER NOT NULL REFERENCES drift_runs(id) ON DELETE CASCADE,
  sector TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  value REAL,
  level TEXT,
  detail TEXT,
  PRIMARY KEY (drift_id, sector, kind, name)
)"""
    )


@migrations(name=MIGRATION_NAMES[3])
def m004_run_process_start(db: Database) -> None:
    # A pid alone does not identify a process: after a reboot (the power loss a dead run usually
    # means) its number may belong to another process. pid + start time does (psutil's create_time).
    for table in ("task_runs", "locks"):
        if "proc_started" not in _table_columns(db, table):
            db.execute(f"ALTER TABLE [{table}] ADD COLUMN proc_started REAL")


@migrations(name=MIGRATION_NAMES[4])
def m005_next_open_fills_and_windows(db: Database) -> None:
    # Signals are filled at the next session's open (ml/labels.py): a signal shows its reference
    # close until the fill bar exists, then its fill; price_basis says which ('close' | 'fill').
    # sigma is the trade rule's volatility (log ATR) its target and stop are set from.
    for table in ("active_signals", "signal_history"):
        for col, typ in (("reference_price", "REAL"), ("fill_date", "TEXT"), ("price_basis", "TEXT"),
                         ("sigma", "REAL")):
            if col not in _table_columns(db, table):
                db.execute(f"ALTER TABLE [{table}] ADD COLUMN [{col}] {typ}")
    if "signal_date" not in _table_columns(db, "trades"):
        db.execute("ALTER TABLE trades ADD COLUMN signal_date TEXT")
    # The test window reports a champion's quality; data_end is the last price date any fitted
    # parameter read (scan --as-of picks a version whose data_end is before the date).
    for col in ("test_start", "test_end", "data_end"):
        if col not in _table_columns(db, "model_metadata"):
            db.execute(f"ALTER TABLE model_metadata ADD COLUMN [{col}] TEXT")


@migrations(name=MIGRATION_NAMES[5])
def m006_price_quarantine(db: Database) -> None:
    # Suspect bars (a 100x unit error, an unapplied split) are kept here, with their values, instead
    # of in price_data: features, labels and fills read price_data only, and nothing is lost.
    db.execute(
        """CREATE TABLE IF NOT EXISTS price_quarantine (
  symbol TEXT NOT NULL,
  date TEXT NOT NULL,
  open REAL, high REAL, low REAL, close REAL, adj_close REAL, volume REAL,
  source TEXT,
  reason TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'quarantined' CHECK (status IN ('quarantined', 'confirmed', 'corrected')),
  flagged_at TEXT NOT NULL,
  resolved_at TEXT,
  PRIMARY KEY (symbol, date)
)"""
    )


@migrations(name=MIGRATION_NAMES[6])
def m007_one_price_key(db: Database) -> None:
    # Databases made before m001 checked for the key carry the unique index beside the primary key
    # (measured: bar writes 1.37x slower). It is ours and duplicates the key, so it goes; an adopted
    # table without a key of its own keeps it.
    if [n for n in _key_indexes(db, "price_data", PRICE_KEY) if n != PRICE_KEY_INDEX]:
        db.execute(f"DROP INDEX IF EXISTS {PRICE_KEY_INDEX}")


@migrations(name=MIGRATION_NAMES[7])
def m008_point_in_time_choice(db: Database) -> None:
    # decided_end: the last price date that fitted a version OR chose it (its validation window's
    # labels decide promotion). `scan --as-of D` may use a former champion only if that date is before
    # D; data_end alone let a version chosen on later prices serve earlier dates. Rows from before this
    # column fall back to the day they were created (nothing they read can be later).
    if "decided_end" not in _table_columns(db, "model_metadata"):
        db.execute("ALTER TABLE model_metadata ADD COLUMN decided_end TEXT")
