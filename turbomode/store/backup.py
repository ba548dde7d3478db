"""Online backups (the sqlite3 backup API), their rotation, and restoring one in place of the database.

A backup is one self-contained file (rollback journal mode, no -wal beside it) named
``turbomode-<UTC stamp>.db``; it is written under a temporary name, checked, then renamed, so a
crash never leaves a half-written file that looks like a backup.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from turbomode.errors import BackupInvalid
from turbomode.store.db import SQLITE_MAGIC, open_backup_copy, replace
from turbomode.store.maintenance import first_problem, integrity_problems, table_counts

log = logging.getLogger("turbomode.backup")
BACKUP_RE = re.compile(r"^turbomode-(\d{8}T\d{6}Z)(?:-\d+)?\.db$")
# A TurboMode database (ours or the seed's) always has this table.
SIGNATURE_TABLE = "active_signals"


def stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def backup_database(conn: sqlite3.Connection, dest_dir: Path, now: datetime,
                    progress: Callable[[int, int], None] | None = None, own_run_id: int | None = None) -> Path:
    """Copy the live database (consistently, while others may read) into ``dest_dir``; return the file.

    ``own_run_id``: the ledger row of the run taking the backup (maintain's). In the copy it is
    recorded as finished when the copy was made, with its lock released: restored, the backup must
    not report its own maker as a run that died.
    """
    base = f"turbomode-{stamp(now)}"
    final = dest_dir / f"{base}.db"
    n = 1
    while final.exists():  # two backups in the same second keep both
        final = dest_dir / f"{base}-{n}.db"
        n += 1
    tmp = dest_dir / f".{final.name}.{os.getpid()}.tmp"
    dst = open_backup_copy(dest_dir, tmp)  # before the clean-up below: a file named like the folder fails it
    try:
        try:
            cb = (lambda status, remaining, total: progress(total - remaining, total)) if progress else None
            conn.backup(dst, pages=1024, progress=cb)
            # The copy must stand alone: no WAL file is ever needed beside a backup.
            dst.execute("PRAGMA journal_mode = DELETE")
            if own_run_id is not None:
                _close_own_run(dst, own_run_id, now, final.name)
            problems = integrity_problems(dst)
        finally:
            dst.close()
        if problems:
            raise BackupInvalid(f"the backup written to {tmp} failed its integrity check ({first_problem(problems)}); "
                                "the live database may be damaged: run `turbomode maintain` to check it")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def _close_own_run(dst: sqlite3.Connection, run_id: int, now: datetime, name: str) -> None:
    import json

    from turbomode.clock import iso

    note = (f"this run made this backup ({name}); what it did after the copy (rotation, vacuum) is not "
            "recorded in the copy")
    with dst:
        dst.execute("UPDATE task_runs SET status = 'succeeded', finished_at = ?, exit_code = 0, summary = ?"
                    " WHERE id = ? AND status = 'running'", (iso(now), json.dumps({"note": note}), run_id))
        dst.execute("DELETE FROM locks WHERE run_id = ?", (run_id,))


def list_backups(dest_dir: Path) -> list[Path]:
    """Backups in ``dest_dir``, oldest first (the stamp in the name orders them)."""
    if not dest_dir.is_dir():
        return []
    found = [p for p in dest_dir.iterdir() if p.is_file() and BACKUP_RE.match(p.name)]

    def key(p: Path) -> tuple[str, int]:
        m = re.match(r"^turbomode-(\d{8}T\d{6}Z)(?:-(\d+))?\.db$", p.name)
        return (m.group(1), int(m.group(2) or 0))

    return sorted(found, key=key)


def rotate_backups(dest_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups and any temporary file a crashed backup left."""
    removed: list[Path] = []
    backups = list_backups(dest_dir)
    for p in backups[: max(0, len(backups) - keep)]:
        if _unlink_unless_open(p):
            removed.append(p)
    if dest_dir.is_dir():
        for p in dest_dir.glob(".turbomode-*.tmp"):
            _unlink_unless_open(p)
    return removed


def _unlink_unless_open(path: Path) -> bool:
    """Delete ``path``; False when Windows refuses because it is open elsewhere (a later rotation will)."""
    try:
        path.unlink(missing_ok=True)
    except PermissionError as exc:
        log.warning("kept %s for now: it is open elsewhere (%s)", path, exc.strerror)
        return False
    return True


@dataclass
class BackupCheck:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)


def check_backup_file(path: Path, shown: Path | None = None) -> BackupCheck:
    """Raise BackupInvalid unless ``path`` is a sound TurboMode database. Opens it read-write: pass a copy.

    ``shown``: the name the user gave (messages never name our temporary copy).
    """
    name = shown or path
    check_backup_file_header(path, shown=name)
    conn = sqlite3.connect(path)
    try:
        try:
            problems = integrity_problems(conn)
        except sqlite3.DatabaseError as exc:
            raise BackupInvalid(f"{name} cannot be read ({exc}); choose an older backup") from None
        if problems:
            raise BackupInvalid(f"{name} fails its integrity check ({first_problem(problems)}); choose an older backup")
        try:
            counts = table_counts(conn)
        except sqlite3.DatabaseError as exc:
            raise BackupInvalid(f"{name} cannot be read ({exc}); choose an older backup") from None
    finally:
        conn.close()
    if SIGNATURE_TABLE in counts:
        from turbomode.store.db import newer_migrations, newer_version_text

        conn = sqlite3.connect(path)
        try:
            newer = newer_migrations(conn)
        finally:
            conn.close()
        if newer:
            raise BackupInvalid(f"{newer_version_text(name, newer)}; upgrade TurboMode first, or choose a backup "
                                "this version made")
    if SIGNATURE_TABLE not in counts:
        raise BackupInvalid(f"{name} is an SQLite database but not a TurboMode one (no {SIGNATURE_TABLE} "
                            "table); pass one of the files in <home>/backups/")
    return BackupCheck(path, counts)


@dataclass
class RestoreResult:
    db_path: Path
    backup: Path
    kept_as: Path | None
    counts: dict[str, int]


def restore_database(db_path: Path, backup: Path, now: datetime,
                     before_swap: Callable[[Path], None] | None = None) -> RestoreResult:
    """Put ``backup`` in place of ``db_path`` atomically, keeping the current files as ``*.before-restore``.

    The backup is copied next to the database and checked there; only a copy that passes its integrity
    check goes in, so a failed restore leaves everything as it was. It goes in through SQLite (the
    backup API, one transaction, into the same file), not by renaming a file over the database:
    Windows refuses to replace a file that any process still has open, and elsewhere a process that
    had it open would go on writing into the replaced file unseen. Only a current file that SQLite
    cannot open as a database at all is replaced by renaming.

    ``before_swap`` is called with the checked copy once the backup has passed its checks, just before
    the database is touched; it may raise to call the restore off (a job that started meanwhile), and it
    may write into the copy (the restore's lock, so the database goes in already claimed).
    """
    backup = Path(backup)
    check_backup_file_header(backup)
    if db_path.exists() and os.path.samefile(backup, db_path):
        raise BackupInvalid(f"{backup} is the live database itself, not a backup; pass one of the files in "
                            f"{db_path.parent / 'backups'}")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.restore.{os.getpid()}.tmp")
    try:
        try:
            shutil.copyfile(backup, tmp)
        except OSError as exc:
            if exc.filename == str(tmp) or exc.filename2 == str(tmp):
                exc.filename, exc.filename2 = str(db_path.parent), None  # the folder, not our temporary name
            raise
        check = check_backup_file(tmp, shown=backup)
        _drop_sidecars(tmp)
        if before_swap is not None:
            before_swap(tmp)
        kept = None
        if db_path.exists():
            # A byte copy, not the backup API: the current file may be the damaged one.
            kept = db_path.with_name(f"{db_path.name}.{stamp(now)}.before-restore")
            shutil.copy2(db_path, kept)
            for suffix in ("-wal",):
                side = db_path.with_name(db_path.name + suffix)
                if side.exists():
                    shutil.copy2(side, kept.with_name(kept.name + suffix))
        if not (db_path.exists() and _copy_into_place(tmp, db_path)):
            # The old WAL belongs to the old file: left in place it would be replayed onto the restored one.
            _drop_sidecars(db_path)
            replace(tmp, db_path)
    finally:
        tmp.unlink(missing_ok=True)
        _drop_sidecars(tmp)
    return RestoreResult(db_path, backup, kept, check.counts)


def _copy_into_place(src: Path, db_path: Path) -> bool:
    """Write ``src``'s pages over the database in one transaction; False when it is no database to write into.

    Other connections (this process's or another's) stay valid and see the restored rows; a writer
    holding the database makes this wait up to the busy timeout, then fail with nothing changed.
    """
    dst = sqlite3.connect(db_path, timeout=30)
    try:
        source = sqlite3.connect(src)
        try:
            try:
                dst.execute("SELECT count(*) FROM sqlite_master").fetchone()
                dst_page = dst.execute("PRAGMA page_size").fetchone()[0]
            except sqlite3.DatabaseError:  # not a database (a damaged header): replace the file instead
                return False
            if dst_page != source.execute("PRAGMA page_size").fetchone()[0]:
                return False  # SQLite cannot change a WAL database's page size (an old system's backup)
            source.backup(dst)
        finally:
            source.close()
    finally:
        dst.close()
    return True


def check_backup_file_header(path: Path, shown: Path | None = None) -> None:
    """The cheap part of check_backup_file, safe on the user's own file (it only reads 16 bytes)."""
    name = shown or path
    if not path.is_file():
        raise BackupInvalid(f"{name} is not a file; pass one of the files in <home>/backups/")
    with open(path, "rb") as fh:
        if fh.read(16) != SQLITE_MAGIC:
            raise BackupInvalid(f"{name} is not an SQLite database; pass one of the files in <home>/backups/")


def _drop_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
