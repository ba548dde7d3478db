"""`turbomode catchup`: replay missed scheduled runs once each, in dependency order."""

from __future__ import annotations

import typer

from turbomode.cli._util import err, handle_errors, print_json, state


def _parse_at(text: str, tzname: str):
    from datetime import datetime

    from turbomode.errors import ConfigError

    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--at {text!r} is not a time; write it like 2026-01-23T08:00 or "
                          "2026-01-23T08:00:00Z") from None
    from turbomode.config import FIRST_DATE, LAST_DATE

    if not FIRST_DATE <= dt.date().isoformat() <= LAST_DATE:  # the planner's date arithmetic ends somewhere
        raise ConfigError(f"--at {text!r} is out of range; give a time between {FIRST_DATE} and {LAST_DATE}")
    if dt.tzinfo is None:  # a wall-clock time is read in the schedule's zone
        from turbomode.schedule import cron

        dt = dt.replace(tzinfo=cron.zone(tzname))
    return dt


@handle_errors
def catchup(
    tctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only print the plan; run nothing."),
    at: str = typer.Option(None, "--at", help="With --dry-run: plan for this moment instead of now "
                           "(ISO time; without an offset it is read in general.timezone)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (the plan and the runs)."),
) -> None:
    """Replay each missed job once, upstream first; jobs whose prerequisite fails are recorded blocked.

    Exit 0 when everything caught up (or nothing was due), 1 when a replay failed, 3 when some did.

    Example: turbomode catchup --dry-run --at 2026-01-23T08:00 --json
    """
    from turbomode import clock
    from turbomode.errors import ConfigError
    from turbomode.tasks import catchup as catchup_task

    ctx = state(tctx).ctx(readonly=dry_run)  # a dry run only reads
    if at is not None and not dry_run:
        raise ConfigError("--at only works with --dry-run (a real catch-up always runs at the current time)")
    now = _parse_at(at, ctx.config["general.timezone"]) if at else clock.now()
    result = catchup_task.run(ctx, now, {"dry_run": dry_run})
    if as_json:
        print_json(result.summary["plan"] if dry_run else
                   {"status": result.status, "message": result.message, **result.summary})
    else:
        _render(result, dry_run)
    raise typer.Exit(result.exit_code)


def _render(result, dry_run: bool) -> None:
    if dry_run:
        plan = result.summary["plan"]
        if not plan:
            typer.echo(f"nothing to catch up at {result.summary['at']}")
            return
        typer.echo(f"catch-up plan at {result.summary['at']}:")
        for i, item in enumerate(plan, 1):
            typer.echo(f"  {i}. {item['job']:<9} scheduled {item['scheduled_for']}  {item['reason']}")
        return
    for r in result.summary.get("runs", []):
        line = f"{r['job']:<9} {r['status']:<10} run {r['run_id']}  (missed {r['missed']}" + \
               ("+" if r["missed_capped"] else "") + f", scheduled {r['scheduled_for']})"
        if r["error"]:
            line += f": {r['error']}"
        (err if r["status"] in ("failed", "blocked", "abandoned") else typer.echo)(line)
    typer.echo(result.message)
