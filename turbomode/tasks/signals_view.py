"""What `turbomode signals` shows: the open signals filtered and sorted, with their freshness.

Standard library only: reading signals must stay light (no pandas).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from turbomode.clock import iso
from turbomode.errors import BadInput

TYPES = ("BUY", "SELL")
FORMATS = ("table", "csv", "json")
MAX_LIMIT = 1_000_000  # more than any number of open signals; SQLite's LIMIT ends at 2**63 - 1


@dataclass
class SignalsView:
    rows: list[dict[str, Any]]
    total_open: int = 0
    buy: int = 0
    sell: int = 0
    updated_at: str | None = None  # newest created_at of the open signals
    session: str | None = None  # newest market_date
    age_hours: float | None = None
    stale: bool = False
    freshness_hours: int = 24
    sample: bool = False
    notes: list[str] = field(default_factory=list)
    stale_reason: str | None = None
    judged_by_scan: bool = False  # freshness came from the last successful scan (not the signals' age)
    scan_at: str | None = None  # the last successful scan's start
    scan_session: str | None = None  # and the session it scanned


def check_options(*, signal_type: str | None, sort: str, fmt: str, limit: int | None,
                  min_confidence: float | None, symbol: str | None = None) -> None:
    from turbomode.data.universe import canonical_symbol, is_ticker
    from turbomode.store.signals import SORT_KEYS

    # Only a ticker's characters can match a stored signal; anything else (an empty value, bytes that
    # are not text in the terminal's encoding) is a mistake to name, not a query to run.
    if symbol is not None and not is_ticker(canonical_symbol(symbol)):
        raise BadInput(f"--symbol {symbol!r} is not a ticker symbol; use Yahoo's spelling such as BRK-B")

    if sort not in SORT_KEYS:
        raise BadInput(f"unknown --sort key {sort!r}; use one of {', '.join(SORT_KEYS)}")
    if signal_type is not None and signal_type.upper() not in TYPES:
        raise BadInput(f"unknown --type {signal_type!r}; use BUY or SELL")
    if fmt not in FORMATS:
        raise BadInput(f"unknown --format {fmt!r}; use one of {', '.join(FORMATS)}")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"--limit must be between 1 and {MAX_LIMIT:,}, not {limit}")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise BadInput(f"--min-confidence must be between 0 and 1, not {min_confidence}")


def view(ctx, now: datetime, *, signal_type: str | None = None, sector: str | None = None,
         symbol: str | None = None, min_confidence: float | None = None, sort: str = "confidence",
         descending: bool | None = None, limit: int | None = None) -> SignalsView:
    from turbomode.store import signals as store

    if sector is not None:  # as train --sector: a sector the universe lacks is a mistake, not "no signals"
        from turbomode.data.universe import pick_sector, universe_sectors

        sector = pick_sector(sector, universe_sectors(ctx.config["general.universe"]))
    freshness = ctx.config["signals.freshness_hours"]
    conn = ctx.connect()
    s = store.summary(conn)
    if symbol:
        from turbomode.data.universe import canonical_symbol

        symbol = canonical_symbol(symbol)  # BRK.B finds BRK-B
    rows = store.query_active(conn, signal_type=signal_type, sector=sector, symbol=symbol,
                              min_confidence=min_confidence, sort=sort, descending=descending, limit=limit)
    v = SignalsView(rows, s["total"], s["buy"], s["sell"], s["newest_created_at"], s["newest_market_date"],
                    freshness_hours=freshness)
    from turbomode.store.state import signal_freshness, stale_signals_text

    f = signal_freshness(conn, now, freshness)  # status's rule: the last scan's session (or its age)
    v.age_hours, v.stale = f.age_hours, not f.fresh
    v.stale_reason = None if f.fresh else stale_signals_text(f)
    v.judged_by_scan = f.scan is not None
    v.scan_at = iso(f.scan.started_at) if f.scan else None
    v.scan_session = f.scan.session if f.scan else None
    v.sample = s["sample_rows"] > 0 or store.data_source(conn) == "sample"
    from turbomode.ml.metrics import one_sided_text

    mix = one_sided_text(s["buy"], s["sell"], "the {total} open signals")  # all of them, whatever the filter
    if mix:
        v.notes.append("WARNING: " + mix)
    unreadable = store.unreadable_open(conn)
    if unreadable:
        from turbomode.tasks.scan import unreadable_text

        v.notes.append("WARNING: " + unreadable_text(unreadable))
    if s["total"] == 0:
        from turbomode.store.state import last_success

        scanned = last_success(conn).get("scan")
        if scanned is None:
            v.notes.append("no open signals: run `turbomode scan` after `turbomode ingest`")
        else:
            v.notes.append(f"no open signals: the last scan ({iso(scanned)}) found no symbol at or above "
                           f"signals.min_confidence = {ctx.config['signals.min_confidence']:.2f}")
    return v


def age_text(hours: float | None) -> str:
    if hours is None:
        return "unknown age"
    minutes = int(round(hours * 60))
    if minutes < 60:
        return f"{minutes}m ago"
    if minutes < 48 * 60:
        return f"{minutes // 60}h {minutes % 60:02d}m ago"
    return f"{minutes // 1440}d {(minutes % 1440) // 60}h ago"
