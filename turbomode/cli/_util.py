"""Shared CLI plumbing: the per-invocation state, error translation, JSON and console output."""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import typer
from typer._click.exceptions import ClickException  # Typer 0.29 vendors Click as typer._click
from typer._click.globals import get_current_context
from typer.core import TyperGroup

from turbomode.errors import EXIT_FAILED, TurboModeError

log = logging.getLogger("turbomode.cli")


class State:
    """Set by the root callback; the Context (config, database) is loaded on first use."""

    def __init__(self, home: Path | None):
        self.home_arg = home
        self._ctx = None

    @property
    def home(self) -> Path | None:
        """The resolved home folder (for error messages), or None when even that is not known."""
        if self._ctx is not None:
            return self._ctx.home
        try:
            from turbomode.config import resolve_home

            return resolve_home(self.home_arg)
        except Exception:  # an unusable --home: the error that follows names it
            return None

    def ctx(self, readonly: bool = False):
        """The Context. ``readonly`` (status, signals, history, report, show commands): nothing is
        created under the home (no folder, database or logs; only a crash's traceback makes the
        logs folder of a home that exists) and the database is never migrated."""
        if self._ctx is None:
            from turbomode import logs
            from turbomode.context import Context

            self._ctx = Context.load(self.home_arg, readonly=readonly)
            self._ctx.notice = lambda message: err(f"note: {message}")
            logs.setup(self._ctx.logs_dir, self._ctx.config["general.log_level"], create=not readonly)
        return self._ctx

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()


def private_files() -> None:
    """Everything TurboMode creates (database, backups, config, logs, models, report) is readable by
    its owner only on POSIX: 0600 files, 0700 folders, whatever the login's umask (often 022)."""
    import os

    if os.name == "posix":
        os.umask(0o077)


def state(tctx: typer.Context) -> State:
    root = tctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State(None)
    return root.obj


def err(message: str) -> None:
    """One line to stderr, no traceback, no secret."""
    from turbomode.redact import redact

    typer.echo(redact(message), err=True)


def _json_requested() -> bool:
    """Whether the running command was asked for JSON (``--json`` or ``--format json``)."""
    ctx = get_current_context(silent=True)
    while ctx is not None:
        params = ctx.params or {}
        if params.get("as_json") or str(params.get("fmt") or "").strip().lower() == "json":
            return True
        ctx = ctx.parent
    return False


def fail(message: str, exit_code: int, hint: str | None = None, *, as_json: bool | None = None) -> None:
    """End the command with one sentence (stderr) or, under --json, a JSON error object (stdout)."""
    if as_json if as_json is not None else _json_requested():
        print_json({"error": message, "exit_code": exit_code, "hint": hint})
    else:
        err(f"error: {message}")
    raise typer.Exit(exit_code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn named errors into one sentence and their exit code; anything else into a log traceback.

    File-system and SQLite failures (a full disk, a read-only folder or database) are named here
    with their folder and cause (``store.db.storage_error``): exit 2, never a traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            err("interrupted; everything committed so far is kept")
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
            named = exc if isinstance(exc, TurboModeError) else _storage_error(exc)
            if named is not None:
                log.error("%s: %s", type(named).__name__, named)
                fail(str(named), named.exit_code, named.hint)
            # a bug: the traceback goes to the log file, not the terminal
            from turbomode import logs

            log.exception("unexpected error")
            where = logs.current_file()
            hint = f"the traceback is in {where}" if where else None
            fail(f"unexpected {type(exc).__name__}: {exc}" + (f"; {hint}" if hint else ""), EXIT_FAILED, hint)

    return wrapper


def _storage_error(exc: BaseException) -> TurboModeError | None:
    import sqlite3

    if not isinstance(exc, (OSError, sqlite3.Error)):
        return None
    from turbomode.store.db import storage_error

    home = None
    tctx = get_current_context(silent=True)
    if tctx is not None and isinstance(tctx.find_root().obj, State):
        home = tctx.find_root().obj.home
    if home is None:
        home = Path.cwd()
    from turbomode.config import DB_NAME

    return storage_error(exc, home, db=home / DB_NAME if isinstance(exc, sqlite3.Error) else None)


class OneLineGroup(TyperGroup):
    """The root command group: Click's usage errors (unknown option, bad value, missing argument)
    become one line naming the help to read, exit 2 — or a JSON error object under --json —
    instead of a boxed multi-line panel."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in argv or any(str(a).strip().lower() == "json" and b == "--format"
                                          for b, a in zip(argv, argv[1:])) \
            or any(str(a).lower() == "--format=json" for a in argv)
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Redacting(sys.stdout), _Redacting(sys.stderr)  # no secret in any output
        try:
            rc = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ClickException as exc:
            where = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else (prog_name or "turbomode")
            message = " ".join(exc.format_message().split())
            hint = f"see `{where} --help`"
            try:
                fail(f"{message.rstrip('.')}; {hint}", exc.exit_code, hint, as_json=as_json)
            except typer.Exit as done:
                sys.exit(done.exit_code)
        except typer.Abort:
            err("aborted; nothing was changed")
            sys.exit(1)
        finally:
            sys.stdout, sys.stderr = streams
        sys.exit(rc if isinstance(rc, int) else 0)


class _Redacting:
    """A text stream that writes what it is given with secrets replaced (turbomode.redact).

    When the reader of a pipe goes away (`turbomode signals --format csv | head -1`), the rest of the
    output is dropped and the command runs to its end and its own exit code, as other command-line
    tools do; it is not an error of TurboMode's (it was "unexpected BrokenPipeError", exit 1)."""

    def __init__(self, stream: Any):
        self._stream = stream
        self._reader_gone = False

    def write(self, text: str) -> int:
        from turbomode.redact import redact

        if self._reader_gone:
            return len(text)
        try:
            return self._stream.write(redact(text) if isinstance(text, str) else text)
        except BrokenPipeError:
            self._drop_the_rest()
            return len(text)

    def flush(self) -> None:
        if self._reader_gone:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop_the_rest()

    def _drop_the_rest(self) -> None:
        import os

        self._reader_gone = True
        try:  # what is still buffered, and the flush at exit, go nowhere instead of failing again
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def print_json(data: Any) -> None:
    from turbomode.redact import redact_obj

    sys.stdout.write(json.dumps(redact_obj(data), indent=2, default=str) + "\n")


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
    elif outcome.status == "failed" and outcome.result.message:  # an error, on stderr like every other
        err(f"error: {outcome.result.message}")
    elif outcome.result is not None and outcome.result.message:
        typer.echo(outcome.result.message)
    if outcome.result is not None:
        for w in outcome.result.warnings:
            err(f"warning: {w}")
    raise typer.Exit(outcome.exit_code)


# Options every job command takes. `--trigger cron` is what the generated crontab/XML lines pass.
NO_DEPS_HELP = "Do not bring stale prerequisite jobs up to date first."
TRIGGER_HELP = "Who started this run (recorded in the ledger): manual, cron."
