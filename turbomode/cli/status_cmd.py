"""`turbomode status`: per job schedule, last success, last result, next run, missed; freshness; health."""

from __future__ import annotations

from datetime import datetime, timezone

import typer

from turbomode.cli._util import handle_errors, print_json, state

STATUS_STYLE = {"succeeded": "green", "partial": "yellow", "running": "cyan", "skipped": "dim",
                "failed": "bold red", "abandoned": "bold red", "blocked": "red"}


def _when(text: str | None, tz, now: datetime) -> str:
    """'Thu 23:30' (or '12 Jan 23:30' when more than 6 days away) over '10 h ago', in the schedule's zone."""
    if not text:
        return "-"
    from turbomode.clock import parse_iso

    dt = parse_iso(text)
    local = dt.astimezone(tz)
    secs = (now - dt).total_seconds()
    day = f"{local:%a}" if abs(secs) < 6 * 86400 else f"{local:%d %b}"
    return f"{day} {local:%H:%M}\n[dim]{_age(secs)}[/]"


def _age(secs: float) -> str:
    future = secs < 0
    s = abs(secs)
    if s < 90:
        txt = f"{s:.0f} s"
    elif s < 90 * 60:
        txt = f"{s / 60:.0f} min"
    elif s < 48 * 3600:
        txt = f"{s / 3600:.0f} h"
    else:
        txt = f"{s / 86400:.0f} d"
    return f"in {txt}" if future else f"{txt} ago"


def render(data: dict) -> None:
    from zoneinfo import ZoneInfo

    from rich import box
    from rich.table import Table

    from turbomode.cli._util import console
    from turbomode.clock import parse_iso

    out = console()
    tz = ZoneInfo(data["timezone"])
    now = parse_iso(data["at"])
    table = Table(title=f"TurboMode jobs — {now.astimezone(tz):%a %d %b %Y %H:%M} {data['timezone']}",
                  title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for col in ("job", "schedule", "last ok", "result", "next run", "missed", "state"):
        table.add_column(col, no_wrap=col != "schedule")
    for j in data["jobs"]:
        if not j["enabled"]:
            state_txt = "[dim]disabled[/]"
        elif j["running"]:
            state_txt = "[cyan]running[/]"
        elif j["overdue"]:
            state_txt = "[bold red]OVERDUE[/]"
        elif j["last_status"] in ("failed", "abandoned", "blocked"):
            state_txt = f"[bold red]{j['last_status'].upper()}[/]"
        elif j["missed"]:
            state_txt = "[yellow]due[/]"
        else:
            state_txt = "[green]ok[/]"
        ls = j["last_status"] or "none"
        missed = "-" if not j["missed"] else (f"{j['missed']}+" if j["missed_capped"] else str(j["missed"]))
        table.add_row(
            f"[bold]{j['name']}[/]",
            f"{j['schedule_words']}\n[dim]{j['schedule']}[/]",
            _when(j["last_success"], tz, now) if j["last_success"] else "[red]never[/]",
            f"[{STATUS_STYLE.get(ls, 'dim')}]{ls}[/]",
            _when(j["next_run"], tz, now) if j["next_run"] else "-",
            f"[red]{missed}[/]" if j["missed"] else missed,
            state_txt,
        )
    out.print(table)
    d, s, m = data["data"], data["signals"], data["models"]
    ok, bad = "[green]✓[/]", "[bold red]✗[/]"
    out.print(f"{ok if d['fresh'] else bad} prices   latest bar {d['latest_bar'] or 'none'}; "
              f"last completed NYSE session {d['last_session'] or 'unknown'}")
    sig_age = f"{s['age_hours']:.1f} h old" if s["age_hours"] is not None else "none yet"
    out.print(f"{ok if s['fresh'] else bad} signals  {s['active']} active; newest {sig_age} "
              f"(limit {s['limit_hours']} h)")
    chall = f"; challenger {m['challenger']}" if m["challenger"] else ""
    broken = "; no usable model: " + ", ".join(m["unusable"]) if m.get("unusable") else ""
    out.print(f"{ok if m['fresh'] else bad} models   champion {m['champion'] or 'none'}{chall}{broken}")
    for w in data["warnings"]:
        out.print(f"[yellow]warning:[/] {w}")
    for a in data["abandoned_now"]:
        out.print(f"[red]abandoned:[/] {a['job']} run {a['run_id']}: {a['why']}")
    if data["healthy"]:
        out.print("[bold green]HEALTHY[/]")
    else:
        out.print(f"[bold red]UNHEALTHY[/] ({len(data['problems'])} problem{'s' if len(data['problems']) != 1 else ''})")
        for p in data["problems"]:
            out.print(f"  [red]•[/] {p}")
        out.print("[dim]`turbomode catchup` replays what was missed; `turbomode history` shows the runs[/]")


@handle_errors
def status(
    tctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (jobs, data, signals, models, healthy)."),
) -> None:
    """Show at a glance whether any job is late or failed and whether prices, signals and models are fresh.

    Exits 1 when anything is overdue, failed, abandoned or stale (for monitors), 0 when healthy.

    Example: turbomode status --json
    """
    from turbomode import clock
    from turbomode.tasks import status as status_task

    data = status_task.collect(state(tctx).ctx(readonly=True), clock.now())
    if as_json:
        print_json(data)
    else:
        render(data)
    raise typer.Exit(0 if data["healthy"] else 1)
