"""The migration names, importable without sqlite_utils (and so without pandas).

``db.ensure_schema`` compares this list with ``_sqlite_migrations`` on every open; only when
something is pending does it import the real migrations. A test proves this list matches them.
"""

MIGRATION_SET = "turbomode"
MIGRATION_NAMES = (
    "m001_adopt_seed_tables",
    "m002_ledger_and_locks",
    "m003_models_backtest_drift",
    "m004_run_process_start",
    "m005_next_open_fills_and_windows",
    "m006_price_quarantine",
    "m007_one_price_key",
    "m008_point_in_time_choice",
)
