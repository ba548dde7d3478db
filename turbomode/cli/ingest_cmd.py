"""`turbomode ingest`: fetch new daily bars for the universe (through the run wrapper)."""

from __future__ import annotations


import typer

from turbomode.cli._util import NO_DEPS_HELP, TRIGGER_HELP, console, err, handle_errors, run_job_command

TRIGGERS = ("manual", "cron")
SOURCES = ("yfinance", "csv", "sample")


@handle_errors
def ingest(
    tctx: typer.Context,
    source: str = typer.Option(None, "--source", help="yfinance, csv or sample (default: data.source in "
                               "turbomode.toml)."),
    symbols: str = typer.Option(None, "--symbols", help="Only these symbols, comma-separated (they must be in "
                                "the universe), e.g. AAPL,MSFT."),
    start: str = typer.Option(None, "--start", help="Fetch from this date (YYYY-MM-DD) instead of the last "
                              "stored bar minus the overlap."),
    full: bool = typer.Option(False, "--full", help="Re-fetch every symbol's whole history from data.start "
                              "and replace what is stored."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
    no_deps: bool = typer.Option(False, "--no-deps", help=NO_DEPS_HELP),
    trigger: str = typer.Option("manual", "--trigger", help=TRIGGER_HELP),
) -> None:
    """Bring daily prices up to the last completed NYSE session, incrementally.

    Bad rows are dropped and named, suspicious moves flagged; a symbol that fails makes the run
    partial (exit 3) while the others are stored. Re-running adds no duplicate bars.

    Example: turbomode ingest --source sample --symbols AAPL,MSFT
    """
    from turbomode.errors import BadInput

    if trigger not in TRIGGERS:
        raise BadInput(f"unknown --trigger {trigger!r}; use manual or cron")
    if source is not None and source not in SOURCES:
        raise BadInput(f"unknown --source {source!r}; use yfinance, csv or sample")
    options: dict = {"source": source, "symbols": symbols.split(",") if symbols is not None else None,
                     "start": start, "full": full}
    from turbomode.cli._progress import StepProgress

    with StepProgress("fetching", enabled=not as_json) as progress:
        options["progress_total"] = progress.set_total
        options["progress"] = progress.advance
        run_job_command(tctx, "ingest", options, no_deps=no_deps, trigger=trigger, as_json=as_json,
                        render=_render)


def _render(outcome) -> None:
    from rich.table import Table

    r = outcome.result
    s = r.summary
    out = console()
    table = Table(title=f"ingest ({s['source']}{', SAMPLE DATA' if s.get('sample_data') else ''})",
                  show_header=False, title_justify="left")
    table.add_column("")
    table.add_column("")
    table.add_row("symbols updated", f"{s['symbols_updated']} of {s['symbols_requested']}")
    table.add_row("bars added", f"{s['bars_added']:,}")
    if s.get("bars_removed"):
        table.add_row("bars removed (not in the new history)", f"{s['bars_removed']:,}")
    if s.get("reloaded"):
        table.add_row("reloaded (history re-adjusted)", ", ".join(s["reloaded"][:20]))
    table.add_row("rows rejected", str(s["rejected_count"]))
    table.add_row("suspect bars quarantined", str(s["flagged_count"]))
    table.add_row("symbols failed", str(len(s["failed"])))
    table.add_row("latest bar", s["latest_bar_date"] or "none")
    table.add_row("last NYSE session", s["last_session"])
    table.add_row("fresh", "yes" if s["fresh"] else "NO")
    out.print(table)
    for title, key in (("rejected rows (a stored bar of that day is kept)", "rejected"),
                       ("quarantined: kept out of features, labels and fills", "flagged")):
        rows = s.get(key) or []
        if rows:
            t = Table(title=title + (f" (first {len(rows)} of {s[key + '_count']})" if s[key + "_count"] > len(rows) else ""),
                      title_justify="left")
            for c in ("symbol", "date", "line", "reason"):
                t.add_column(c)
            for i in rows[:50]:
                t.add_row(i["symbol"], i.get("date") or "", str(i.get("line") or ""), i["reason"])
            out.print(t)
    if s["failed"]:
        t = Table(title="failed symbols (nothing stored for them was changed)", title_justify="left")
        t.add_column("symbol")
        t.add_column("reason")
        for sym, why in list(s["failed"].items())[:50]:
            t.add_row(sym, why)
        out.print(t)
    typer.echo(r.message)
    if r.status == "partial":
        why = (["some symbols failed (above); the others were stored"] if s["failed"] else []) + \
              (["suspect bars were quarantined (above)"] if s.get("quarantined_new") else [])
        err(f"ingest was partial: {' and '.join(why)}")
