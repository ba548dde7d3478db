"""Opening the database: refuse what is not SQLite, WAL + busy timeout, bring the schema up to date.

Uses only the standard library on the fast path. ``sqlite_utils`` (which imports pandas) is
imported only when a migration is actually pending, so ``status`` and ``catchup`` stay fast.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from turbomode.errors import HomeNotWritable, NotADatabase

if TYPE_CHECKING:
    from turbomode.errors import TurboModeError
from turbomode.store.schema_version import MIGRATION_SET, MIGRATION_NAMES

log = logging.getLogger("turbomode.db")

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30.0
# Windows: how long a replace waits for another process (a virus scan, the search indexer, a
# browser reading the report) to let go of the file it would replace.
REPLACE_WAIT_S = 5.0
WINDOWS = os.name == "nt"  # elsewhere a PermissionError is a real one: no waiting


# Files this process has already checked (and so may hold open through SQLite).
_checked: set[str] = set()


def check_is_database(path: Path, backups_dir: Path | None = None) -> None:
    """Raise NotADatabase when ``path`` exists, is non-empty and is not an SQLite file, and
    EmptyDatabase when it is empty in a home that has been used (``empty_database_error``).

    Checked once per process: closing any other descriptor of a database file drops every POSIX
    lock this process holds on it (SQLite's documented hazard), so a second connection's check
    would let another process delete the WAL under the first connection ("disk I/O error").
    SQLite itself still reports a file that stopped being a database (mapped in ``connect``).
    """
    key = str(Path(path).resolve())
    if key in _checked:
        return
    _check_header(path, Path(backups_dir) if backups_dir else Path(path).parent / "backups")
    _checked.add(key)


def not_a_file_error(path: Path) -> NotADatabase | None:
    """The one sentence for a database path that is a link to nowhere, or neither a file nor a folder
    (a FIFO would block every command on opening it); None otherwise."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return NotADatabase(f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; fix or "
                                "remove the link, or choose another --home")
        return None
    except OSError:
        return None  # opening it says what is wrong
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return NotADatabase(f"{path} is not a regular file (a named pipe, a device or a socket); move it away or choose "
                        "another --home")


def _check_header(path: Path, backups_dir: Path) -> None:
    named = not_a_file_error(Path(path))
    if named is not None:
        raise named
    if Path(path).is_dir():  # opening a folder is PermissionError on Windows, not IsADirectoryError
        raise NotADatabase(f"{path} is a folder, not a database; move it away or choose another --home")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        named = missing_database_error(Path(path), backups_dir)
        if named is not None:
            raise named from None
        return
    except IsADirectoryError:
        raise NotADatabase(f"{path} is a folder, not a database; move it away or choose another --home") from None
    if head and head != SQLITE_MAGIC:
        raise NotADatabase(
            f"{path} is not an SQLite database; TurboMode will not touch it. Move it away "
            "(or choose another --home) and run the command again"
        )
    if not head:
        named = empty_database_error(Path(path), backups_dir)
        if named is not None:
            raise named


def is_empty_file(path: Path) -> bool:
    """An existing database file of zero bytes with no write-ahead log beside it that could hold its pages."""
    try:
        if Path(path).stat().st_size != 0:
            return False
    except OSError:
        return False
    wal = Path(path).with_name(Path(path).name + "-wal")
    return not (wal.is_file() and wal.stat().st_size > 0)


def empty_database_error(path: Path, backups_dir: Path) -> "TurboModeError | None":
    """Why an empty database file must not become a new database, or None when it may.

    SQLite makes a zero-byte file of any path it opens, so an empty ``turbomode.db`` alone may be a
    first run killed before it wrote anything: that one becomes a new database, as a missing file
    does. In a home that has been used (backups, a file put aside by `restore`, model versions) the
    contents were lost instead (a crash mid-copy, a full disk, a sync client); a new empty database
    there would hide that, and maintain would soon rotate the good backups out for copies of it.
    """
    from turbomode.errors import EmptyDatabase

    if not is_empty_file(path):
        return None
    backups = _backups(backups_dir)
    if backups:
        return EmptyDatabase(
            f"the database {path} is empty (0 bytes) although this home has backups: its contents were lost, "
            f"and TurboMode will not start a new database over them; restore the newest backup with "
            f"`turbomode restore {backups[-1]}`")
    traces = _glob(path.parent, f"{path.name}.*.before-restore")
    models = path.parent / "models"
    traces += [p for p in _glob(models, "*") if not p.name.startswith(".")]
    if traces:
        return EmptyDatabase(
            f"the database {path} is empty (0 bytes) although this home has been used ({traces[0]} exists): its "
            "contents were lost, and TurboMode will not start a new database over them; restore a backup with "
            "`turbomode restore <file>`, or move the empty file away to start a new database")
    return None


def missing_database_error(path: Path, backups_dir: Path) -> "TurboModeError | None":
    """Why a missing database must not become a new one, or None when it may (a first run).

    Beside backups, a missing ``turbomode.db`` was moved or deleted: a job that started a new, empty
    database there would soon have `maintain` rotate the good backups out for copies of it. Model
    versions alone do not stop a new database (a user starting afresh keeps them; they are
    re-registered by nothing and harm nothing)."""
    from turbomode.errors import MissingDatabase

    backups = _backups(backups_dir)
    if not backups:
        return None
    return MissingDatabase(
        f"the database {path} is missing although this home has backups: it was moved or deleted, and TurboMode "
        f"will not start a new database beside them; restore the newest backup with "
        f"`turbomode restore {backups[-1]}` (or put the file back; to start afresh, move {backups_dir} away)")


def _backups(backups_dir: Path) -> list[Path]:
    """The non-empty backups in ``backups_dir``, oldest first (the stamp in the name orders them; a copy
    made before an upgrade counts too)."""
    return sorted((p for p in _glob(backups_dir, "turbomode-*.db") if p.is_file() and not is_empty_file(p)),
                  key=lambda p: p.name[len("turbomode-"):][:16])


def _glob(folder: Path, pattern: str) -> list[Path]:
    try:
        return list(folder.glob(pattern)) if folder.is_dir() else []
    except OSError:
        return []


def connect(path: Path, *, migrate: bool = True, readonly: bool = False, backups_dir: Path | None = None,
            notice: Callable[[str], None] | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` in autocommit mode.

    Transactions are explicit: use ``transaction(conn)``. ``migrate`` applies pending migrations;
    a database that already holds tables is first copied into ``backups_dir`` (default: the
    ``backups`` folder beside it) and ``notice`` is told where.
    """
    path = Path(path)
    check_is_database(path, backups_dir)
    if readonly:
        if not path.exists():
            raise FileNotFoundError(path)
        uri = _uri(path, "ro") + ("&immutable=1" if read_only_folder(path) else "")
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, path.parent) or HomeNotWritable(
                f"cannot create the folder {path.parent} ({exc.strerror}); choose a writable --home") from None
    conn = None
    saved: Path | None = None
    upgrading = False
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        newer = newer_migrations(conn) if migrate else []
        if newer:  # its rules are not ours: writing could break what the newer version stored
            conn.close()
            raise schema_too_new(path, newer)
        pending = pending_migrations(conn) if migrate else []
        if pending and _has_tables(conn):
            # Before the first change to a database we did not create (the old system's, or one of
            # an older TurboMode): a copy, byte for byte in content, that no rotation removes.
            saved, made = backup_before_upgrade(conn, backups_dir or path.parent / "backups")
            if notice is not None:
                notice(f"backed up {path} to {saved} before upgrading its schema ({len(pending)} change(s))" if made
                       else f"{path} is unchanged since {saved} was made before an earlier attempt to upgrade it: "
                            "that copy stands, no second one was made")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL" if mode == "wal" else "PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if pending:
            upgrading = True
            for note in ensure_schema(conn):
                log.warning("%s", note)
                if notice is not None:
                    notice(note)
    except (sqlite3.Error, OSError) as exc:
        if conn is not None:
            conn.close()
        named = storage_error(exc, path.parent, db=path)
        if named is not None:
            raise named from None
        if upgrading and isinstance(exc, sqlite3.Error):
            raise _upgrade_failed(exc, path, saved) from None
        raise
    return conn


def read_only_folder(path: Path) -> bool:
    """True when this user cannot write the database's folder (a monitor's account, a read-only mount)
    and no write-ahead log is beside the database.

    SQLite reads a WAL database only through its ``-shm`` index, which it must create in the folder;
    there it cannot, so such a database is opened ``immutable`` (no locks, no index). That reads it
    whole only while nothing is in a write-ahead log: the last connection to close checkpoints the
    log into the database and deletes it. With a ``-wal`` present (a job is writing) SQLite reads the
    log and the existing index read-only itself."""
    path = Path(path)
    if os.access(path.parent, os.W_OK):
        return False
    return not path.with_name(path.name + "-wal").exists()


def _uri(path: Path, mode: str) -> str:
    """An SQLite URI for ``path``, quoted: a '#', '?' or '%' in a folder name ('C# projects') would
    otherwise end or change the path."""
    from urllib.parse import quote

    return f"file:{quote(Path(path).as_posix(), safe='/:')}?mode={mode}"


def connect_as_is(path: Path) -> sqlite3.Connection:
    """A read-write connection to an existing database that changes nothing by opening it: no
    migration, no switch to WAL. For restore's claim on the file it is about to replace, which may be
    the old system's or a damaged one, and on the copy it puts in. FileNotFoundError when there is none.
    """
    path = Path(path)
    check_is_database(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(_uri(path, "rw"), uri=True,
                           timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def _upgrade_failed(exc: sqlite3.Error, path: Path, saved: Path | None) -> "TurboModeError":
    """The one sentence for an upgrade a migration could not make (it was rolled back whole)."""
    from turbomode import logs
    from turbomode.errors import SchemaUpgradeFailed

    log.error("upgrading the schema of %s failed", path, exc_info=exc)
    where = logs.current_file()
    copy = f", and its copy {saved} is kept" if saved else ""
    return SchemaUpgradeFailed(
        f"cannot upgrade {path} to this version of TurboMode ({type(exc).__name__}: {exc}); nothing in it was "
        f"changed{copy}; report this with the log {where or 'file'} (or move the database away to start a "
        "new one)")


# Read-only commands can read a database that has at least these migrations: later ones only add
# what their readers treat as empty when missing (e.g. price_quarantine). An older database (the
# old system's, or one without the run ledger) is refused until a write command upgrades it.
READABLE_FROM = "m005_next_open_fills_and_windows"  # active_signals columns the readers select


def connect_existing(path: Path, notice: Callable[[str], None] | None = None) -> sqlite3.Connection:
    """The database of a read-only command: it must exist and be recent enough to read as it is;
    nothing is created or migrated."""
    from turbomode.errors import NoDatabase

    path = Path(path)
    named = not_a_file_error(path)
    if named is not None:
        raise named
    if not path.exists():
        named = missing_database_error(path, path.parent / "backups")
        if named is not None:
            raise named
        raise NoDatabase(f"there is no TurboMode database in {path.parent} (no {path.name}); check --home "
                         "or TURBOMODE_HOME, or start with `turbomode demo` or `turbomode ingest`")
    check_is_database(path)
    if is_empty_file(path):  # not the old system's: nothing at all (a first run killed before it wrote)
        raise NoDatabase(f"there is no TurboMode database in {path.parent} yet ({path.name} is an empty file); "
                         "check --home or TURBOMODE_HOME, or start with `turbomode demo` or `turbomode ingest`")
    try:
        probe = connect(path, readonly=True)
        try:
            pending = pending_migrations(probe)
            newer = newer_migrations(probe)
        finally:
            probe.close()
        if newer and notice is not None:
            notice(f"{newer_version_text(path, newer)}: shown as this version reads it; upgrade TurboMode "
                   "before running a job on it")
        needed = MIGRATION_NAMES[: MIGRATION_NAMES.index(READABLE_FROM) + 1]
        if pending and notice is not None and not set(pending) & set(needed):
            notice(f"{path}'s schema is {len(pending)} change(s) behind this version of TurboMode; the next job "
                   "applies them (after a backup)")
        if set(pending) & set(needed):
            raise NoDatabase(
                f"{path} was written by the old system or an older TurboMode and needs a schema upgrade "
                f"({len(pending)} change(s)), which a read-only command never makes; run a job such as "
                "`turbomode ingest` or `turbomode catchup`: it backs the file up first, then upgrades it")
        # in a folder this user cannot write, the read-only connection is the one that can read; a newer
        # version's database gets nothing written, not even a cache
        return connect(path, readonly=True) if read_only_folder(path) or newer else connect(path, migrate=False)
    except sqlite3.Error as exc:
        named = storage_error(exc, path.parent, db=path)
        if named is not None:
            raise named from None
        raise


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0


def backup_before_upgrade(conn: sqlite3.Connection, backups_dir: Path) -> tuple[Path, bool]:
    """Copy the database (sqlite3 backup API) to ``turbomode-<stamp>-before-upgrade.db``.

    The name is outside maintain's rotation (``turbomode-<stamp>.db``): this copy is kept until
    the user deletes it. Returns the copy and whether it is new: when an earlier before-upgrade copy
    holds the same pages (an upgrade that failed and is retried by every job), that one is returned
    and the new copy deleted, so retries cannot fill the disk.
    """
    from turbomode import clock

    backups_dir = Path(backups_dir)
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    final = backups_dir / f"turbomode-{stamp}-before-upgrade.db"
    n = 1
    while final.exists():
        final = backups_dir / f"turbomode-{stamp}-{n}-before-upgrade.db"
        n += 1
    tmp = backups_dir / f".{final.name}.{os.getpid()}.tmp"
    dst = open_backup_copy(backups_dir, tmp)  # before the clean-up below: a file named like the folder fails it
    try:
        try:
            conn.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
        for earlier in sorted(backups_dir.glob("turbomode-*-before-upgrade.db"), reverse=True):
            if same_pages(earlier, tmp):
                return earlier, False
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final, True


def open_backup_copy(folder: Path, tmp: Path) -> sqlite3.Connection:
    """Make the backups ``folder`` if needed and open the new copy ``tmp`` in it.

    A folder that cannot take it is named in the error: left to the caller, a failure to open the copy
    reads as one to open the database, and blames the home folder.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(tmp)
    except (OSError, sqlite3.Error) as exc:
        named = backups_folder_error(exc, folder)
        if named is None:
            raise
        raise named from None


def backups_folder_error(exc: BaseException, folder: Path) -> "TurboModeError | None":
    """The one sentence for a backups folder that cannot take a new copy (None: not such a failure)."""
    from turbomode.errors import DiskFull

    if isinstance(exc, (FileExistsError, NotADirectoryError)) or (folder.exists() and not folder.is_dir()):
        return HomeNotWritable(f"cannot write a backup into {folder}: it is a file, not a folder; move it away "
                               "(TurboMode makes the folder) and run the command again")
    named = storage_error(exc, folder)
    if isinstance(named, DiskFull):
        return named
    denied = isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    if denied or (isinstance(exc, sqlite3.Error) and "unable to open" in str(exc).lower()):
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return HomeNotWritable(f"cannot write a backup into the folder {folder} ({why}): it is not writable for "
                               "this user; make it writable and run the command again")
    return named


# Database-header bytes that record how and when a file was written, not what it holds: the
# journal mode (18-19), the change counter (24-27), and the counter and SQLite version that
# vouch for it (92-99). Two copies of one database differ at most there.
_BOOKKEEPING = (range(18, 20), range(24, 28), range(92, 100))


def same_pages(a: Path, b: Path, chunk: int = 1 << 20) -> bool:
    """Whether the database files ``a`` and ``b`` hold the same pages (so the same content)."""
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            first = True
            while True:
                x, y = fa.read(chunk), fb.read(chunk)
                if first:
                    x, y = bytearray(x), bytearray(y)
                    for span in _BOOKKEEPING:
                        for i in span:
                            if i < len(x) and i < len(y):
                                x[i] = y[i] = 0
                    first = False
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False  # unreadable: not a copy to rely on


# SQLite reports a disk that filled up mid-write as "disk I/O error" as often as "disk is full"
# (e.g. when the -shm file cannot grow); below this much free space we say which it is.
LOW_SPACE_BYTES = 16 * 1024 * 1024


def free_bytes(where: Path) -> int | None:
    """Free space on the file system holding ``where`` (its nearest existing ancestor)."""
    import shutil

    p = Path(where)
    for candidate in (p, *p.parents):
        try:
            if candidate.exists():
                return shutil.disk_usage(candidate).free
        except OSError:
            return None
    return None


def _size(n: int | None) -> str:
    if n is None:
        return "unknown space"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def storage_error(exc: BaseException, where: Path, db: Path | None = None) -> "TurboModeError | None":
    """The one-sentence error for a file-system or SQLite failure under the folder ``where``.

    Disk full, permission denied, read-only file system or database, a path through a file: each
    named with its folder and cause. None when ``exc`` is none of these (a bug: log it).
    """
    import errno

    from turbomode.errors import DiskFull

    where = Path(where)
    name = db or where
    full = DiskFull(f"the disk holding {where} is full ({_size(free_bytes(where))} free); free some space "
                    "and run the command again (nothing stored was lost)")
    if isinstance(exc, sqlite3.Error):
        msg = str(exc).lower()
        if "database or disk is full" in msg:
            return full
        if "disk i/o error" in msg:
            free = free_bytes(where)
            if free is not None and free < LOW_SPACE_BYTES:
                return full
            return HomeNotWritable(f"reading or writing {name} failed with a disk I/O error ({_size(free)} free "
                                   f"in {where}); check the disk, then run the command again")
        if "readonly" in msg or "read-only" in msg:
            return HomeNotWritable(f"the database {name} is read-only ({exc}); make it and the folder {where} "
                                   "writable for this user, or choose another --home")
        if "unable to open database file" in msg:
            return HomeNotWritable(f"cannot open the database {name} ({exc}): the folder {where} is missing "
                                   "or not writable for this user; fix its permissions or choose another --home")
        if "database is locked" in msg or "database table is locked" in msg:
            from turbomode.errors import DatabaseBusy

            return DatabaseBusy(f"the database {name} is locked by another program (a TurboMode job, or an SQLite "
                                f"browser with unsaved changes) that has held a write lock for over "
                                f"{BUSY_TIMEOUT_S:g} s, so nothing was changed; let that program finish or close it, "
                                "then run the command again")
        if "file is not a database" in msg or "malformed" in msg:
            return NotADatabase(f"{name} is not a usable SQLite database ({exc}); restore a backup with "
                                "`turbomode restore` or move it away")
        return None
    if isinstance(exc, OSError):
        target = exc.filename or where
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return full
        if exc.errno in (errno.EACCES, errno.EPERM):
            return HomeNotWritable(f"cannot write {target} (permission denied); make {where} writable for this "
                                   "user or choose another --home")
        if exc.errno == errno.EROFS:
            return HomeNotWritable(f"cannot write {target}: {where} is on a read-only file system; choose "
                                   "another --home")
        if exc.errno == errno.ENOTDIR:
            return HomeNotWritable(f"cannot use {target}: part of that path is a file, not a folder; point "
                                   "--home (or TURBOMODE_HOME) at a folder")
    return None


def _applied_migrations(conn: sqlite3.Connection) -> set[str] | None:
    """Names of the applied migrations of our set; None when the database has no migrations table."""
    try:
        rows = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATION_SET,)
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise  # a full disk or an unreadable file is not "an old database": say what it is
        return None
    return {r[0] for r in rows}


def pending_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of migrations not yet applied (stdlib only)."""
    done = _applied_migrations(conn) or set()
    return [n for n in MIGRATION_NAMES if n not in done]


def newer_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of applied migrations this version does not know: a newer TurboMode upgraded the database."""
    return sorted((_applied_migrations(conn) or set()) - set(MIGRATION_NAMES))


def newer_version_text(path: Path, newer: list[str]) -> str:
    """What is wrong with a database a newer TurboMode upgraded, for every message that names it."""
    from turbomode import __version__

    return (f"{path} was written by a newer version of TurboMode (schema change{'s' if len(newer) > 1 else ''} "
            f"{', '.join(newer)} unknown to TurboMode {__version__})")


def schema_too_new(path: Path, newer: list[str]) -> "TurboModeError":
    from turbomode.errors import SchemaTooNew

    return SchemaTooNew(f"{newer_version_text(path, newer)}, so nothing was changed; upgrade TurboMode to that "
                        "version or later to use it, or restore a backup this version made")


def ensure_schema(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations (``connect`` backs a database with tables up first).

    Returns notes for the user about what the upgrade did to their rows (none for a new database).
    """
    pending = pending_migrations(conn)
    if not pending:
        return []
    from sqlite_utils import Database

    from turbomode.store.migrations import migrations, upgrade_notes

    db = Database(conn)
    # One transaction for the whole upgrade (sqlite-utils nests each migration in a savepoint): a
    # failure leaves the file as it was, not half upgraded, so a retry finds the same database.
    with transaction(conn):
        migrations.apply(db)
        return upgrade_notes(db, pending)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """One atomic unit: BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        # SQLite rolls back by itself on some errors (a full disk): then there is nothing to roll
        # back, and the error the caller must see is the original one, not "no transaction".
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise
    else:
        conn.execute("COMMIT")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)  # never leave the temporary file behind
        if isinstance(exc, OSError) and exc.filename == str(tmp):
            exc.filename = str(path)  # the user knows the file they asked for, not our temporary name
        raise


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
