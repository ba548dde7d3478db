"""`turbomode signals`: the open signals, filtered and sorted, with freshness and sample-data banners."""

from __future__ import annotations

import typer

from turbomode.cli._util import err, handle_errors, print_json, state

TABLE_COLUMNS = (  # (header, column, format)
    ("Symbol", "symbol", "{}"), ("Type", "signal_type", "{}"), ("Conf", "confidence", "{:.1%}"),
    ("Entry", "entry_price", "{:.2f}"), ("Target", "target_price", "{:.2f}"), ("Stop", "stop_loss", "{:.2f}"),
    ("Expires", "expiry_date", "{}"), ("Sector", "sector", "{}"),
)


def signals(
    tctx: typer.Context,
    signal_type: str = typer.Option(None, "--type", help="Only BUY or only SELL signals."),
    sector: str = typer.Option(None, "--sector", help="Only this GICS sector (e.g. 'Energy')."),
    symbol: str = typer.Option(None, "--symbol", help="Only this symbol."),
    min_confidence: float = typer.Option(None, "--min-confidence", help="Only signals at or above this "
                                         "probability (0-1)."),
    sort: str = typer.Option("confidence", "--sort", help="Sort key: confidence, symbol, sector, created, "
                             "expires. Confidence and created sort newest/highest first."),
    desc: bool = typer.Option(None, "--desc/--asc", help="Force descending or ascending order."),
    limit: int = typer.Option(None, "--limit", help="Show at most N signals."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (json: a list of objects with "
                            "the active_signals columns)."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Show the open BUY/SELL signals with their entry, target, stop and expiry.

    The header says when they were last updated.

    A STALE banner warns past signals.freshness_hours, a SAMPLE DATA banner when they come from the sample market.

    Example: turbomode signals --type BUY --min-confidence 0.6 --sort expires --limit 20
    """
    _signals(tctx, signal_type, sector, symbol, min_confidence, sort, desc, limit, "json" if as_json else fmt)


@handle_errors
def _signals(tctx, signal_type, sector, symbol, min_confidence, sort, desc, limit, fmt) -> None:
    from turbomode import clock
    from turbomode.tasks import signals_view

    fmt, sort = fmt.strip().lower(), sort.strip().lower()  # as --type: JSON, Expires are what they say
    signals_view.check_options(signal_type=signal_type, sort=sort, fmt=fmt, limit=limit,
                               min_confidence=min_confidence, symbol=symbol)
    ctx = state(tctx).ctx(readonly=True)
    v = signals_view.view(ctx, clock.now(), signal_type=signal_type, sector=sector, symbol=symbol,
                          min_confidence=min_confidence, sort=sort, descending=desc, limit=limit)
    lines = banners(v)
    if fmt == "table":
        _table(v, lines)
        return
    # csv and json keep stdout to the data; the header and banners go to stderr
    if v.updated_at:
        err(f"{v.total_open} open signal(s), updated {v.updated_at} ({signals_view.age_text(v.age_hours)})")
    for b in lines:
        err(b)
    if fmt == "json":
        print_json(v.rows)
    else:
        _csv(v.rows)


def banners(v) -> list[str]:
    from turbomode.tasks.signals_view import age_text

    out = []
    if v.stale and v.updated_at and not v.judged_by_scan:
        out.append(f"STALE: the newest signal is {age_text(v.age_hours).removesuffix(' ago')} old (limit "
                   f"{v.freshness_hours}h); run `turbomode scan` or `turbomode catchup`")
    elif v.stale:
        out.append(f"STALE: {v.stale_reason} (or `turbomode catchup`)")
    if v.sample:
        out.append("SAMPLE DATA: these signals come from the synthetic sample market, not real prices")
    return out + v.notes


def _csv(rows) -> None:
    import csv
    import sys

    from turbomode.store.signals import ACTIVE_COLUMNS

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(ACTIVE_COLUMNS)
    for r in rows:
        w.writerow(["" if r[c] is None else r[c] for c in ACTIVE_COLUMNS])


def _cell(fmt: str, value) -> str:
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def render_table(v, lines, console) -> None:
    """The header, banners and table (also used by `turbomode demo`)."""
    from rich.table import Table

    from turbomode.tasks.signals_view import age_text

    if v.updated_at:
        console.print(f"[bold]{v.total_open} open signal(s)[/] ({v.buy} BUY, {v.sell} SELL), newest for "
                      f"session {v.session or '-'}")
        console.print(f"updated {v.updated_at} ({age_text(v.age_hours)})")
    for b in lines:
        style = "bold red" if b.startswith("STALE") else "bold yellow" if b.startswith("SAMPLE") else ""
        console.print(f"[{style}]{b}[/]" if style else b, markup=True)
    if not v.rows:
        if v.updated_at:
            console.print("no signals match")
        return
    from rich import box

    from turbomode.store.signals import expiry_of

    cells = [[_cell(f, expiry_of(r) if col == "expiry_date" else r.get(col))
              + (" ref" if col == "entry_price" and r.get("price_basis") == "close" else "")
              for _, col, f in TABLE_COLUMNS] for r in v.rows]
    widths = [max([len(header)] + [len(c[i]) for c in cells]) for i, (header, _, _) in enumerate(TABLE_COLUMNS)]
    # Every column at its full width, one space apart; on a terminal too narrow for that the Sector
    # column goes (never a clipped date or price).
    keep = list(range(len(TABLE_COLUMNS)))
    if sum(widths) + len(widths) - 1 > console.width:
        keep = [i for i, (header, _, _) in enumerate(TABLE_COLUMNS) if header != "Sector"]
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for i in keep:
        header = TABLE_COLUMNS[i][0]
        t.add_column(header, justify="right" if header in ("Conf", "Entry", "Target", "Stop") else "left",
                     no_wrap=True, min_width=widths[i])
    cells = [[c[i] for i in keep] for c in cells]
    for c in cells:
        t.add_row(*c)
    console.print(t)
    if any(r.get("price_basis") == "close" for r in v.rows):
        console.print("ref = the signal session's close: the signal fills at the next open, and its target and "
                      "stop then follow from the fill", style="dim")
    if len(v.rows) < v.total_open:
        console.print(f"{len(v.rows)} of {v.total_open} shown")


def _table(v, lines) -> None:
    from turbomode.cli._util import console

    render_table(v, lines, console())
