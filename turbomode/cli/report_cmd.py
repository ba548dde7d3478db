"""`turbomode report`: write the self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from turbomode.cli._util import handle_errors, state


@handle_errors
def report(
    tctx: typer.Context,
    out: Path = typer.Option(None, "--out", "-o", help="Where to write the page (default: <home>/report.html)."),
    open_: bool = typer.Option(False, "--open", help="Open the page in the default browser afterwards."),
) -> None:
    """Write one HTML page with the signals (sortable, filterable), job status, runs, backtest and drift.

    The page needs no network or server: open the file in any browser.

    Example: turbomode report --out ~/signals.html --open
    """
    from turbomode import clock
    from turbomode.errors import HomeNotWritable
    from turbomode.report import write_report

    ctx = state(tctx).ctx(readonly=True)
    try:
        path = write_report(ctx, clock.now(), out.expanduser() if out else None)
    except IsADirectoryError:
        if out is None:  # the home's own page
            from turbomode.report import default_path

            raise HomeNotWritable(f"{default_path(ctx)} is a folder, so the report cannot be written there; move it "
                                  "away, or write the page elsewhere with `turbomode report --out FILE`") from None
        raise HomeNotWritable(f"--out {out} is a folder; give a file name, such as {out / 'report.html'}") from None
    except (PermissionError, NotADirectoryError, FileNotFoundError) as exc:  # FileNotFoundError: a drive that is absent
        raise HomeNotWritable(f"cannot write the report to {exc.filename or out} ({exc.strerror}); "
                              "choose another --out") from None
    typer.echo(f"wrote {path}")
    if open_:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            typer.echo(f"could not start a browser; open {path} yourself", err=True)
