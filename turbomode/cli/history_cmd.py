"""`turbomode history`: the run ledger, newest first, with durations."""

from __future__ import annotations

import typer

from turbomode.cli._util import handle_errors, print_json, state
from turbomode.cli.status_cmd import STATUS_STYLE


def _duration(secs: float | None) -> str:
    if secs is None:
        return "-"
    if secs < 60:
        return f"{secs:.1f} s"
    if secs < 3600:
        return f"{secs // 60:.0f} min {secs % 60:.0f} s"
    return f"{secs // 3600:.0f} h {secs % 3600 // 60:.0f} min"


@handle_errors
def history(
    tctx: typer.Context,
    job: str = typer.Option(None, "--job", "-j", help="Only this job (ingest, scan, train, backtest, drift, maintain)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List recent runs: trigger, status, start, duration, summary and error.

    Example: turbomode history --job scan --limit 5
    """
    from turbomode.errors import ConfigError
    from turbomode.jobs import JOBS
    from turbomode.tasks import status as status_task

    if job is not None and job not in JOBS:
        raise ConfigError(f"unknown job {job!r}; choose one of {', '.join(JOBS)}")
    ctx = state(tctx).ctx(readonly=True)
    rows = status_task.history(ctx, job, limit)
    if as_json:
        print_json(rows)
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from turbomode.cli._util import console

    if not rows:
        typer.echo("no runs recorded yet" + (f" for {job}" if job else ""))
        return
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in ("run", "job", "trigger", "status", "started (UTC)", "took", "detail"):
        table.add_column(col, no_wrap=col != "detail", overflow="ellipsis" if col == "detail" else None)
    for r in rows:
        detail = r["error"] or ""
        if not detail and isinstance(r["summary"], dict):
            detail = ", ".join(f"{k}={v}" for k, v in list(r["summary"].items())[:3])
        if r["missed_count"] and r["missed_count"] > 1:
            detail = f"missed {r['missed_count']}; " + detail
        if r["parent_run_id"]:
            detail = f"for run {r['parent_run_id']}; " + detail
        style = STATUS_STYLE.get(r["status"], "")
        table.add_row(str(r["id"]), r["job"], r["trigger"], f"[{style}]{r['status']}[/]" if style else r["status"],
                      r["started_at"][5:19].replace("T", " "), _duration(r["duration_seconds"]),
                      escape(detail[:200]))
    console().print(table)
