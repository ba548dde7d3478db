"""`turbomode config init|show|validate`."""

from __future__ import annotations

import typer

from turbomode.cli._util import handle_errors, print_json, state

app = typer.Typer(help="Create, show and check turbomode.toml.", no_args_is_help=True)


@app.command("init")
@handle_errors
def init(
    tctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing turbomode.toml (a .bak copy is kept)."),
    source: str = typer.Option(None, "--source", help="Initial data source: yfinance, csv or sample."),
    csv_dir: str = typer.Option(None, "--csv-dir", metavar="DIR", help="Folder of per-symbol CSV files for "
                                "--source csv, created if missing (default: csv in the home folder)."),
) -> None:
    """Write a commented turbomode.toml with every option into the home folder.

    Example: turbomode --home ~/tm config init --source sample
    """
    from turbomode.tasks import config_tasks

    written = config_tasks.init(state(tctx).home_arg, force=force, source=source, csv_dir=csv_dir)
    typer.echo(f"wrote {written.path}")
    if written.csv_dir is not None:
        typer.echo(f"put one CSV file per symbol in Yahoo's layout (AAPL.csv: Date,Open,High,Low,Close,Adj Close,"
                   f"Volume) into {written.csv_dir}, then run `turbomode ingest`")


@app.command("show")
@handle_errors
def show(tctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the effective configuration (file values over defaults).

    Example: turbomode config show --json
    """
    ctx = state(tctx).ctx(readonly=True)
    if as_json:
        print_json({"path": str(ctx.config.path) if ctx.config.path else None, "home": str(ctx.home),
                    "options": dict(ctx.config.items())})
        return
    from turbomode import config as config_mod

    where = ctx.config.path or f"{ctx.home / config_mod.CONFIG_NAME} (not written yet: defaults shown)"
    typer.echo(f"# {where}")
    typer.echo(config_mod.render(ctx.config))


@app.command("validate")
@handle_errors
def validate(tctx: typer.Context) -> None:
    """Check turbomode.toml and the universe file and CSV folder it names; exit 2 with the offending key
    when something is wrong.

    Example: turbomode config validate
    """
    from turbomode.tasks import config_tasks

    ctx = state(tctx).ctx(readonly=True)
    config_tasks.check_paths(ctx.config)
    if ctx.config.path is None:
        typer.echo(f"no config file in {ctx.home}; the defaults are in effect (`turbomode config init` writes one)")
    else:
        typer.echo(f"{ctx.config.path}: valid")
