"""The `turbomode` command: global options and the list of subcommands.

Subcommand modules import only typer at the top; heavy work is imported inside the command body,
so `turbomode status` and `turbomode catchup` start fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from turbomode import __version__
from turbomode.cli import config_cmd, maintain_cmd
from turbomode.cli import demo_cmd
from turbomode.cli import drift_cmd
from turbomode.cli import ingest_cmd
from turbomode.cli import report_cmd
from turbomode.cli import scan_cmd
from turbomode.cli import signals_cmd
from turbomode.cli import train_cmd
from turbomode.cli import catchup_cmd, history_cmd, status_cmd
from turbomode.cli import schedule_cmd
from turbomode.cli import backtest_cmd
from turbomode.cli._util import OneLineGroup, State, private_files

app = typer.Typer(
    name="turbomode",
    help="Calibrated nightly BUY/SELL signals for US stocks, run by your OS scheduler.\n\n"
    "Example: turbomode demo",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=OneLineGroup,  # usage errors in one line (or a JSON object under --json), exit 2
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"turbomode {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    tctx: typer.Context,
    home: Path = typer.Option(None, "--home", help="Folder holding turbomode.toml, the database, models, logs "
                              "and backups (default: $TURBOMODE_HOME, else the platform's user data folder)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    private_files()
    tctx.obj = State(home)
    tctx.call_on_close(tctx.obj.close)


# Listed in --help in this order: trying it, watching it, reading signals, the jobs, set-up.
app.command("demo")(demo_cmd.demo)
app.command("status")(status_cmd.status)
app.command("catchup")(catchup_cmd.catchup)
app.command("history")(history_cmd.history)
app.command("signals")(signals_cmd.signals)
app.command("report")(report_cmd.report)
app.command("ingest")(ingest_cmd.ingest)
app.command("scan")(scan_cmd.scan)
app.command("train")(train_cmd.train)
app.command("backtest")(backtest_cmd.backtest)
app.command("drift")(drift_cmd.drift)
app.command("maintain")(maintain_cmd.maintain)
app.command("restore")(maintain_cmd.restore)
app.add_typer(schedule_cmd.app, name="schedule")
app.add_typer(config_cmd.app, name="config")

def main() -> None:
    from turbomode.cli._streams import make_std_streams_safe

    make_std_streams_safe()  # a redirected stdout on Windows is cp1252, which has no ✓ or ✗
    app(prog_name="turbomode")


def main_windowless() -> None:
    """`turbomodew`: started by Task Scheduler without a console, so there is no stdout or stderr.

    Output is discarded (the log file under <home>/logs/ has everything); the exit code is kept.
    """
    import os
    import sys

    from turbomode.cli._streams import make_std_streams_safe

    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
    make_std_streams_safe()
    app(prog_name="turbomode")
