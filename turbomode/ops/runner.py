"""The run wrapper every job goes through: dead-run sweep, claim, prerequisites, heartbeat, task,
ledger, alerts, exit code.

Order of a run: (1) runs whose process died are marked ``abandoned``; (2) the job is claimed — its
``task_runs`` row and its lock in one transaction — or recorded ``skipped`` when another run holds it;
(3) stale prerequisites run first (trigger ``dependency``), and the job is recorded ``blocked`` when
one fails; (4) the task runs while a thread beats the heartbeat; (5) the result, the lock release
and the exit code are recorded in one transaction. Alerts and pings are sent around this and can
never fail the job.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from turbomode import clock
from turbomode.context import Context
from turbomode.errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, ConfigError, TurboModeError
from turbomode.jobs import JOBS
from turbomode.ops import locks
from turbomode.store import ledger
from turbomode.tasks import TaskResult

log = logging.getLogger("turbomode.runner")

# How long a job waits for a prerequisite that another process is running right now (cron's ingest
# still busy when scan fires) before it gives up and is recorded blocked; catchup heals it later.
DEPENDENCY_WAIT_S = 3 * 3600.0
DEPENDENCY_POLL_S = 2.0
TRIGGERS = ("cron", "catchup", "manual", "dependency")  # as the task_runs CHECK constraint allows


@dataclass
class RunOutcome:
    job: str
    run_id: int | None
    status: str  # succeeded | partial | failed | skipped | blocked
    exit_code: int
    result: TaskResult | None = None
    error: str | None = None
    held_by: int | None = None  # skipped: the run that holds the job


# Jobs already attempted in one invocation (a catch-up, or a job and its prerequisites), so that a
# prerequisite is run at most once however many jobs need it.
Session = dict[str, RunOutcome]


def run_job(ctx: Context, job: str, options: dict[str, Any] | None = None, *, trigger: str = "manual",
            scheduled_for: datetime | None = None, with_deps: bool = True,
            now_fn: Callable[[], datetime] = clock.now, missed_count: int | None = None,
            parent_run_id: int | None = None, session: Session | None = None) -> RunOutcome:
    """Run one job and record it. Errors the user can act on are recorded and re-raised for the CLI.

    ``with_deps``: first bring stale prerequisite jobs (JOBS[job].needs) up to date.
    A second concurrent run of the same job returns status 'skipped' (exit 0) without running.
    A job whose prerequisite failed returns status 'blocked' (exit 4) without running.
    """
    if job not in JOBS:
        raise ConfigError(f"unknown job {job!r}; the jobs are {', '.join(JOBS)}")
    if trigger not in TRIGGERS:
        raise ConfigError(f"unknown trigger {trigger!r}; use one of {', '.join(TRIGGERS)}")
    spec = JOBS[job]
    conn = open_database(ctx, job)
    sweep(ctx, now_fn())
    now = now_fn()
    # A mistyped option is a usage error: no ledger row, no alert, status unchanged.
    from turbomode.tasks import options as option_checks

    option_checks.check(ctx, job, now, options)
    if trigger == "cron" and scheduled_for is None:
        scheduled_for = _scheduled_time(ctx, job, now)
    claim = ledger.claim_run(conn, job, trigger, now, scheduled_for, missed_count, parent_run_id,
                             skipped_message=lambda holder: locks.held_message(job, holder),
                             proc_started=locks.my_start_time(),
                             lock_alive=locks.lock_alive(now, ctx.config["run.stale_heartbeat_minutes"]))
    run_id = claim.run_id
    if not claim.claimed:
        message = locks.held_message(job, claim.holder)
        log.info("run %s skipped: %s", run_id, message)
        return RunOutcome(job, run_id, "skipped", EXIT_OK, error=message,
                          held_by=claim.holder["run_id"] if claim.holder else None)

    session = session if session is not None else {}
    log.info("run %s started: job=%s trigger=%s scheduled_for=%s", run_id, job, trigger,
             clock.iso(scheduled_for) if scheduled_for else "-")
    ping_safe(ctx, job, "start", run_id)
    cfg = ctx.config
    with locks.Heartbeat(ctx.db_path, run_id, job, cfg["run.heartbeat_seconds"], now_fn):
        try:
            blocked = _prerequisites(ctx, job, run_id, now_fn, session) if with_deps else None
            if blocked is not None:
                outcome = RunOutcome(job, run_id, "blocked", EXIT_REFUSED, error=f"{job} blocked: {blocked}")
                _finish(ctx, outcome, now_fn, trigger)
                session[job] = outcome
                return outcome
            try:
                task = importlib.import_module(spec.task)
            except ModuleNotFoundError as exc:
                if exc.name and spec.task.startswith(exc.name):
                    raise TurboModeError(f"the {job} job is not available in this version of TurboMode "
                                         f"({spec.task} is missing); reinstall or update TurboMode") from None
                raise
            # run_id lets a task link the rows it writes (backtest_runs, drift_runs) to this ledger row.
            result: TaskResult = task.run(ctx, now_fn(), {"run_id": run_id, **(options or {})})
            for up in spec.needs:
                if not ctx.config.enabled(up):
                    result.warnings.append(f"{up} is disabled (jobs.{up}.enabled = false): {job} used what is "
                                           f"stored, which is up to date")
        except TurboModeError as exc:
            outcome = RunOutcome(job, run_id, "failed", exc.exit_code, error=str(exc))
            log.error("run %s failed: %s", run_id, exc)
            _finish(ctx, outcome, now_fn, trigger)
            session[job] = outcome
            raise
        except BaseException as exc:  # unexpected (or Ctrl-C): traceback to the log, one line to the user
            interrupted = isinstance(exc, KeyboardInterrupt)
            error = "interrupted" if interrupted else f"{type(exc).__name__}: {exc}"
            if not interrupted:
                log.error("run %s crashed:\n%s", run_id, traceback.format_exc())
            outcome = RunOutcome(job, run_id, "failed", EXIT_FAILED, error=error)
            _finish(ctx, outcome, now_fn, trigger)
            session[job] = outcome
            raise
    message = result.message if result.status in ("failed", "partial") else None
    outcome = RunOutcome(job, run_id, result.status, result.exit_code, result, error=message)
    _finish(ctx, outcome, now_fn, trigger)
    session[job] = outcome
    return outcome


# A database that cannot be opened is alerted at most this often per job (cron and the hourly
# catch-up would otherwise repeat it all day); the alert's record then lives in a file.
UNUSABLE_REPEAT = timedelta(hours=24)


def open_database(ctx: Context, job: str) -> "sqlite3.Connection":
    """``ctx.connect()``, alerting when the database cannot be opened at all (damaged, not a
    database, a full disk, a read-only folder): the ledger cannot record that failure, and a cron-run
    install must not go silent. The alert needs no database (alerts.notify records it in a file)."""
    try:
        return ctx.connect()
    except TurboModeError as exc:
        log.error("%s cannot open its database: %s", job, exc)
        try:
            from turbomode.ops import alerts

            alerts.notify(ctx, alerts.AlertEvent(job=job, kind="failed", message=f"{job} could not run: {exc}",
                                                 details={"database": str(ctx.db_path)}),
                          once_per=UNUSABLE_REPEAT)
        except Exception:  # an alert channel must never change the outcome
            log.warning("alert for the unusable database failed:\n%s", traceback.format_exc())
        raise


def _finish(ctx: Context, outcome: RunOutcome, now_fn: Callable[[], datetime], trigger: str) -> None:
    """Record the end (and release the lock) in one transaction, then alert and ping.

    A hand-run command refused for its options or settings (exit 2) is recorded and pinged, but does
    not alert: the person who typed it has the sentence on their terminal, and the scheduled job is
    not what failed (``state.last_runs`` leaves it out of `status` too)."""
    result = outcome.result
    summary = result.summary if result else None
    if result is not None and result.message and "message" not in summary:
        summary = {**summary, "message": result.message}  # what `history` shows for the run
    kept = ledger.finish_run(ctx.connect(), outcome.run_id, outcome.status, now_fn(),
                             summary=summary, error=outcome.error, exit_code=outcome.exit_code)
    if not kept:
        log.error("run %s had been marked abandoned by another process; its result (%s) is not recorded",
                  outcome.run_id, outcome.status)
    log.info("run %s finished: %s%s", outcome.run_id, outcome.status,
             f" {result.message}" if result and result.message else
             (f" {outcome.error}" if outcome.error else ""))
    # partial too: some of the work was not done (a symbol failed, a bar was quarantined, a sector
    # had no usable model) and a person has to look
    from turbomode.store import state

    # pinged all the same: a ping reports each run's exit code, and a /start needs its answer
    if outcome.status in ("failed", "blocked", "partial") and not state.user_error(trigger, outcome.status,
                                                                                    outcome.exit_code):
        notify_safe(ctx, outcome.job, outcome.status, outcome.error or outcome.status, outcome.run_id,
                    details=result.summary if result else None)
    ping_safe(ctx, outcome.job, str(outcome.exit_code), outcome.run_id)


def _scheduled_time(ctx: Context, job: str, now: datetime) -> datetime | None:
    """The scheduled time a cron-started run serves: the latest one at or before now."""
    from turbomode.schedule import cron

    try:
        return cron.previous_fire(ctx.config.schedule(job), cron.zone(ctx.config["general.timezone"]), now)
    except TurboModeError:
        return None


# --- prerequisites ----------------------------------------------------------------------------------

def _prerequisites(ctx: Context, job: str, run_id: int, now_fn: Callable[[], datetime],
                   session: Session) -> str | None:
    """Bring stale prerequisites up to date first; the reason the job is blocked, or None."""
    from turbomode.schedule import planner

    facts = read_facts(ctx, now_fn())
    for up, why in planner.stale_prerequisites(job, facts):
        if not ctx.config.enabled(up):  # disabled means never started by TurboMode, as a dependency too
            return (f"{up} is disabled (jobs.{up}.enabled = false) and {why}; run `turbomode {up}` yourself "
                    f"or enable it")
        done = session.get(up)
        if done is not None:
            if done.status in ledger.SUCCESS:
                continue  # already brought up to date in this invocation; the job judges the rest
            return f"{up} {done.status} (run {done.run_id}) and {why}"
        log.info("run %s: %s first (%s)", run_id, up, why)
        try:
            out = run_job(ctx, up, None, trigger="dependency", with_deps=True, now_fn=now_fn,
                          parent_run_id=run_id, session=session)
        except Exception as exc:  # already recorded (and logged) by the inner run
            out = session.get(up) or RunOutcome(up, None, "failed", EXIT_FAILED, error=str(exc))
        if out.status == "skipped":
            out = _wait_for(ctx, up, out, now_fn)
            session[up] = out
        if out.status not in ledger.SUCCESS:
            detail = f": {out.error}" if out.error else ""
            return f"{up} {out.status} (run {out.run_id}){detail}"
    return None


def _wait_for(ctx: Context, job: str, skipped: RunOutcome, now_fn: Callable[[], datetime]) -> RunOutcome:
    """A prerequisite is running in another process: wait for that run's result."""
    rid = skipped.held_by
    if rid is None:
        # no run to wait for (a restore holds the database): its message says what to do
        return RunOutcome(job, skipped.run_id, "failed", EXIT_FAILED,
                          error=skipped.error or "held by an unknown run")
    conn = ctx.connect()
    log.info("waiting for %s run %s, already running in another process", job, rid)
    deadline = time.monotonic() + DEPENDENCY_WAIT_S
    while True:
        sweep(ctx, now_fn())
        row = ledger.get_run(conn, rid)
        if row is None or row["status"] != "running":
            status = row["status"] if row else "failed"
            return RunOutcome(job, rid, status, row["exit_code"] if row and row["exit_code"] is not None
                              else (EXIT_OK if status in ledger.SUCCESS else EXIT_FAILED),
                              error=row["error"] if row else "its run row vanished")
        if time.monotonic() > deadline:
            return RunOutcome(job, rid, "running", EXIT_FAILED,
                              error=f"still running after {DEPENDENCY_WAIT_S / 3600:.0f} h")
        time.sleep(DEPENDENCY_POLL_S)


# --- facts, sweep, alerts ---------------------------------------------------------------------------

def read_states(ctx: Context, now: datetime):
    """Every job's position against its schedule (planner.JobState by job)."""
    from turbomode.schedule import cron, planner
    from turbomode.store import state

    cfg = ctx.config
    tz = cron.zone(cfg["general.timezone"])
    return planner.states({j: cfg.schedule(j) for j in JOBS}, {j: cfg.enabled(j) for j in JOBS}, tz,
                          state.last_success(ctx.connect()), now)


def read_facts(ctx: Context, now: datetime, job_states=None):
    """What prerequisites depend on (prices vs the last session, champion, job states)."""
    from turbomode.schedule import planner
    from turbomode.store import prices, state

    conn = ctx.connect()
    return planner.Facts(latest_bar=prices.latest_bar_date(conn), last_session=state.last_completed_session(conn, now),
                         champion_exists=(champion := state.champion_exists(conn)),
                         states=job_states if job_states is not None else read_states(ctx, now),
                         challenger_exists=not champion and state.model_state(conn).challenger is not None)


def sweep(ctx: Context, now: datetime) -> list[locks.Abandoned]:
    """Mark runs whose process died as abandoned (and alert); run at the start of every command."""
    found = locks.sweep(ctx.connect(), now, ctx.config["run.stale_heartbeat_minutes"])
    for a in found:
        notify_safe(ctx, a.job, "abandoned", f"{a.job} run {a.run_id} was abandoned: {a.why}", a.run_id)
    return found


def notify_safe(ctx: Context, job: str, kind: str, message: str, run_id: int | None,
                details: dict[str, Any] | None = None) -> None:
    """alerts.notify, never raising: an alert channel must never fail the job."""
    try:
        from turbomode.ops import alerts

        alerts.notify(ctx, alerts.AlertEvent(job=job, kind=kind, message=message, run_id=run_id,
                                             details=dict(details or {})))
    except Exception:  # an alert channel must never fail the job
        log.warning("alert %s for %s run %s could not be sent:\n%s", kind, job, run_id, traceback.format_exc())


def ping_safe(ctx: Context, job: str, what: str, run_id: int | None) -> None:
    try:
        from turbomode.ops import alerts

        alerts.ping(ctx, job, what, run_id)
    except Exception:
        log.warning("ping %s for %s run %s failed:\n%s", what, job, run_id, traceback.format_exc())
