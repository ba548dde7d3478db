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
    day, age = _when_parts(text, tz, now)
    return f"{day}\n[dim]{age}[/]"


def _when_parts(text: str, tz, now: datetime) -> tuple[str, str]:
    from turbomode.clock import parse_iso

    dt = parse_iso(text)
    local = dt.astimezone(tz)
    secs = (now - dt).total_seconds()
    day = f"{local:%a}" if abs(secs) < 6 * 86400 else f"{local:%d %b}"
    return f"{day} {local:%H:%M}", _age(secs)


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


# Below these widths the table loses its schedule column, then becomes a list: a table squeezed
# into 60 or 80 columns clipped its dates ("06 Dec 00:…").
FULL_WIDTH = 100
TABLE_WIDTH = 70


def _state(j: dict, width: int = 0) -> str:
    if not j["enabled"]:
        style, text = "dim", "disabled"
    elif j["running"]:
        style, text = "cyan", "running"
    elif j["overdue"]:
        style, text = "bold red", "OVERDUE"
    elif j["last_status"] in ("failed", "abandoned", "blocked"):
        style, text = "bold red", j["last_status"].upper()
    elif j["missed"]:
        style, text = "yellow", "due"
    else:
        style, text = "green", "ok"
    return f"[{style}]{text}[/]" + " " * max(0, width - len(text))


def render(data: dict) -> None:
    from zoneinfo import ZoneInfo

    from rich import box
    from rich.table import Table

    from turbomode.cli._util import console
    from turbomode.clock import parse_iso

    out = console()
    tz = ZoneInfo(data["timezone"])
    now = parse_iso(data["at"])
    title = f"TurboMode jobs — {now.astimezone(tz):%a %d %b %Y %H:%M} {data['timezone']}"
    if out.width < TABLE_WIDTH:
        _render_list(out, data, tz, now, title)
    else:
        full = out.width >= FULL_WIDTH
        table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True)
        for col in ("job", "schedule", "last ok", "result", "next run", "missed", "state"):
            if col != "schedule" or full:
                table.add_column(col, no_wrap=col != "schedule")
        for j in data["jobs"]:
            ls = j["last_status"] or "none"
            missed = "-" if not j["missed"] else (f"{j['missed']}+" if j["missed_capped"] else str(j["missed"]))
            cells = [
                f"[bold]{j['name']}[/]",
                f"{j['schedule_words']}\n[dim]{j['schedule']}[/]",
                _when(j["last_success"], tz, now) if j["last_success"] else "[red]never[/]",
                f"[{STATUS_STYLE.get(ls, 'dim')}]{ls}[/]",
                _when(j["next_run"], tz, now) if j["next_run"] else "-",
                f"[red]{missed}[/]" if j["missed"] else missed,
                _state(j),
            ]
            table.add_row(*(cells if full else cells[:1] + cells[2:]))
        out.print(table)
    _render_facts(out, data)


def _render_list(out, data: dict, tz, now, title: str) -> None:
    """Each job as a few short lines: nothing clipped on a 60-column terminal."""
    out.print(title)
    for j in data["jobs"]:
        ls = j["last_status"] or "none"
        missed = f", missed {j['missed']}{'+' if j['missed_capped'] else ''}" if j["missed"] else ""
        out.print(f"[bold]{j['name']:<9}[/]{_state(j, 10)}last result [{STATUS_STYLE.get(ls, 'dim')}]{ls}[/]{missed}")
        for label, key in (("last ok", "last_success"), ("next", "next_run")):
            if j[key]:
                day, age = _when_parts(j[key], tz, now)
                out.print(f"  {label:<8} {day} [dim]({age})[/]")
            elif key == "last_success":
                out.print(f"  {label:<8} [red]never[/]")
    out.print()


def _render_facts(out, data: dict) -> None:
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
