"""The ``alerts_sent`` table: one row per alert delivery attempt (e-mail, webhook, ping)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from turbomode.clock import iso
from turbomode.store.db import transaction


def record(conn: sqlite3.Connection, *, run_id: int | None, task: str, kind: str, channel: str,
           now: datetime, ok: bool, error: str | None) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO alerts_sent (run_id, task, kind, channel, sent_at, ok, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, task, kind, channel, iso(now), 1 if ok else 0, error),
        )


def last_delivered(conn: sqlite3.Connection, task: str, kind: str) -> str | None:
    """When an alert of this kind for this task last reached any channel (ISO UTC), or None."""
    row = conn.execute(
        "SELECT MAX(sent_at) FROM alerts_sent WHERE task = ? AND kind = ? AND ok = 1 AND channel != 'ping'",
        (task, kind),
    ).fetchone()
    return row[0] if row else None


def recent(conn: sqlite3.Connection, limit: int = 50) -> list[dict]:
    rows = conn.execute(
        "SELECT id, run_id, task, kind, channel, sent_at, ok, error FROM alerts_sent ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [dict(r) for r in rows]
