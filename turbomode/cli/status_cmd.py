"""`turbomode status`: per job schedule, last success, last result, next run, missed; freshness; health."""

from __future__ import annotations

from datetime import datetime, timezone

import typer

from turbomode.cli._table import Line, echo, paragraph, styled, table, width
from turbomode.cli._util import handle_errors, print_json, state

STATUS_STYLE = {"succeeded": "green", "partial": "yellow", "running": "cyan", "skipped": "dim",
                "failed": "bold red", "abandoned": "bold red", "blocked": "red"}


def _when(text: str | None, tz, now: datetime) -> list[Line]:
    """'Thu 23:30' (or '12 Jan 23:30' when more than 6 days away) over '10 h ago', in the schedule's zone."""
    if not text:
        return [Line("-")]
    day, age = _when_parts(text, tz, now)
    return [Line(day), Line(age, "dim")]


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


def _state(j: dict) -> Line:
    if not j["enabled"]:
        return Line("disabled", "dim")
    if j["running"]:
        return Line("running", "cyan")
    if j["overdue"]:
        return Line("OVERDUE", "bold red")
    if j["last_status"] in ("failed", "abandoned", "blocked"):
        return Line(j["last_status"].upper(), "bold red")
    if j["missed"]:
        return Line("due", "yellow")
    return Line("ok", "green")


def render(data: dict) -> None:
    """The jobs table and the freshness lines, in plain text styled with typer.style (importing and
    laying out a rich Table cost more than status's whole start-up budget; see cli/_table.py)."""
    from zoneinfo import ZoneInfo

    from turbomode.clock import parse_iso

    cols = width()
    tz = ZoneInfo(data["timezone"])
    now = parse_iso(data["at"])
    title = f"TurboMode jobs — {now.astimezone(tz):%a %d %b %Y %H:%M} {data['timezone']}"
    if cols < TABLE_WIDTH:
        _render_list(data, tz, now, title, cols)
    else:
        full = cols >= FULL_WIDTH
        rows = []
        for j in data["jobs"]:
            ls = j["last_status"] or "none"
            missed = "-" if not j["missed"] else (f"{j['missed']}+" if j["missed_capped"] else str(j["missed"]))
            cells = [
                [Line(j["name"], "bold")],
                [Line(j["schedule_words"], wrap=True), Line(j["schedule"], "dim")],
                _when(j["last_success"], tz, now) if j["last_success"] else [Line("never", "red")],
                [Line(ls, STATUS_STYLE.get(ls, "dim"))],
                _when(j["next_run"], tz, now) if j["next_run"] else [Line("-")],
                [Line(missed, "red" if j["missed"] else "")],
                [_state(j)],
            ]
            rows.append(cells if full else cells[:1] + cells[2:])
        headers = ["job", "schedule", "last ok", "result", "next run", "missed", "state"]
        for line in paragraph([(title, "")], cols):
            echo(line)
        echo()
        for line in table(headers if full else headers[:1] + headers[2:], rows, cols):
            echo(line)
        echo()
    _render_facts(data, cols)


def _render_list(data: dict, tz, now, title: str, cols: int) -> None:
    """Each job as a few short lines: nothing clipped on a 60-column terminal."""
    for line in paragraph([(title, "")], cols):
        echo(line)
    for j in data["jobs"]:
        ls = j["last_status"] or "none"
        missed = f", missed {j['missed']}{'+' if j['missed_capped'] else ''}" if j["missed"] else ""
        st = _state(j)
        echo(f"{styled(j['name'], 'bold')}{' ' * max(1, 9 - len(j['name']))}{styled(st.text, st.style)}"
             f"{' ' * max(1, 10 - len(st.text))}last result {styled(ls, STATUS_STYLE.get(ls, 'dim'))}{missed}")
        for label, key in (("last ok", "last_success"), ("next", "next_run")):
            if j[key]:
                day, age = _when_parts(j[key], tz, now)
                echo(f"  {label:<8} {day} {styled(f'({age})', 'dim')}")
            elif key == "last_success":
                echo(f"  {label:<8} {styled('never', 'red')}")
    echo()


def _render_facts(data: dict, cols: int) -> None:
    def say(*spans: tuple[str, str], indent: int = 2) -> None:
        for line in paragraph(spans, cols, indent):
            echo(line)

    d, s, m = data["data"], data["signals"], data["models"]
    ok, bad = ("✓", "green"), ("✗", "bold red")
    say(ok if d["fresh"] else bad, (f" prices   latest bar {d['latest_bar'] or 'none'}; "
                                    f"last completed NYSE session {d['last_session'] or 'unknown'}", ""))
    sig_age = f"{s['age_hours']:.1f} h old" if s["age_hours"] is not None else "none yet"
    say(ok if s["fresh"] else bad, (f" signals  {s['active']} active; newest {sig_age} "
                                    f"(limit {s['limit_hours']} h)", ""))
    chall = f"; challenger {m['challenger']}" if m["challenger"] else ""
    broken = "; no usable model: " + ", ".join(m["unusable"]) if m.get("unusable") else ""
    say(ok if m["fresh"] else bad, (f" models   champion {m['champion'] or 'none'}{chall}{broken}", ""))
    for w in data["warnings"]:
        say(("warning:", "yellow"), (f" {w}", ""))
    for a in data["abandoned_now"]:
        say(("abandoned:", "red"), (f" {a['job']} run {a['run_id']}: {a['why']}", ""))
    if data["healthy"]:
        say(("HEALTHY", "bold green"))
    else:
        n = len(data["problems"])
        say(("UNHEALTHY", "bold red"), (f" ({n} problem{'s' if n != 1 else ''})", ""))
        for p in data["problems"]:
            say(("  •", "red"), (f" {p}", ""), indent=4)
        say(("`turbomode catchup` replays what was missed; `turbomode history` shows the runs", "dim"))


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
