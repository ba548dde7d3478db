"""`turbomode scan`: close finished signals, emit the session's new ones (through the run wrapper)."""

from __future__ import annotations

import typer

from turbomode.cli._util import NO_DEPS_HELP, TRIGGER_HELP, err, handle_errors, run_job_command

TRIGGERS = ("manual", "cron")


@handle_errors
def scan(
    tctx: typer.Context,
    as_of: str = typer.Option(None, "--as-of", help="Scan this past session (YYYY-MM-DD) instead of the "
                              "latest; it must have prices."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Scan even when prices are older than the "
                                     "last completed NYSE session."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
    no_deps: bool = typer.Option(False, "--no-deps", help=NO_DEPS_HELP),
    trigger: str = typer.Option("manual", "--trigger", help=TRIGGER_HELP),
) -> None:
    """Close open signals that hit their target, stop or expiry, then emit new signals from the champion models.

    Refuses stale prices (exit 4) unless --allow-stale, and needs trained models (`turbomode train`).

    Running it twice for the same session leaves the same signals.

    Example: turbomode scan --allow-stale --json
    """
    from turbomode.errors import BadInput

    if trigger not in TRIGGERS:
        raise BadInput(f"unknown --trigger {trigger!r}; use manual or cron")
    options = {"as_of": as_of, "allow_stale": allow_stale}
    from turbomode.cli._progress import StepProgress

    with StepProgress("scan", enabled=not as_json) as progress:
        options["progress"] = progress
        run_job_command(tctx, "scan", options, no_deps=no_deps, trigger=trigger, as_json=as_json,
                        render=_render)


def _render(outcome) -> None:
    r = outcome.result
    typer.echo(r.message)
    s = r.summary
    for key, what in (("skipped_no_bar", "without a bar for the session"),
                      ("skipped_no_model", "without a champion model for their sector")):
        if s.get(key):
            names = s[key]
            err(f"note: {len(names)} symbol(s) {what}: {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}")
    if s.get("emitted"):
        typer.echo("see them with `turbomode signals`")
