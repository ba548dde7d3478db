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
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1_000_000, help="How many runs to show."),
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
    from turbomode.cli._util import console

    if not rows:
        typer.echo("no runs recorded yet" + (f" for {job}" if job else ""))
        return
    out = console()
    if out.width >= TABLE_WIDTH:
        _table(out, rows)
    else:
        _list(out, rows)


# Below this width each run is two lines instead of a table row: a squeezed table clipped its
# times and folded the detail into one word per line.
TABLE_WIDTH = 100


def detail(r: dict) -> str:
    """The run's error, else its result message (first line), else its summary's plain values."""
    text = r["error"] or ""
    summary = r["summary"]
    if not text and isinstance(summary, dict):
        message = summary.get("message")
        if isinstance(message, str) and message:
            text = message.splitlines()[0]
        else:  # runs recorded before the message was kept: plain values only, never nested dicts
            text = ", ".join(f"{k}={v}" for k, v in summary.items()
                             if isinstance(v, (str, int, float, bool)) and v is not None)[:200]
    if r["missed_count"] and r["missed_count"] > 1:
        text = f"missed {r['missed_count']}; " + text
    if r["parent_run_id"]:
        text = f"for run {r['parent_run_id']}; " + text
    return text


def _table(out, rows) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in ("run", "job", "trigger", "status", "started (UTC)", "took", "detail"):
        table.add_column(col, no_wrap=col != "detail", overflow="fold" if col == "detail" else None)
    for r in rows:
        style = STATUS_STYLE.get(r["status"], "")
        table.add_row(str(r["id"]), r["job"], r["trigger"], f"[{style}]{r['status']}[/]" if style else r["status"],
                      r["started_at"][5:19].replace("T", " "), _duration(r["duration_seconds"]),
                      escape(_short(detail(r), 160)))
    out.print(table)


def _list(out, rows) -> None:
    from rich.padding import Padding
    from rich.text import Text

    for r in rows:
        style = STATUS_STYLE.get(r["status"], "")
        status = f"[{style}]{r['status']:<10}[/]" if style else f"{r['status']:<10}"
        out.print(f"[bold]{r['id']:>5}[/] {r['job']:<9}{status}{r['started_at'][5:19].replace('T', ' ')}  "
                  f"{_duration(r['duration_seconds'])}")
        out.print(Padding(Text(f"{r['trigger']}: {_short(detail(r), 2 * out.width - 20)}"), (0, 0, 0, 6)))


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."
