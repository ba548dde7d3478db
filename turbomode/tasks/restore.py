"""`restore`: put a backup in place of the database (not a scheduled job, so not in the ledger's job list)."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from pathlib import Path

from turbomode.clock import iso
from turbomode.context import Context
from turbomode.errors import RunInProgress, TurboModeError
from turbomode.store import backup as backup_store
from turbomode.store import maintenance

log = logging.getLogger("turbomode.restore")


def restore(ctx: Context, now: datetime, backup: Path) -> backup_store.RestoreResult:
    """Check ``backup`` and swap it in; then open it once so pending migrations bring it up to date.

    Refused while a job is running: it would go on writing into the restored database (a champion
    promoted into it, its ledger row confused with another run's). Checked first; then, once the
    backup's own checks (which take a while on a large file) have passed, checked again and the
    database claimed with the restore lock in one write transaction, so that no job can start
    between that check and the swap. The same lock is written into the copy that goes in, so none
    starts between the swap and the clean-up either; the clean-up releases it.
    """
    ctx.close()  # our own connection must not hold the file being replaced
    refuse_while_running(ctx, now)
    claim = RestoreClaim(ctx, now)
    try:
        result = backup_store.restore_database(ctx.db_path, Path(backup).expanduser(), now,
                                               before_swap=claim.take)
        log.info("restored %s from %s (previous kept as %s)", result.db_path, result.backup, result.kept_as)
        conn = ctx.connect()  # migrates a backup taken by an older version
        if claim.in_copy:
            # The backup was taken while maintain (at least) was running; those runs are not running
            # here. Its locks go with them, ours included: the one transaction that ends the restore.
            maintenance.abandon_runs_in_progress(
                conn, iso(now),
                f"in progress when the backup was taken; database restored from {result.backup.name}")
        # else the backup had no ledger (the old system's): no run of its moment to abandon, and a run
        # in the ledger now is one that started since, which must be left alone
    except BaseException:
        claim.release()
        raise
    return result


class RestoreClaim:
    """The restore lock: taken in the live database just before the swap, written into the copy."""

    def __init__(self, ctx: Context, now: datetime):
        from turbomode.ops import locks
        from turbomode.store import ledger

        self.ctx, self.now = ctx, now
        self.lock = ledger.restore_lock(now, locks.my_start_time())
        self.in_copy = False  # the copy going in holds the lock too

    def take(self, copy: Path) -> None:
        """restore_database's ``before_swap``: claim the live database (RunInProgress when a run is
        live), then lock the checked copy the same way."""
        from turbomode.ops import locks
        from turbomode.store import db, ledger

        conn = _open_ledger(self.ctx.db_path)
        if conn is not None:
            try:
                live = locks.claim_restore(conn, self.lock, self.now,
                                           self.ctx.config["run.stale_heartbeat_minutes"])
            except sqlite3.Error as exc:
                if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    # a writer held it past the busy timeout: going on unclaimed would reopen the race
                    raise RunInProgress(
                        f"cannot restore while another process is writing to {self.ctx.db_path} (busy for "
                        f"{db.BUSY_TIMEOUT_S:.0f} s); nothing was changed; run the restore again once the job "
                        "writing it has finished") from None
                # the old system's (no ledger) or a damaged file: no run can claim it
                log.info("restore: no run ledger to claim in %s (%s)", self.ctx.db_path, exc)
                live = []
            finally:
                conn.close()
            if live:
                raise _refusal(live)
        copy_conn = db.connect_as_is(copy)
        try:
            with db.transaction(copy_conn):
                self.in_copy = ledger.put_restore_lock(copy_conn, self.lock)
        finally:
            copy_conn.close()

    def release(self) -> None:
        """Delete our lock from whichever database is in place (a failed restore must not leave it;
        one we cannot delete is stale once this process exits, and the next claim or sweep drops it)."""
        from turbomode.store import ledger

        conn = _open_ledger(self.ctx.db_path)
        if conn is None:
            return
        try:
            ledger.release_restore_lock(conn, self.lock)
        except sqlite3.Error as exc:
            log.info("restore: lock not released from %s (%s)", self.ctx.db_path, exc)
        finally:
            conn.close()


def _open_ledger(path: Path) -> sqlite3.Connection | None:
    """A connection that changes nothing by opening (no migration); None when there is no database."""
    from turbomode.store import db

    try:
        return db.connect_as_is(path)
    except (TurboModeError, OSError, sqlite3.Error):
        return None  # missing, empty or not a database: no run can be recorded in it


def refuse_while_running(ctx: Context, now: datetime) -> None:
    """Raise RunInProgress naming every run whose process is still alive (by the sweep's rule)."""
    from turbomode.ops import locks
    from turbomode.store import db

    try:
        conn = db.connect(ctx.db_path, readonly=True)
    except (TurboModeError, OSError, sqlite3.Error):
        return  # missing, empty or not a database: no run can be recorded in it, and restore is the remedy
    try:
        live = locks.live_runs(conn, now, ctx.config["run.stale_heartbeat_minutes"])
    except sqlite3.Error as exc:  # the old system's (no ledger) or a damaged file
        log.info("restore: no run ledger readable in %s (%s)", ctx.db_path, exc)
        return
    finally:
        conn.close()
    if live:
        raise _refusal(live)


def _refusal(live: list) -> RunInProgress:
    from turbomode.ops import locks

    what = " and ".join(
        f"{'another restore' if r.job == locks.RESTORE_LOCK else r.job} "
        f"({f'run {r.run_id}, ' if r.run_id is not None else ''}pid {r.pid}"
        f"{'' if r.host == locks.this_host() else f' on {r.host}'}, since {r.since})" for r in live)
    them = "it" if len(live) == 1 else "them"
    return RunInProgress(
        f"cannot restore while {what} {'is' if len(live) == 1 else 'are'} running: {them} would go on writing "
        f"into the restored database; nothing was changed; wait for {them} to finish (or stop {them}), then run "
        "the restore again")
