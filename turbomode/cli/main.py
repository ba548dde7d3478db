"""The `turbomode` command: global options and the list of subcommands.

Subcommands are named in ``COMMANDS`` and built only when used: `turbomode status` imports and
builds `status` alone, not the other fourteen (building them all cost about 25 ms, a third of the
start-up budget over a bare Typer app, SPEC §11). Subcommand modules import only typer at the top;
heavy work is imported inside the command body.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import typer

from turbomode import __version__
from turbomode.cli._util import OneLineGroup, State, private_files

# Listed in --help in this order: trying it, watching it, reading signals, the jobs, set-up.
# name -> (module in turbomode.cli, attribute): a command function, or a typer.Typer of subcommands.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo_cmd", "demo"),
    "status": ("status_cmd", "status"),
    "catchup": ("catchup_cmd", "catchup"),
    "history": ("history_cmd", "history"),
    "signals": ("signals_cmd", "signals"),
    "report": ("report_cmd", "report"),
    "ingest": ("ingest_cmd", "ingest"),
    "scan": ("scan_cmd", "scan"),
    "train": ("train_cmd", "train"),
    "backtest": ("backtest_cmd", "backtest"),
    "drift": ("drift_cmd", "drift"),
    "maintain": ("maintain_cmd", "maintain"),
    "restore": ("maintain_cmd", "restore"),
    "schedule": ("schedule_cmd", "app"),
    "config": ("config_cmd", "app"),
}


def build_command(name: str):
    """The Click command for one entry of COMMANDS, built with typer's public ``get_command``."""
    module, attr = COMMANDS[name]
    obj = getattr(importlib.import_module(f"turbomode.cli.{module}"), attr)
    if not isinstance(obj, typer.Typer):
        one = typer.Typer(add_completion=False)
        one.command(name)(obj)
        obj = one
    obj._add_completion = False  # shell completion is the root's (--install-completion)
    cmd = typer.main.get_command(obj)
    cmd.name = name
    return cmd


class _Commands(MutableMapping):
    """The root group's subcommands, each built on first access (TyperGroup keeps any MutableMapping)."""

    def __init__(self) -> None:
        self._built: dict = {}

    def __getitem__(self, name: str):
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = build_command(name)
        return self._built[name]

    def __setitem__(self, name: str, cmd) -> None:
        self._built[name] = cmd

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (n for n in self._built if n not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for n in self._built if n not in COMMANDS)


class LazyGroup(OneLineGroup):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.commands = _Commands()


app = typer.Typer(
    name="turbomode",
    help="Calibrated nightly BUY/SELL signals for US stocks, run by your OS scheduler.\n\n"
    "Example: turbomode demo",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,  # usage errors in one line (OneLineGroup), subcommands built when used
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"turbomode {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    tctx: typer.Context,
    # str, not Path: typer turns an empty value into Path("."), which resolve_home must refuse, not read
    home: str = typer.Option(None, "--home", help="Folder holding turbomode.toml, the database, models, logs "
                              "and backups (default: $TURBOMODE_HOME, else the platform's user data folder)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    private_files()
    tctx.obj = State(home)
    tctx.call_on_close(tctx.obj.close)


def _skip_the_exit_collection() -> None:
    """Freeze every object at exit, so that the interpreter's final garbage collection skips them.

    That collection walks every object pandas, scikit-learn, xgboost and lightgbm created: 0.3 s of
    CPU after a scan (or after merely importing those libraries), for memory the OS takes back anyway.
    Objects still free normally when their modules go; only the finalizers of objects caught in
    reference cycles are skipped, which Python never promised to run at exit. Files and the
    database are closed explicitly before this, and logging flushes its handlers after it.
    It also marks the process short-lived, so the loaded models are frozen too (ml/predict.py).
    """
    import atexit
    import gc

    import turbomode

    turbomode.SHORT_LIVED_PROCESS = True
    atexit.register(gc.freeze)


def main() -> None:
    from turbomode.cli._streams import make_std_streams_safe

    make_std_streams_safe()  # a redirected stdout on Windows is cp1252, which has no ✓ or ✗
    _skip_the_exit_collection()
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
    _skip_the_exit_collection()
    app(prog_name="turbomode")
