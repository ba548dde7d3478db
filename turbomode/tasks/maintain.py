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
        msg = (f"database {ctx.db_path} fails its integrity check ({store.first_problem(problems)}); restore the newest "
               "backup with `turbomode restore <file>` from " + str(ctx.backups_dir))
        log.error("integrity check failed: %s", problems)
        return TaskResult("failed", summary, msg)
    lines.append("integrity check: ok")

    progress("expiring signals", 1, 5)
    closed = expire_signals(conn, now, cfg)
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

    as_of_since = (now - timedelta(days=int(cfg["models.as_of_days"]))).date().isoformat()
    pruned, kept = prune_model_versions(conn, ctx.models_dir, cfg["models.keep_versions"], as_of_since)
    summary["model_versions_pruned"] = pruned
    summary["model_versions_kept"] = kept
    from turbomode.ml.registry import remove_stale_temp

    summary["temp_folders_removed"] = remove_stale_temp(ctx.models_dir)
    if summary["temp_folders_removed"]:
        lines.append(f"temporary model folders of killed writers removed: {len(summary['temp_folders_removed'])}")
    lines.append(f"model versions pruned: {len(pruned)} (kept {len(kept)}: newest "
                 f"{cfg['models.keep_versions']} and every champion)")

    progress("backup", 3, 5)
    path = backup_store.backup_database(conn, ctx.backups_dir, now,
                                        progress=lambda done, total: progress("backup", 3 + done / max(total, 1), 5),
                                        own_run_id=options.get("run_id"))
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


def expire_signals(conn, now: datetime, cfg: Any) -> list[Any]:
    """Close the open signals whose expiry has passed, by the scan's own rule, and archive them.

    Scan normally closes them; this catches those a scan that did not run (stale prices, no champion)
    left open. The same rule scan applies (``scan_rules.settle_signal`` on the stored bars): filled at
    the open after the signal's session, closed at a touched target or stop, else expired at the last
    close on or before the expiry session; a signal whose symbol never traded again ends 'unfilled'.
    Filling, closing, archiving and the sector statistics are one transaction.

    They are judged as a scan of the newest stored session would judge them, not on the wall clock:
    while the prices stop before a signal's expiry, what it did after them is unknown and it stays
    open. Having settled signals with the bars up to that session, maintain records it as scan does,
    so that no `scan --as-of` of an earlier session sees signals closed by bars after it.
    """
    from turbomode.store import prices, signals as signal_store
    from turbomode.tasks.scan import SETTLED_KEY, _cost
    from turbomode.tasks.scan_rules import Bar, basis_scale, entry_date_of, settle_signal

    today = now.date().isoformat()
    stamp = iso(now)
    cost = _cost(cfg)
    latest = prices.latest_bar_date(conn)
    with transaction(conn):
        due = set(store.past_expiry(conn, stamp, today))
        fills, closures = [], []
        for sig in signal_store.active_signals(conn):
            if sig["id"] not in due:
                continue
            entry = entry_date_of(sig)
            if entry is None or not sig.get("entry_price"):
                continue  # nothing to measure a return against: left for a person to look at
            last_day = min(d for d in (sig.get("expiry_date"), (sig.get("expires_at") or "")[:10], today) if d)
            # the newest stored session (a database with no prices at all, adopted with its signals:
            # a day after the expiry, as nothing will ever be known about them)
            session = latest or max(today, _day_after(last_day))
            bars = [Bar(*b) for b in store.adjusted_bars(conn, sig["symbol"], entry, min(last_day, session))]
            at_entry = store.adjusted_close_on_or_before(conn, sig["symbol"], entry)
            scale = basis_scale(sig, at_entry[1] if at_entry and at_entry[0] == entry else None)
            fill, closure = settle_signal(sig, bars, session, cfg, cost, scale)
            if fill is not None:
                fills.append(fill)
            if closure is not None:
                closures.append(closure)
        signal_store.record_fills(conn, fills)
        touched = signal_store.close_signals(conn, closures, stamp)
        signal_store.refresh_sector_stats(conn, touched, stamp)
        if latest and (fills or closures) and latest > (prices.get_meta(conn, SETTLED_KEY) or ""):
            prices.set_meta(conn, SETTLED_KEY, latest, now)
    return closures


def _day_after(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def prune_model_versions(conn, models_dir: Path, keep_versions: int, as_of_since: str | None = None
                         ) -> tuple[list[str], list[str]]:
    """Delete versions beyond the newest ``keep_versions``, never a champion nor a version `scan
    --as-of` needs for a date from ``as_of_since`` on: folder and rows together.

    The folder is first renamed aside; if deleting the rows fails it is renamed back, so rows and files
    never disagree. Returns (pruned, kept).
    """
    from turbomode.store.models import point_in_time_needed

    versions = store.model_versions(conn)
    needed = point_in_time_needed(conn, as_of_since) if as_of_since else set()
    kept = [v.version for i, v in enumerate(versions) if i < keep_versions or v.champion or v.version in needed]
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
