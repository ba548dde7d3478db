"""SQL behind `turbomode maintain`: pruning the ledger and old model versions, health checks, vacuum."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from turbomode.store.db import transaction


def prune_task_runs(conn: sqlite3.Connection, before_iso: str) -> int:
    """Delete finished ledger rows that started before ``before_iso``; a running row is never touched."""
    with transaction(conn):
        cur = conn.execute("DELETE FROM task_runs WHERE started_at < ? AND status != 'running'", (before_iso,))
        n = cur.rowcount
        # Alert delivery records are part of the same history and age out with it.
        conn.execute("DELETE FROM alerts_sent WHERE sent_at < ?", (before_iso,))
    return n


@dataclass(frozen=True)
class ModelVersion:
    version: str
    created_at: str
    champion: bool  # champion of at least one sector
    paths: tuple[str, ...]  # model files recorded for it


def model_versions(conn: sqlite3.Connection) -> list[ModelVersion]:
    """Every version in model_metadata or training_runs, newest first."""
    rows = conn.execute(
        """SELECT version, MAX(created_at) AS created_at, MAX(status = 'champion') AS champion,
                  json_group_array(path) AS paths
             FROM (SELECT version, created_at, status, path FROM model_metadata
                   UNION ALL
                   SELECT version, COALESCE(finished_at, started_at), NULL, NULL FROM training_runs)
            WHERE version IS NOT NULL
            GROUP BY version
            ORDER BY MAX(created_at) DESC, version DESC"""
    ).fetchall()
    import json

    return [ModelVersion(r["version"], r["created_at"] or "", bool(r["champion"]),
                         tuple(p for p in json.loads(r["paths"]) if p)) for r in rows]


def delete_model_version_rows(conn: sqlite3.Connection, version: str) -> int:
    """Delete one version's rows; call inside the caller's transaction. Refuses a champion."""
    if conn.execute("SELECT 1 FROM model_metadata WHERE version = ? AND status = 'champion' LIMIT 1",
                    (version,)).fetchone():
        raise ValueError(f"model version {version} is a champion")
    n = conn.execute("DELETE FROM model_metadata WHERE version = ?", (version,)).rowcount
    n += conn.execute("DELETE FROM training_runs WHERE version = ?", (version,)).rowcount
    return n


def integrity_problems(conn: sqlite3.Connection, max_errors: int = 20) -> list[str]:
    """``PRAGMA integrity_check``: an empty list when the database is sound."""
    try:
        rows = conn.execute(f"PRAGMA integrity_check({int(max_errors)})").fetchall()
    except sqlite3.DatabaseError as exc:  # damage bad enough that the check itself cannot run
        return [str(exc)]
    # One row may hold many problems, one a line, under a "*** in database main ***" heading
    problems = [line.strip() for r in rows for line in str(r[0]).splitlines()
                if line.strip() and not line.startswith("*** in database")]
    return [] if problems == ["ok"] else problems


def first_problem(problems: list[str]) -> str:
    """The first problem of a failed integrity check and how many more there are, in one line."""
    more = len(problems) - 1
    return problems[0] + (f", and {more} more problem{'s' if more > 1 else ''} (in the log)" if more > 0 else "")


@dataclass(frozen=True)
class PageStats:
    page_count: int
    freelist_count: int
    page_size: int

    @property
    def free_ratio(self) -> float:
        return self.freelist_count / self.page_count if self.page_count else 0.0

    @property
    def free_bytes(self) -> int:
        return self.freelist_count * self.page_size


def page_stats(conn: sqlite3.Connection) -> PageStats:
    one = lambda sql: int(conn.execute(sql).fetchone()[0])  # noqa: E731
    return PageStats(one("PRAGMA page_count"), one("PRAGMA freelist_count"), one("PRAGMA page_size"))


def vacuum(conn: sqlite3.Connection) -> None:
    """Rebuild the file without free pages (outside any transaction), then truncate the WAL."""
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per user table (used to show what a backup or restore holds)."""
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {n: int(conn.execute(f"SELECT COUNT(*) FROM [{n}]").fetchone()[0]) for n in names}



def past_expiry(conn: sqlite3.Connection, now_iso: str, today: str) -> list[int]:
    """Ids of open signals whose expiry has passed (expires_at, else the expiry session, else nothing);
    a row edited into something unreadable is left alone (store.signals.READABLE)."""
    from turbomode.store.signals import READABLE

    return [r[0] for r in conn.execute(
        f"""SELECT id FROM active_signals
            WHERE COALESCE(is_active, 1) = 1 AND {READABLE}
              AND ((expires_at IS NOT NULL AND expires_at <= ?)
                   OR (expires_at IS NULL AND expiry_date IS NOT NULL AND expiry_date < ?))
            ORDER BY id""", (now_iso, today))]


def adjusted_bars(conn: sqlite3.Connection, symbol: str, after: str, upto: str) -> list[tuple]:
    """(date, open, high, low, close) after ``after`` up to ``upto``, on the adjusted basis features use."""
    return conn.execute(
        """SELECT date, open * f, high * f, low * f, close * f FROM (
             SELECT date, open, high, low, close,
                    CASE WHEN adj_close > 0 AND close > 0 THEN adj_close / close ELSE 1.0 END AS f
               FROM price_data WHERE symbol = ? AND date > ? AND date <= ?)
           ORDER BY date""", (symbol, after, upto)).fetchall()


def adjusted_close_on_or_before(conn: sqlite3.Connection, symbol: str, day: str) -> tuple[str, float] | None:
    row = conn.execute(
        """SELECT date, CASE WHEN adj_close > 0 THEN adj_close ELSE close END FROM price_data
            WHERE symbol = ? AND date <= ? ORDER BY date DESC LIMIT 1""", (symbol, day)).fetchone()
    return (row[0], float(row[1])) if row and row[1] is not None else None

def abandon_runs_in_progress(conn: sqlite3.Connection, now_iso: str, note: str) -> int:
    """Mark 'running' ledger rows abandoned: after a restore, no process is running them in this file.

    Their locks (rows of the backup's moment) go too, in the same transaction.
    """
    with transaction(conn):
        n = conn.execute(
            "UPDATE task_runs SET status = 'abandoned', finished_at = ?, error = ? WHERE status = 'running'",
            (now_iso, note),
        ).rowcount
        conn.execute("DELETE FROM locks")
        return n
