"""Shared CLI plumbing: the per-invocation state, error translation, JSON and console output."""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import typer

from turbomode.errors import EXIT_FAILED, TurboModeError

log = logging.getLogger("turbomode.cli")


class State:
    """Set by the root callback; the Context (config, database) is loaded on first use."""

    def __init__(self, home: Path | None):
        self.home_arg = home
        self._ctx = None

    def ctx(self):
        if self._ctx is None:
            from turbomode import logs
            from turbomode.context import Context

            self._ctx = Context.load(self.home_arg)
            logs.setup(self._ctx.logs_dir, self._ctx.config["general.log_level"])
        return self._ctx

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()


def state(tctx: typer.Context) -> State:
    root = tctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State(None)
    return root.obj


def err(message: str) -> None:
    """One line to stderr, no traceback."""
    typer.echo(message, err=True)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn named errors into one sentence and their exit code; anything else into a log traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except TurboModeError as exc:
            log.error("%s: %s", type(exc).__name__, exc)
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err("interrupted; everything committed so far is kept")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: the traceback goes to the log file, not the terminal
            from turbomode import logs

            log.exception("unexpected error")
            where = logs.current_file()
            hint = f"; the traceback is in {where}" if where else ""
            err(f"error: unexpected {type(exc).__name__}: {exc}{hint}")
            raise typer.Exit(EXIT_FAILED) from None

    return wrapper


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def run_job_command(tctx: typer.Context, job: str, options: dict[str, Any], *, no_deps: bool = False,
                    trigger: str = "manual", as_json: bool = False,
                    render: Callable[[Any], None] | None = None) -> None:
    """The body of every job command (ingest, scan, train, backtest, drift, maintain).

    Runs the job through the run wrapper (ledger, lock, prerequisites), renders the result, and
    exits with the job's exit code. ``render`` gets the RunOutcome when the job actually ran.
    """
    from turbomode.ops.runner import run_job

    ctx = state(tctx).ctx()
    outcome = run_job(ctx, job, options, trigger=trigger, with_deps=not no_deps)
    if as_json:
        print_json({"job": job, "run_id": outcome.run_id, "status": outcome.status,
                    "exit_code": outcome.exit_code,
                    "summary": outcome.result.summary if outcome.result else None,
                    "message": outcome.result.message if outcome.result else outcome.error})
    elif outcome.status == "skipped" and outcome.result is None:
        typer.echo(outcome.error or f"{job} is already running; skipped")
    elif outcome.result is None:  # blocked: a prerequisite failed, the job did not run
        err(f"error: {outcome.error or job + ' did not run'}; fix it and run `turbomode catchup`")
    elif render is not None:
        render(outcome)
    elif outcome.result is not None and outcome.result.message:
        typer.echo(outcome.result.message)
    if outcome.result is not None:
        for w in outcome.result.warnings:
            err(f"warning: {w}")
    raise typer.Exit(outcome.exit_code)


# Options every job command takes. `--trigger cron` is what the generated crontab/XML lines pass.
NO_DEPS_HELP = "Do not bring stale prerequisite jobs up to date first."
TRIGGER_HELP = "Who started this run (recorded in the ledger): manual, cron."
