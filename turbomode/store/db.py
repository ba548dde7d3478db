"""Opening the database: refuse what is not SQLite, WAL + busy timeout, bring the schema up to date.

Uses only the standard library on the fast path. ``sqlite_utils`` (which imports pandas) is
imported only when a migration is actually pending, so ``status`` and ``catchup`` stay fast.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterator

from turbomode.errors import HomeNotWritable, NotADatabase
from turbomode.store.schema_version import MIGRATION_SET, MIGRATION_NAMES

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30.0
# Windows: how long a replace waits for another process (a virus scan, the search indexer, a
# browser reading the report) to let go of the file it would replace.
REPLACE_WAIT_S = 5.0
WINDOWS = os.name == "nt"  # elsewhere a PermissionError is a real one: no waiting


# Files this process has already checked (and so may hold open through SQLite).
_checked: set[str] = set()


def check_is_database(path: Path) -> None:
    """Raise NotADatabase when ``path`` exists, is non-empty and is not an SQLite file.

    Checked once per process: closing any other descriptor of a database file drops every POSIX
    lock this process holds on it (SQLite's documented hazard), so a second connection's check
    would let another process delete the WAL under the first connection ("disk I/O error").
    SQLite itself still reports a file that stopped being a database (mapped in ``connect``).
    """
    key = str(Path(path).resolve())
    if key in _checked:
        return
    _check_header(path)
    _checked.add(key)


def _check_header(path: Path) -> None:
    if Path(path).is_dir():  # opening a folder is PermissionError on Windows, not IsADirectoryError
        raise NotADatabase(f"{path} is a folder, not a database; move it away or choose another --home")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise NotADatabase(f"{path} is a folder, not a database; move it away or choose another --home") from None
    if head and head != SQLITE_MAGIC:
        raise NotADatabase(
            f"{path} is not an SQLite database; TurboMode will not touch it. Move it away "
            "(or choose another --home) and run the command again"
        )


def connect(path: Path, *, migrate: bool = True, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` in autocommit mode.

    Transactions are explicit: use ``transaction(conn)``. ``migrate`` applies pending migrations.
    """
    path = Path(path)
    check_is_database(path)
    if readonly:
        if not path.exists():
            raise FileNotFoundError(path)
        conn = sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                               isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HomeNotWritable(f"cannot create the folder {path.parent} ({exc.strerror}); "
                                  "choose a writable --home") from None
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL" if mode == "wal" else "PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        # Closed at once, not when the traceback goes: on Windows an open handle blocks `restore`.
        if conn is not None:
            conn.close()
        msg = str(exc)
        if "file is not a database" in msg or "malformed" in msg:
            raise NotADatabase(f"{path} is not a usable SQLite database ({msg}); restore a backup with "
                               "`turbomode restore` or move it away") from None
        if "readonly" in msg or "unable to open" in msg:
            raise HomeNotWritable(f"cannot write the database {path} ({msg}); check the folder's "
                                  "permissions or choose another --home") from None
        raise
    if migrate:
        try:
            ensure_schema(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and ("readonly" in str(exc) or "unable to open" in str(exc)):
                raise HomeNotWritable(f"cannot write the database {path} ({exc}); check the folder's "
                                      "permissions or choose another --home") from None
            raise
    return conn


def pending_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of migrations not yet applied (stdlib only)."""
    try:
        rows = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATION_SET,)
        ).fetchall()
    except sqlite3.OperationalError:  # no migrations table yet
        return list(MIGRATION_NAMES)
    done = {r[0] for r in rows}
    return [n for n in MIGRATION_NAMES if n not in done]


def ensure_schema(conn: sqlite3.Connection) -> None:
    if not pending_migrations(conn):
        return
    from sqlite_utils import Database

    from turbomode.store.migrations import migrations

    migrations.apply(Database(conn))


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """One atomic unit: BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def replace(src: Path, dst: Path) -> None:
    """os.replace, waiting on Windows while another process holds ``dst`` open (it refuses until then)."""
    deadline = time.monotonic() + REPLACE_WAIT_S
    while True:
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if not WINDOWS or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
