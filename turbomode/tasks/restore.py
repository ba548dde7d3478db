"""`restore`: put a backup in place of the database (not a scheduled job, so not in the ledger's job list)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from turbomode.context import Context
from turbomode.clock import iso
from turbomode.store import backup as backup_store
from turbomode.store import maintenance

log = logging.getLogger("turbomode.restore")


def restore(ctx: Context, now: datetime, backup: Path) -> backup_store.RestoreResult:
    """Check ``backup`` and swap it in; then open it once so pending migrations bring it up to date."""
    ctx.close()  # our own connection must not hold the file being replaced
    result = backup_store.restore_database(ctx.db_path, Path(backup).expanduser(), now)
    log.info("restored %s from %s (previous kept as %s)", result.db_path, result.backup, result.kept_as)
    conn = ctx.connect()  # migrates a backup taken by an older version
    # The backup was taken while maintain (at least) was running; those runs are not running here.
    maintenance.abandon_runs_in_progress(
        conn, iso(now), f"in progress when the backup was taken; database restored from {result.backup.name}")
    return result
