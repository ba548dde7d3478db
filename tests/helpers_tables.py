"""A snapshot of every stored row but the run's own bookkeeping: what a refused command must not change."""

from __future__ import annotations

import sqlite3
from pathlib import Path

BOOKKEEPING = {"task_runs", "locks", "alerts_sent", "_sqlite_migrations"}


def snapshot(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if r[0] not in BOOKKEEPING and not r[0].startswith("sqlite_")]
        return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM [{t}]").fetchall()), key=repr) for t in tables}
    finally:
        conn.close()
