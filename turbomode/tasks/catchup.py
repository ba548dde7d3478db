"""``catchup``: replay each missed job once, upstream first; block what depends on a failure.

Run at logon/boot and hourly by the OS scheduler, and by hand. Only one catch-up runs at a time (a
run-less row in ``locks``); each replay goes through the run wrapper with trigger ``catchup``, its
``scheduled_for`` and how many scheduled times it stands for.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from turbomode import clock
from turbomode.context import Context
from turbomode.errors import EXIT_FAILED, EXIT_REFUSED, TurboModeError
from turbomode.ops import locks, runner
from turbomode.schedule import planner
from turbomode.store import ledger
from turbomode.tasks import TaskResult

log = logging.getLogger("turbomode.catchup")


def make_plan(ctx: Context, now: datetime) -> list[planner.PlanItem]:
    """What a catch-up at ``now`` would run, in order. Reads only; changes nothing."""
    return planner.plan(runner.read_states(ctx, now))


def run(ctx: Context, now: datetime, options: dict[str, Any],
        now_fn: Callable[[], datetime] = clock.now) -> TaskResult:
    """Replay the plan. options: dry_run (bool) — only return the plan for ``now``."""
    if options.get("dry_run"):
        items = make_plan(ctx, now)
        return TaskResult("succeeded", {"dry_run": True, "at": clock.iso(now),
                                        "plan": [i.as_json() for i in items], "runs": []},
                          _plan_message(items))
    conn = runner.open_database(ctx, "catchup")
    runner.sweep(ctx, now)
    holder = ledger.claim_lock(conn, locks.CATCHUP_LOCK, now, locks.my_start_time(),
                               lock_alive=locks.lock_alive(now, ctx.config["run.stale_heartbeat_minutes"]))
    if holder is not None:
        msg = (locks.held_message("catchup", holder) if holder["name"] == locks.RESTORE_LOCK else
               f"catchup is already running (pid {holder['pid']} on {holder['host']} since "
               f"{holder['acquired_at']}); skipped")
        return TaskResult("skipped", {"plan": [], "runs": [], "held_by_pid": holder["pid"]}, msg)
    try:
        items = make_plan(ctx, now)
        log.info("catchup at %s: %s", clock.iso(now), _plan_message(items))
        result = _replay(ctx, items, now_fn)
        log.info("catchup: %s", result.message)
    finally:
        ledger.release_lock(conn, locks.CATCHUP_LOCK, pid=_pid())
    _alert_if_stale(ctx, now_fn())
    return result


def _alert_if_stale(ctx: Context, now: datetime) -> None:
    """Stale prices or signals after the replay are alerted (once a day): catch-up runs hourly."""
    from turbomode.tasks import status

    try:
        report = status.freshness(ctx, now)
        if report["data"]["fresh"] and report["signals"]["fresh"]:
            return  # nothing to say: the alert channels (socket, uuid, urllib) stay unimported
        from turbomode.ops import alerts

        alerts.alert_stale(ctx, report, now)
    except Exception:  # alerting must never fail the catch-up
        log.warning("staleness check failed", exc_info=True)


def _pid() -> int:
    import os

    return os.getpid()


def _replay(ctx: Context, items: list[planner.PlanItem], now_fn: Callable[[], datetime]) -> TaskResult:
    conn = ctx.connect()
    if not items:
        return TaskResult("succeeded", {"plan": [], "runs": []}, "nothing to catch up")
    failed: dict[str, str] = {}  # job -> "failed (run 12)" / "was blocked"
    session: runner.Session = {}
    runs: list[dict[str, Any]] = []
    for item in items:
        ledger.touch_lock(conn, locks.CATCHUP_LOCK, now_fn())
        now = now_fn()
        facts = runner.read_facts(ctx, now)  # re-read: the upstream runs just changed them
        block = planner.blocked_by(item.job, failed, facts)
        if block is not None:
            up, why = block
            error = f"{item.job} blocked: {why}"
            rid = ledger.record_instant(conn, item.job, "catchup", "blocked", now, item.scheduled_for,
                                        error=error, exit_code=EXIT_REFUSED, missed_count=item.missed)
            log.warning("run %s: %s", rid, error)
            runner.notify_safe(ctx, item.job, "blocked", error, rid)
            failed[item.job] = f"was blocked (run {rid})"
            runs.append(_row(item, rid, "blocked", error))
            continue
        if item.job in session:  # already run as a prerequisite earlier in this catch-up
            out = session[item.job]
        else:
            try:
                out = runner.run_job(ctx, item.job, None, trigger="catchup", scheduled_for=item.scheduled_for,
                                     with_deps=True, now_fn=now_fn, missed_count=item.missed, session=session)
            except Exception as exc:  # recorded by the run wrapper; one failure must not stop the others
                out = session.get(item.job) or runner.RunOutcome(item.job, None, "failed", EXIT_FAILED,
                                                                 error=str(exc))
                if not isinstance(exc, TurboModeError):
                    out.error = f"unexpected {type(exc).__name__}: {exc} (traceback in the log)"
        if out.status not in ledger.SUCCESS and out.status != "skipped":
            failed[item.job] = f"{out.status} (run {out.run_id})"
        runs.append(_row(item, out.run_id, out.status, out.error))
    ok = [r for r in runs if r["status"] in ledger.SUCCESS or r["status"] == "skipped"]
    status = "succeeded" if len(ok) == len(runs) else ("partial" if ok else "failed")
    parts = [f"{r['job']} {r['status']}" for r in runs]
    return TaskResult(status, {"plan": [i.as_json() for i in items], "runs": runs},
                      f"caught up {len(ok)} of {len(runs)}: " + ", ".join(parts))


def _row(item: planner.PlanItem, run_id: int | None, status: str, error: str | None) -> dict[str, Any]:
    return {"job": item.job, "run_id": run_id, "status": status, "scheduled_for": clock.iso(item.scheduled_for),
            "missed": item.missed, "missed_capped": item.missed_capped, "error": error}


def _plan_message(items: list[planner.PlanItem]) -> str:
    if not items:
        return "nothing to catch up"
    return "would run: " + ", ".join(
        f"{i.job} (missed {planner.missed_word(i.missed, i.missed_capped)})" for i in items)
