"""The run wrapper every job goes through: ledger row, task call, result → exit code.

(Locks, heartbeats, abandoned-run detection, prerequisites and alerts are layered on here.)
"""

from __future__ import annotations

import importlib
import logging
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from turbomode import clock
from turbomode.context import Context
from turbomode.errors import EXIT_FAILED, TurboModeError
from turbomode.jobs import JOBS
from turbomode.store import ledger
from turbomode.tasks import TaskResult

log = logging.getLogger("turbomode.runner")


@dataclass
class RunOutcome:
    job: str
    run_id: int | None
    status: str
    exit_code: int
    result: TaskResult | None = None
    error: str | None = None


def run_job(ctx: Context, job: str, options: dict[str, Any] | None = None, *, trigger: str = "manual",
            scheduled_for: datetime | None = None, with_deps: bool = True,
            now_fn: Callable[[], datetime] = clock.now) -> RunOutcome:
    """Run one job and record it. Errors the user can act on are recorded and re-raised for the CLI.

    ``with_deps``: first bring stale prerequisite jobs (JOBS[job].needs) up to date.
    A second concurrent run of the same job returns status 'skipped' (exit 0) without running.
    """
    spec = JOBS[job]
    conn = ctx.connect()
    run_id = ledger.start_run(conn, job, trigger, now_fn(), scheduled_for)
    log.info("run %s started: job=%s trigger=%s", run_id, job, trigger)
    task = importlib.import_module(spec.task)
    try:
        result: TaskResult = task.run(ctx, now_fn(), dict(options or {}))
    except TurboModeError as exc:
        ledger.finish_run(conn, run_id, "failed", now_fn(), error=str(exc), exit_code=exc.exit_code)
        log.error("run %s failed: %s", run_id, exc)
        raise
    except Exception as exc:  # unexpected: traceback to the log, one line to the user
        log.error("run %s crashed:\n%s", run_id, traceback.format_exc())
        ledger.finish_run(conn, run_id, "failed", now_fn(), error=f"{type(exc).__name__}: {exc}",
                          exit_code=EXIT_FAILED)
        raise
    ledger.finish_run(conn, run_id, result.status, now_fn(), summary=result.summary,
                      error=result.message if result.status in ("failed", "partial") else None,
                      exit_code=result.exit_code)
    log.info("run %s finished: %s %s", run_id, result.status, result.message)
    return RunOutcome(job, run_id, result.status, result.exit_code, result)
