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
    promoted into it, its ledger row confused with another run's). Checked first, and again just
    before the swap, after the backup's own checks, which take a while on a large file.
    """
    ctx.close()  # our own connection must not hold the file being replaced
    refuse_while_running(ctx, now)
    result = backup_store.restore_database(ctx.db_path, Path(backup).expanduser(), now,
                                           before_swap=lambda: refuse_while_running(ctx, now))
    log.info("restored %s from %s (previous kept as %s)", result.db_path, result.backup, result.kept_as)
    conn = ctx.connect()  # migrates a backup taken by an older version
    # The backup was taken while maintain (at least) was running; those runs are not running here.
    maintenance.abandon_runs_in_progress(
        conn, iso(now), f"in progress when the backup was taken; database restored from {result.backup.name}")
    return result


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
    if not live:
        return
    what = " and ".join(
        f"{r.job} ({f'run {r.run_id}, ' if r.run_id is not None else ''}pid {r.pid}"
        f"{'' if r.host == locks.this_host() else f' on {r.host}'}, since {r.since})" for r in live)
    them = "it" if len(live) == 1 else "them"
    raise RunInProgress(
        f"cannot restore while {what} {'is' if len(live) == 1 else 'are'} running: {them} would go on writing "
        f"into the restored database; nothing was changed; wait for {them} to finish (or stop {them}), then run "
        "the restore again")
