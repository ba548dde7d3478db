"""`turbomode maintain` and `turbomode restore BACKUP`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from turbomode.cli._util import NO_DEPS_HELP, TRIGGER_HELP, err, handle_errors, print_json, run_job_command, state


@handle_errors
def maintain(
    tctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
    no_deps: bool = typer.Option(False, "--no-deps", help=NO_DEPS_HELP),
    trigger: Literal["manual", "cron"] = typer.Option("manual", "--trigger", help=TRIGGER_HELP),
) -> None:
    """Check the database, expire old signals, prune old runs and model versions, back up, vacuum.

    Exits 1 (and alerts) when the integrity check fails; nothing is written then.

    Example: turbomode maintain --json
    """
    from turbomode.cli._progress import StepProgress

    with StepProgress("maintain") as progress:
        run_job_command(tctx, "maintain", {"progress": progress}, no_deps=no_deps, trigger=trigger,
                        as_json=as_json)


@handle_errors
def restore(
    tctx: typer.Context,
    backup: Path = typer.Argument(..., help="A backup file, e.g. one from <home>/backups/."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print what was restored as JSON."),
) -> None:
    """Replace the database by a backup, after checking the backup's integrity.

    The current database is kept beside it as turbomode.db.<stamp>.before-restore. Refused (exit 4)
    while a job is running: wait for it to finish or stop it first.

    Example: turbomode restore ~/.local/share/turbomode/backups/turbomode-20260124T040000Z.db --yes
    """
    from turbomode import clock
    from turbomode.errors import ConfigError
    from turbomode.tasks import restore as restore_task

    ctx = state(tctx).ctx()
    if not yes:
        try:
            ok = typer.confirm(f"Replace {ctx.db_path} by {backup}? (the current file is kept)", err=True)
        except typer.Abort:  # end of input: cron, a pipe
            ok = False
        if not ok:
            raise ConfigError("restore not confirmed; nothing changed (pass --yes to skip the question)")
    result = restore_task.restore(ctx, clock.now(), backup)
    if as_json:
        print_json({"database": str(result.db_path), "backup": str(result.backup),
                    "kept_as": str(result.kept_as) if result.kept_as else None, "rows": result.counts})
        return
    total = sum(result.counts.values())
    typer.echo(f"restored {result.db_path} from {result.backup}: {total} rows in {len(result.counts)} tables")
    if result.kept_as:
        err(f"the previous database is kept as {result.kept_as}")

