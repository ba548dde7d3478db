"""The ``trades`` table: the labelled historical trades (one row per symbol and entry date).

Regenerated as a whole (or per sector) in one transaction: the old rows disappear only when the
new ones are in. The new rows are staged first, outside the database (a scratch SQLite file in the
temporary folder, written on a background thread while the job does its real work: ~1M rows take
seconds), so that transaction is one short INSERT ... SELECT.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from typing import Any, Callable, Iterable, Sequence

from turbomode.store.db import transaction

COLUMNS = ("symbol", "sector", "entry_date", "entry_price", "target_price", "stop_price", "horizon_days",
           "exit_date", "exit_price", "outcome", "return_pct", "label_params", "created_at", "signal_date")


class Cancelled(Exception):
    pass


class StagedTrades:
    """Trade rows being written to a scratch database on a background thread.

    ``rows`` is a callable returning the rows (tuples in COLUMNS order); it runs on the thread too.
    Use as a context manager: leaving it stops the thread (if still running) and deletes the file.
    """

    def __init__(self, rows: Callable[[], Iterable[Sequence[Any]]]):
        fd, self.path = tempfile.mkstemp(prefix="turbomode-trades-", suffix=".db")
        os.close(fd)
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._write, args=(rows,), name="turbomode-stage-trades",
                                        daemon=True)
        self._thread.start()

    def _rows(self, rows: Iterable[Sequence[Any]]):
        for i, row in enumerate(rows):
            if not i % 4096 and self._cancel.is_set():
                raise Cancelled
            yield row

    def _write(self, rows: Callable[[], Iterable[Sequence[Any]]]) -> None:
        try:
            scratch = sqlite3.connect(self.path)
            try:
                scratch.execute("PRAGMA journal_mode=OFF")
                scratch.execute("PRAGMA synchronous=OFF")
                scratch.execute(f"CREATE TABLE trades_new ({', '.join(COLUMNS)})")
                scratch.executemany(f"INSERT INTO trades_new VALUES ({', '.join('?' * len(COLUMNS))})",
                                    self._rows(rows()))
                scratch.commit()
            finally:
                scratch.close()
        except BaseException as exc:  # re-raised by wait() in the job's thread
            self.error = exc

    def wait(self) -> str:
        """The scratch file's path once every row is in it; the thread's error, if it failed."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.path

    def __enter__(self) -> "StagedTrades":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cancel.set()
        self._thread.join()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def stage(rows: Callable[[], Iterable[Sequence[Any]]]) -> StagedTrades:
    """Start writing ``rows()`` to a scratch file now; replace_trades takes them from there."""
    return StagedTrades(rows)


def replace_trades(conn: sqlite3.Connection, rows: "Iterable[Sequence[Any]] | StagedTrades",
                   sectors: Sequence[str] | None = None) -> int:
    """Replace all trades (or those of ``sectors``) with ``rows`` (tuples in COLUMNS order, or rows
    staged by ``stage``).

    The rows are first staged outside the database, which takes no lock on it; the write lock is
    held only for the delete and one INSERT ... SELECT. Writing ~800k rows straight into ``trades``
    held it long enough for other writers (the run's heartbeat) to time out.
    """
    if isinstance(rows, StagedTrades):
        return _replace_from(conn, rows.wait(), sectors)
    with stage(lambda: rows) as staged:
        return _replace_from(conn, staged.wait(), sectors)


def _replace_from(conn: sqlite3.Connection, path: str, sectors: Sequence[str] | None) -> int:
    cols = ", ".join(COLUMNS)
    conn.execute("ATTACH DATABASE ? AS staged_trades", (path,))
    try:
        with transaction(conn):
            if sectors is None:
                conn.execute("DELETE FROM trades")
            else:
                conn.executemany("DELETE FROM trades WHERE sector = ?", [(s,) for s in sectors])
            return conn.execute(f"INSERT INTO trades ({cols}) SELECT {cols} FROM staged_trades.trades_new").rowcount
    finally:
        conn.execute("DETACH DATABASE staged_trades")


def count_trades(conn: sqlite3.Connection, sector: str | None = None) -> dict[str, int]:
    """Trades per outcome (BUY/SELL/HOLD), optionally for one sector."""
    where, args = ("WHERE sector = ?", (sector,)) if sector else ("", ())
    cur = conn.execute(f"SELECT outcome, COUNT(*) FROM trades {where} GROUP BY outcome", args)
    return {o: n for o, n in cur.fetchall()}
