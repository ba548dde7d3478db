"""`maintain`: integrity check, expire signals, prune old runs and model versions, back up, vacuum.

The integrity check comes first: a damaged database is not written to, not backed up (a backup of it
would push a good one out of the rotation) and not vacuumed; the job alerts and fails instead.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from turbomode.clock import iso
from turbomode.context import Context
from turbomode.store import backup as backup_store
from turbomode.store import maintenance as store
from turbomode.store.db import transaction
from turbomode.tasks import TaskResult

log = logging.getLogger("turbomode.maintain")


def run(ctx: Context, now: datetime, options: dict[str, Any]) -> TaskResult:
    conn = ctx.connect()
    cfg = ctx.config
    progress = options.get("progress")  # optional callable(step, done, total)
    summary: dict[str, Any] = {}
    lines: list[str] = []

    problems = store.integrity_problems(conn)
    summary["integrity"] = "ok" if not problems else problems
    if problems:
        from turbomode.ops import alerts

        msg = (f"database {ctx.db_path} fails its integrity check ({problems[0]}); restore the newest "
               "backup with `turbomode restore <file>` from " + str(ctx.backups_dir))
        alerts.notify(ctx, alerts.AlertEvent(job="maintain", kind="failed", message=msg,
                                             details={"integrity": problems}))
        log.error("integrity check failed: %s", problems)
        return TaskResult("failed", summary, msg)
    lines.append("integrity check: ok")

    expired = expire_signals(conn, now)
    summary["signals_expired"] = len(expired)
    lines.append(f"signals expired and archived: {len(expired)}")

    cutoff = now - timedelta(days=cfg["maintain.keep_runs_days"])
    summary["runs_pruned"] = store.prune_task_runs(conn, iso(cutoff))
    lines.append(f"ledger rows older than {cfg['maintain.keep_runs_days']} days pruned: {summary['runs_pruned']}")

    pruned, kept = prune_model_versions(conn, ctx.models_dir, cfg["models.keep_versions"])
    summary["model_versions_pruned"] = pruned
    summary["model_versions_kept"] = kept
    lines.append(f"model versions pruned: {len(pruned)} (kept {len(kept)}: newest "
                 f"{cfg['models.keep_versions']} and every champion)")

    cb = (lambda done, total: progress("backup", done, total)) if progress else None
    path = backup_store.backup_database(conn, ctx.backups_dir, now, progress=cb)
    removed = backup_store.rotate_backups(ctx.backups_dir, cfg["maintain.keep_backups"])
    summary["backup"] = str(path)
    summary["backup_bytes"] = path.stat().st_size
    summary["backups_removed"] = [p.name for p in removed]
    lines.append(f"backup: {path} ({_mb(path.stat().st_size)}); {len(removed)} old backup(s) rotated out, "
                 f"keeping {cfg['maintain.keep_backups']}")

    summary["vacuum"] = vacuum_if_worthwhile(conn, cfg["maintain.vacuum_free_ratio"])
    v = summary["vacuum"]
    if v["ran"]:
        lines.append(f"vacuum: ran, {v['free_ratio']:.1%} of pages were free (threshold "
                     f"{v['threshold']:.0%}); file {_mb(v['bytes_before'])} -> {_mb(v['bytes_after'])}")
    else:
        lines.append(f"vacuum: skipped, {v['free_ratio']:.1%} of pages free (below the "
                     f"{v['threshold']:.0%} threshold)")
    return TaskResult("succeeded", summary, "\n".join(lines))


def expire_signals(conn, now: datetime) -> list[dict]:
    return store.expire_signals(conn, iso(now), now.date().isoformat())


def prune_model_versions(conn, models_dir: Path, keep_versions: int) -> tuple[list[str], list[str]]:
    """Delete versions beyond the newest ``keep_versions``, never a champion: folder and rows together.

    The folder is first renamed aside; if deleting the rows fails it is renamed back, so rows and files
    never disagree. Returns (pruned, kept).
    """
    versions = store.model_versions(conn)
    kept = [v.version for i, v in enumerate(versions) if i < keep_versions or v.champion]
    pruned: list[str] = []
    for v in versions:
        if v.version in kept:
            continue
        folder = _version_folder(models_dir, v.version)
        trash = models_dir / f".pruning-{os.getpid()}-{len(pruned)}"
        moved = False
        if folder is not None and folder.exists():
            os.replace(folder, trash)
            moved = True
        try:
            with transaction(conn):
                store.delete_model_version_rows(conn, v.version)
        except BaseException:
            if moved:
                os.replace(trash, folder)
            raise
        if moved:
            shutil.rmtree(trash, ignore_errors=True)
        pruned.append(v.version)
        log.info("pruned model version %s", v.version)
    return pruned, kept


def _version_folder(models_dir: Path, version: str) -> Path | None:
    """<models>/<version>, only when the name cannot point outside the models folder."""
    if not version or version in (".", "..") or "/" in version or "\\" in version:
        return None
    return models_dir / version


def vacuum_if_worthwhile(conn, threshold: float) -> dict[str, Any]:
    stats = store.page_stats(conn)
    out: dict[str, Any] = {"ran": False, "free_ratio": round(stats.free_ratio, 4), "threshold": threshold,
                           "free_pages": stats.freelist_count, "pages": stats.page_count,
                           "bytes_before": stats.page_count * stats.page_size}
    if stats.freelist_count > 0 and stats.free_ratio >= threshold:
        store.vacuum(conn)
        after = store.page_stats(conn)
        out.update(ran=True, bytes_after=after.page_count * after.page_size)
    return out


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"
