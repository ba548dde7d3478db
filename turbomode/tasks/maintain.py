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
    progress = options.get("progress") or (lambda label, done, total: None)  # callable(label, done, total)
    summary: dict[str, Any] = {}
    lines: list[str] = []

    progress("integrity check", 0, 5)
    problems = store.integrity_problems(conn)
    summary["integrity"] = "ok" if not problems else problems
    if problems:
        # The run wrapper alerts on the failed result (with the summary as details): one alert.
        msg = (f"database {ctx.db_path} fails its integrity check ({problems[0]}); restore the newest "
               "backup with `turbomode restore <file>` from " + str(ctx.backups_dir))
        log.error("integrity check failed: %s", problems)
        return TaskResult("failed", summary, msg)
    lines.append("integrity check: ok")

    progress("expiring signals", 1, 5)
    closed = expire_signals(conn, now, cfg["labels.horizon_days"])
    by_outcome: dict[str, int] = {}
    for c in closed:
        by_outcome[c.outcome] = by_outcome.get(c.outcome, 0) + 1
    summary["signals_closed"] = by_outcome
    lines.append(f"signals past expiry closed and archived: {len(closed)}"
                 + (" (" + ", ".join(f"{n} {k}" for k, n in sorted(by_outcome.items())) + ")" if closed else ""))

    progress("pruning", 2, 5)
    cutoff = now - timedelta(days=cfg["maintain.keep_runs_days"])
    summary["runs_pruned"] = store.prune_task_runs(conn, iso(cutoff))
    lines.append(f"ledger rows older than {cfg['maintain.keep_runs_days']} days pruned: {summary['runs_pruned']}")

    pruned, kept = prune_model_versions(conn, ctx.models_dir, cfg["models.keep_versions"])
    summary["model_versions_pruned"] = pruned
    summary["model_versions_kept"] = kept
    lines.append(f"model versions pruned: {len(pruned)} (kept {len(kept)}: newest "
                 f"{cfg['models.keep_versions']} and every champion)")

    progress("backup", 3, 5)
    path = backup_store.backup_database(conn, ctx.backups_dir, now,
                                        progress=lambda done, total: progress("backup", 3 + done / max(total, 1), 5))
    removed = backup_store.rotate_backups(ctx.backups_dir, cfg["maintain.keep_backups"])
    summary["backup"] = str(path)
    summary["backup_bytes"] = path.stat().st_size
    summary["backups_removed"] = [p.name for p in removed]
    lines.append(f"backup: {path} ({_mb(path.stat().st_size)}); {len(removed)} old backup(s) rotated out, "
                 f"keeping {cfg['maintain.keep_backups']}")

    progress("vacuum", 4, 5)
    summary["vacuum"] = vacuum_if_worthwhile(conn, cfg["maintain.vacuum_free_ratio"])
    progress("done", 5, 5)
    v = summary["vacuum"]
    if v["ran"]:
        lines.append(f"vacuum: ran, {v['free_ratio']:.1%} of pages were free (threshold "
                     f"{v['threshold']:.0%}); file {_mb(v['bytes_before'])} -> {_mb(v['bytes_after'])}")
    else:
        lines.append(f"vacuum: skipped, {v['free_ratio']:.1%} of pages free (below the "
                     f"{v['threshold']:.0%} threshold)")
    return TaskResult("succeeded", summary, "\n".join(lines))


def expire_signals(conn, now: datetime, horizon: int) -> list[Any]:
    """Close the open signals whose expiry has passed, by the scan's own rule, and archive them.

    Scan normally closes them; this catches those a scan that did not run (stale prices, no champion)
    left open. A signal whose target or stop was touched before expiring closes as such (the same
    ``evaluate`` scan uses, on the stored bars); one whose bars never reached a barrier, or that has no
    bars after its entry at all, closes as 'expired' at its last close on or before the expiry session.
    Closing, archiving and the sector statistics are one transaction.
    """
    from turbomode.store import signals as signal_store
    from turbomode.tasks import scan

    today = now.date().isoformat()
    stamp = iso(now)
    with transaction(conn):
        due = set(store.past_expiry(conn, stamp, today))
        closures = []
        for sig in signal_store.active_signals(conn):
            if sig["id"] not in due:
                continue
            entry = scan.entry_date_of(sig)
            if entry is None or not sig.get("entry_price"):
                continue  # nothing to measure a return against: left for a person to look at
            last_day = min(d for d in (sig.get("expiry_date"), (sig.get("expires_at") or "")[:10], today) if d)
            bars = [scan.Bar(*b) for b in store.adjusted_bars(conn, sig["symbol"], entry, last_day)]
            at_entry = store.adjusted_close_on_or_before(conn, sig["symbol"], entry)
            scale = at_entry[1] / sig["entry_price"] if at_entry and at_entry[0] == entry else 1.0
            found = scan.evaluate(sig, bars, horizon, today, scale)
            if found is None:  # past expiry without a bar after entry: it ends where it began
                ref = store.adjusted_close_on_or_before(conn, sig["symbol"], last_day)
                found = ("expired", ref[0], ref[1] / scale) if ref else ("expired", entry, sig["entry_price"])
            outcome, exit_date, exit_price = found
            closures.append(signal_store.Closure(sig["id"], outcome, exit_date, exit_price,
                                                 scan.signed_return(sig["signal_type"], sig["entry_price"],
                                                                    exit_price)))
        touched = signal_store.close_signals(conn, closures, stamp)
        signal_store.refresh_sector_stats(conn, touched, stamp)
    return closures


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
            try:
                os.replace(folder, trash)
            except PermissionError as exc:  # Windows: a file in it is open (a scan loading it); next time
                log.warning("kept model version %s for now: its folder is in use (%s)", v.version, exc.strerror)
                kept.append(v.version)
                continue
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
