"""`turbomode schedule show | export --cron | export --windows DIR | install | uninstall`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from turbomode.cli._util import console, err, handle_errors, print_json, state

app = typer.Typer(help="Show the schedule and register it with cron or Windows Task Scheduler.",
                  no_args_is_help=True)

EXE_HELP = ("Absolute path of the turbomode executable the scheduler starts (default: the one in this "
            "Python environment).")
TARGET_HELP = "Which scheduler: cron (Linux, macOS) or windows (Task Scheduler); default: this OS's."


@app.command("show")
@handle_errors
def show(
    tctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    exe: Optional[str] = typer.Option(None, "--exe", help=EXE_HELP),
) -> None:
    """Show each job's schedule, its next run, and the command the OS scheduler starts.

    Example: turbomode schedule show --json
    """
    from turbomode import clock
    from turbomode.ops import scheduler_export, scheduler_install

    ctx = state(tctx).ctx(readonly=True)
    target = scheduler_install.make_target(ctx, exe)
    view = scheduler_export.overview(ctx.config, target, clock.now())
    # Only the crontab can be compared cheaply; Task Scheduler is queried with `schtasks /Query`.
    view["installed"] = (scheduler_install.cron_state(ctx.config, target)
                         if scheduler_install.default_platform() == "cron" else None)
    if as_json:
        print_json(view)
        return
    from rich.table import Table

    out = console()
    out.print(f"[bold]Schedule[/] (zone: {view['timezone']}, home: {view['home']})")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("job", "cron", "when", "next run", "Windows"):
        table.add_column(col)
    for row in view["jobs"]:
        style = "" if row["enabled"] else "dim"
        when = row["description"] + ("" if row["enabled"] else " (disabled)")
        win = "ok" if row["windows"] == "ok" else "[red]cannot express[/]"
        table.add_row(row["job"], row["schedule"], when, row["next_run_local"] or "-", win, style=style)
    out.print(table)
    c = view["catchup"]
    out.print(f"catchup: at logon/boot {'on' if c['at_reboot'] else 'off'}; heartbeat "
              f"{c['heartbeat'] or 'off'}" + (f" ({c['description']})" if c["heartbeat"] else ""))
    out.print(f"command: {' '.join(view['command'])} <job> --trigger cron")
    installed = {
        "current": "[green]crontab: installed and current[/]",
        "outdated": "[yellow]crontab: holds a different TurboMode schedule; run `turbomode schedule install`[/]",
        "absent": "[yellow]crontab: not installed; run `turbomode schedule install`[/]",
        "unavailable": "[yellow]crontab: cannot be read (is cron installed?)[/]",
    }.get(view["installed"])
    if installed:
        out.print(installed)
    for row in view["jobs"]:
        if row["windows"] != "ok":
            err(f"note: {row['windows']}")


@app.command("export")
@handle_errors
def export(
    tctx: typer.Context,
    cron: bool = typer.Option(False, "--cron", help="Print the crontab block on stdout."),
    windows: Optional[Path] = typer.Option(None, "--windows", metavar="DIR",
                                           help="Write one Task Scheduler XML per task into DIR."),
    exe: Optional[str] = typer.Option(None, "--exe", help=EXE_HELP),
) -> None:
    """Render the schedule for cron or Windows Task Scheduler without registering it.

    Example: turbomode schedule export --windows ./tasks
    """
    from turbomode.errors import ConfigError
    from turbomode.ops import scheduler_export, scheduler_install

    if cron == (windows is not None):
        raise ConfigError("choose one of --cron or --windows DIR")
    ctx = state(tctx).ctx(readonly=True)
    target = scheduler_install.make_target(ctx, exe, "cron" if cron else "windows")
    if cron:
        for w in scheduler_export.warnings(ctx.config, "cron"):
            err(f"warning: {w}")
        typer.echo(scheduler_export.render_cron(ctx.config, target), nl=False)
        return
    from turbomode import clock

    tasks = scheduler_export.render_windows(ctx.config, target, clock.now())
    for w in scheduler_export.warnings(ctx.config, "windows"):
        err(f"warning: {w}")
    if windows.exists() and not windows.is_dir():
        raise ConfigError(f"--windows {windows} is a file, not a folder; give a folder for the XML files "
                          "(it is created if missing)")
    windows.mkdir(parents=True, exist_ok=True)
    for name, xml in tasks.items():
        path = windows / f"{name}.xml"
        path.write_bytes(xml)
        typer.echo(f"wrote {path}")
    err(f"register each with: schtasks /Create /TN \"TurboMode\\<Name>\" /XML <file> /F "
        "(or run `turbomode schedule install` on Windows)")


@app.command("install")
@handle_errors
def install(
    tctx: typer.Context,
    target: Optional[Literal["cron", "windows"]] = typer.Option(None, "--target", help=TARGET_HELP),
    exe: Optional[str] = typer.Option(None, "--exe", help=EXE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print what was registered as JSON."),
) -> None:
    """Register the schedule: a marked block in your crontab, or tasks in \\TurboMode\\ on Windows.

    Running it again replaces what it installed; your other crontab lines are never touched.

    Example: turbomode schedule install
    """
    from turbomode import clock
    from turbomode.ops import scheduler_export, scheduler_install

    ctx = state(tctx).ctx()
    result = scheduler_install.install(ctx, target, exe, clock.now())
    for w in scheduler_export.warnings(ctx.config, result.platform):
        err(f"warning: {w}")
    for m in result.messages:
        err(f"warning: {m}")
    _render(result, as_json)


@app.command("uninstall")
@handle_errors
def uninstall(
    tctx: typer.Context,
    target: Optional[Literal["cron", "windows"]] = typer.Option(None, "--target", help=TARGET_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print what was removed as JSON."),
) -> None:
    """Remove what `schedule install` registered (the crontab block or the \\TurboMode\\ tasks).

    Example: turbomode schedule uninstall
    """
    from turbomode.ops import scheduler_install

    state(tctx).ctx()
    _render(scheduler_install.uninstall(target), as_json)


def _render(result, as_json: bool) -> None:
    if as_json:
        print_json({"platform": result.platform, "action": result.action, "entries": result.tasks,
                    "files": result.files, "messages": result.messages})
        return
    where = "your crontab" if result.platform == "cron" else "Task Scheduler (\\TurboMode\\)"
    text = {
        "installed": f"installed {len(result.tasks)} entries in {where}",
        "unchanged": f"{where} already holds this schedule; nothing changed",
        "removed": f"removed TurboMode from {where}",
        "absent": f"{where} holds no TurboMode schedule; nothing to remove",
    }[result.action]
    typer.echo(text)
    if result.action in ("installed", "unchanged"):
        for entry in result.tasks:
            typer.echo(f"  {entry}")
