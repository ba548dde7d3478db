"""The ingest job: bring daily bars for the universe up to the last completed session.

1. Per symbol, fetch from the last stored bar minus ``data.overlap_days`` weekdays (the whole
   history from ``data.start`` for a new symbol, with ``--full``, or when the data source changed).
2. Validate (drop and name bad rows, flag suspicious moves); keep only completed sessions.
3. Compare the re-fetched overlap with what is stored: a relative difference in Close or Adj Close
   beyond ``data.reload_tolerance`` (Yahoo re-adjusted history after a split or dividend) reloads
   that symbol's full history.
4. Write everything in ONE transaction: bars (upsert), reloaded symbols (delete + insert), the
   ``symbols`` bookkeeping, ``meta.data_source`` and the NYSE ``market_sessions`` (data.start to a
   year ahead). A crash before COMMIT leaves the database exactly as it was.

A symbol that fails does not fail the others: the run is ``partial`` and lists it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any, Callable

from turbomode.errors import BadInput, ConfigError
from turbomode.tasks import TaskResult

log = logging.getLogger("turbomode.ingest")

MAX_LISTED = 200  # rejected/flagged rows listed in the summary (all are counted)


def _weekdays_back(d: date, n: int) -> date:
    while n > 0:
        d -= timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def _parse_options(options: dict[str, Any]) -> tuple[list[str] | None, date | None]:
    symbols = options.get("symbols")
    if isinstance(symbols, str):
        symbols = symbols.split(",")
    if symbols is not None:
        from turbomode.data.universe import canonical_symbol

        symbols = [canonical_symbol(s) for s in symbols if s and s.strip()]
        if not symbols:
            raise BadInput("--symbols is empty; give symbols like AAPL,MSFT")
    start = options.get("start")
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start.strip())
        except ValueError:
            raise BadInput(f"--start {start!r} is not a date; write it like 2020-01-02") from None
    return symbols, start


def resolve_symbols(cfg, requested: list[str], universe=None) -> list:
    """The universe's securities for ``--symbols`` (canonical spellings); BadInput names unknown ones."""
    from turbomode.data.universe import load_universe

    universe = universe if universe is not None else load_universe(cfg["general.universe"])
    by_symbol = {s.symbol: s for s in universe}
    unknown = [s for s in requested if s not in by_symbol]
    if unknown:
        where = cfg["general.universe"] or "the built-in universe"
        raise BadInput(f"unknown symbol(s) {', '.join(unknown)}: not in {where}; check the spelling "
                       "or add them to your universe file (general.universe)")
    return [by_symbol[s] for s in dict.fromkeys(requested)]


def overlap_disagreements(stored, fresh, tolerance: float) -> dict[str, float]:
    """symbol -> largest relative difference of Close/Adj Close on dates both frames hold, for
    symbols where it exceeds ``tolerance``."""
    import numpy as np

    if len(stored) == 0 or len(fresh) == 0:
        return {}
    m = stored.merge(fresh, on=["symbol", "date"], suffixes=("_old", "_new"))
    if m.empty:
        return {}
    diff = np.maximum(
        (m["close_new"] / m["close_old"] - 1.0).abs(),
        (m["adj_close_new"] / m["adj_close_old"] - 1.0).abs(),
    )
    worst = diff.groupby(m["symbol"]).max()
    return {str(s): float(v) for s, v in worst.items() if v > tolerance}


def run(ctx, now: datetime, options: dict[str, Any]) -> TaskResult:
    import numpy as np
    import pandas as pd

    from turbomode.data import calendar
    from turbomode.data.sources import SOURCES, get_source
    from turbomode.data.universe import load_universe
    from turbomode.data.validate import validate
    from turbomode.store import prices, quarantine, state
    from turbomode.store.db import transaction
    from turbomode.store.sessions import write_sessions

    cfg = ctx.config
    source_name = options.get("source") or cfg["data.source"]
    if source_name not in SOURCES:
        raise ConfigError(f"unknown data source {source_name!r}; use one of {', '.join(SOURCES)}")
    requested, start_opt = _parse_options(options)
    full = bool(options.get("full"))
    progress: Callable[[int], None] | None = options.get("progress")
    on_total: Callable[[int], None] | None = options.get("progress_total")

    universe = load_universe(cfg["general.universe"])
    by_symbol = {s.symbol: s for s in universe}
    securities = resolve_symbols(cfg, requested, universe) if requested else list(universe)

    conn = ctx.connect()
    source = get_source(source_name, ctx, universe)
    data_start = date.fromisoformat(cfg["data.start"])
    if source_name == "sample":
        data_start = max(data_start, date.fromisoformat(cfg["data.sample.start"]))
    # NYSE sessions from data.start to a year ahead: stored for `status`, and they give freshness
    sessions = calendar.sessions(min(data_start, now.date()), now.date() + timedelta(days=366))
    completed = [d for d, _, close in sessions if close <= now]
    if not completed:
        raise ConfigError(f"data.start {data_start} is after the last completed NYSE session; set an earlier date")
    nyse_last = completed[-1]
    if source_name == "sample":
        from turbomode.data import sample as sample_market

        end = sample_market.last_completed_session(now)  # the sample trades every weekday
    else:
        end = nyse_last
    from zoneinfo import ZoneInfo

    from turbomode.data.validate import EXCHANGE_TZ

    today = now.astimezone(ZoneInfo(EXCHANGE_TZ)).date()  # rows dated after it are rejected, not stored
    stored_source = prices.data_source(conn)
    last = prices.last_dates(conn, [s.symbol for s in securities])
    switching = bool(last) and stored_source is not None and stored_source != source_name
    notes: list[str] = []
    if switching:
        notes.append(f"the data source changed from {stored_source} to {source_name}: each symbol fetched "
                     "now has its stored history replaced")
    # A stock that left the universe (its 'removed' date has passed) keeps its stored bars and is not
    # fetched again: a point-in-time history needs its past, and a delisted ticker has no future.
    gone = [s for s in securities if s.removed and s.removed <= end.isoformat() and s.symbol in last
            and not requested and not full and not switching]
    if gone:
        securities = [s for s in securities if s not in gone]
        notes.append(f"{len(gone)} symbol(s) that left the universe are not fetched; their bars are kept")

    starts: dict[str, date] = {}
    replace: set[str] = set()  # symbols whose stored bars are deleted before the new ones go in
    for s in securities:
        if start_opt is not None:
            starts[s.symbol] = start_opt
        elif full or switching or s.symbol not in last:
            starts[s.symbol] = data_start
        else:
            starts[s.symbol] = max(_weekdays_back(last[s.symbol], int(cfg["data.overlap_days"])), data_start)
        if (full or switching) and s.symbol in last and start_opt is None:
            replace.add(s.symbol)

    if on_total:
        on_total(len(starts))
    fetched = source.fetch(starts, end, progress)
    failed = dict(fetched.failed)
    checked = validate(fetched.bars, today)
    bars = _window(checked.bars, starts, end)
    rejected = [i for i in checked.rejected if i.date is None or i.symbol not in starts
                or i.date >= starts[i.symbol].isoformat()]
    flagged = list(checked.flagged)
    # Suspect bars never reach price_data (so they neither trigger a reload nor feed features):
    # they are quarantined below, unless an explicit reload confirms them.
    bars, suspects = _hold_back(bars, flagged)

    # Overlap check: re-adjusted history reloads the symbol.
    tol = float(cfg["data.reload_tolerance"])
    overlap_syms = [s for s in starts if s in last and s not in replace]
    reloads: dict[str, float] = {}
    if overlap_syms and len(bars):
        first = min(starts[s] for s in overlap_syms)
        stored = prices.read_panel(conn, overlap_syms, start=first, adjusted=False)
        reloads = overlap_disagreements(stored, bars[bars["symbol"].isin(overlap_syms)], tol)
    if reloads:
        log.info("overlap disagrees for %s: reloading full history", ", ".join(sorted(reloads)))
        again = source.fetch({s: data_start for s in reloads}, end, None)
        checked2 = validate(again.bars, today)
        full_bars = _window(checked2.bars, {s: data_start for s in reloads}, end)
        rejected += checked2.rejected
        flagged += checked2.flagged
        full_bars, more = _hold_back(full_bars, checked2.flagged)
        suspects = pd.concat([suspects[~suspects["symbol"].isin(list(reloads))], more], ignore_index=True)
        ok = set(full_bars["symbol"].unique()) - set(again.failed)
        for s, reason in again.failed.items():
            failed[s] = f"reload after re-adjusted history failed: {reason}"
        bars = pd.concat([bars[~bars["symbol"].isin(list(reloads))], full_bars[full_bars["symbol"].isin(list(ok))]],
                         ignore_index=True)
        replace |= ok
        notes.append(f"re-adjusted history (overlap differs up to {max(reloads.values()):.2%}): reloaded "
                     + ", ".join(sorted(ok)))
    for s in list(replace):  # a failed fetch must never delete what is stored
        if s in failed or not (bars["symbol"] == s).any():
            replace.discard(s)
    got = set(bars["symbol"].unique())
    for s in starts:
        if s not in got and s not in failed and s not in fetched.skipped:
            if s in last and last[s] >= end:
                continue  # already up to date; nothing new in the overlap is fine
            failed[s] = "no valid bars returned" + (
                f" ({sum(1 for i in rejected if i.symbol == s)} rows rejected)" if any(i.symbol == s for i in rejected) else "")
    # Quarantine: what stays held back, what a reload confirms or corrects (store/quarantine.py).
    held_before = quarantine.held(conn, starts)
    suspect_keys = _keys(suspects)
    confirmed = set()
    if full:  # an explicit reload: a held bar that comes back unchanged is confirmed by its source
        confirmed = {k for k, row in zip(suspect_keys, suspects.itertuples(index=False))
                     if k in held_before and _same_bar(row, held_before[k])}
    confirmed_mask = np.array([k in confirmed for k in suspect_keys], dtype=bool)  # a row mask, even when empty
    if confirmed:
        bars = pd.concat([bars, suspects.loc[confirmed_mask, list(bars.columns)]], ignore_index=True)
    to_hold = suspects.loc[~confirmed_mask]
    corrected = set()
    if held_before:
        held_syms = {sym for sym, _ in held_before}
        corrected = set(held_before) & set(_keys(bars[bars["symbol"].isin(list(held_syms))])) - confirmed
    newly_held = sorted(k for k in _keys(to_hold) if k not in held_before)
    # A rejected row or a held-back bar never removes the good bar stored for that day (a reload or a
    # source switch replaces everything else).
    protected: dict[str, set[str]] = {}
    for i in rejected:
        if i.date:
            protected.setdefault(i.symbol, set()).add(i.date)
    for sym, day in _keys(to_hold):
        protected.setdefault(sym, set()).add(day)
    bars = bars.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)

    with transaction(conn):
        # Only a replaced symbol can lose days; the others are upserted. Counts are index lookups.
        before = {sym: prices.count_bars(conn, sym) for sym in replace}
        already = {sym: prices.count_stored(conn, sym, days)
                   for sym, days in _days_by_symbol(bars[bars["symbol"].isin(list(last))]).items()}
        for s in sorted(replace):
            prices.delete_symbol(conn, s, keep=protected.get(s))
        written = prices.write_bars(conn, bars, source_name, now)
        quarantine.hold(conn, _quarantine_rows(to_hold), source_name, now)
        quarantine.release(conn, sorted(confirmed), "confirmed", now)
        quarantine.release(conn, sorted(corrected), "corrected", now)
        # bars added: days stored now that were not before; removed: the reverse (a reload that
        # brought fewer days). Counted per symbol by index lookups, never negative.
        sizes = bars.groupby("symbol").size().to_dict() if len(bars) else {}
        added = sum(int(n) - already.get(sym, 0) for sym, n in sizes.items())
        removed = sum(max(0, before[sym] + (int(sizes.get(sym, 0)) - already.get(sym, 0))
                          - prices.count_bars(conn, sym)) for sym in replace)
        for s in starts:
            sec = by_symbol[s]
            if s in failed:
                status, error = "failed", failed[s]
            elif s in fetched.skipped:
                status, error = "skipped", fetched.skipped[s]
            else:
                status, error = "ok", None
            prices.upsert_symbol(conn, s, name=sec.name, sector=sec.sector, source=source_name, now=now,
                                 status=status, error=error)
        if written or not stored_source:
            prices.set_meta(conn, "data_source", source_name, now)
        write_sessions(conn, sessions)

    new_last = prices.last_dates(conn, list(got))
    updated = sorted(s for s in got if s not in failed and (s in replace or new_last.get(s) != last.get(s)))
    latest = prices.latest_bar_date(conn)
    # One symbol's fresh bars must not make the universe look fresh: the symbols this run fetched
    # without a failure whose bars still end before the last session are listed, and when more than
    # BEHIND_SHARE of them do, the prices are not fresh.
    fetched_ok = [s for s in starts if s not in failed and s not in fetched.skipped]
    ends = prices.last_dates(conn, fetched_ok)
    behind = {s: ends[s].isoformat() if s in ends else None for s in fetched_ok
              if s not in ends or ends[s] < nyse_last}
    fresh = (latest is not None and latest >= nyse_last.isoformat()
             and len(behind) <= state.BEHIND_SHARE * max(1, len(fetched_ok)))
    for issue in rejected:
        log.warning("rejected %s", issue)
    for issue in flagged:
        log.warning("flagged %s", issue)
    summary = {
        "source": source_name,
        "sample_data": source_name == "sample",
        "symbols_requested": len(starts),
        "symbols_updated": len(updated),
        "bars_added": added,
        "bars_removed": removed,
        "bars_written": written,
        "reloaded": sorted(reloads) if reloads else sorted(replace),
        "rejected_count": len(rejected),
        "rejected": [i.as_dict() for i in rejected[:MAX_LISTED]],
        "flagged_count": len(flagged),
        "flagged": [i.as_dict() for i in flagged[:MAX_LISTED]],
        "quarantined": [{"symbol": sym, "date": day, "reason": why} for (sym, day), why
                        in list(_reasons(to_hold).items())[:MAX_LISTED]],
        "quarantined_new": len(newly_held),
        "confirmed": [f"{sym} {day}" for sym, day in sorted(confirmed)],
        "corrected": [f"{sym} {day}" for sym, day in sorted(corrected)],
        "failed": dict(sorted(failed.items())),
        "skipped": dict(sorted(fetched.skipped.items())),
        "latest_bar_date": latest,
        "last_session": nyse_last.isoformat(),
        "fresh": fresh,
        "fetched_ok": len(fetched_ok),
        "behind_count": len(behind),
        "behind": dict(sorted(behind.items())[:MAX_LISTED]),
        "notes": notes + fetched.notes,
    }
    if requested:  # some symbols only: not the nightly ingest of the universe (catch-up still owes it)
        summary["scope"] = "subset"
    ok_count = len(starts) - len(failed) - len(fetched.skipped)
    if failed and ok_count <= 0:
        status = "failed"
    elif failed or newly_held:
        status = "partial"  # a newly quarantined bar needs a person to look: alerted as partial
    else:
        status = "succeeded"
    freshness = (f"fresh (last NYSE session {nyse_last})" if fresh
                 else f"NOT fresh: the last NYSE session is {nyse_last}")
    if behind:
        freshness += (f"; {len(behind)} of {len(fetched_ok)} symbol(s) end before it: "
                      + ", ".join(f"{s} ({d or 'no bars'})" for s, d in sorted(behind.items())[:10])
                      + (" ..." if len(behind) > 10 else ""))
    msg = (f"ingest from {source_name}{' (SAMPLE DATA)' if source_name == 'sample' else ''}: "
           f"{len(updated)} symbol(s) updated, {added:,} bar(s) added; latest bar {latest or 'none'}, "
           f"{freshness}")
    if removed:
        msg += f"; {removed:,} stored bar(s) not in the new history removed"
    if failed:
        names = ", ".join(sorted(failed)[:20]) + (" ..." if len(failed) > 20 else "")
        msg += f"; {len(failed)} symbol(s) failed: {names}"
    if newly_held:
        shown = ", ".join(f"{sym} {day}" for sym, day in newly_held[:10]) + (" ..." if len(newly_held) > 10 else "")
        msg += (f"; {len(newly_held)} suspect bar(s) quarantined ({shown}): kept out of features, labels and "
                "fills until the source corrects them, or `turbomode ingest --full --symbols <SYMBOL>` confirms "
                "them if they are right")
    warnings = list(notes)
    if behind:
        warnings.append(f"{len(behind)} symbol(s) have no bar for the last NYSE session {nyse_last}: "
                        + ", ".join(f"{s} (last {d or 'none'})" for s, d in sorted(behind.items())[:20])
                        + (" ..." if len(behind) > 20 else "") + "; check the source for them")
    if fetched.skipped and not requested:
        warnings.append(f"{len(fetched.skipped)} universe symbol(s) have no file in the CSV folder and were skipped")
    return TaskResult(status=status, summary=summary, message=msg, warnings=warnings)


def _hold_back(bars, flagged):
    """(bars without the flagged ones, the flagged bars with a 'reason' column)."""
    import pandas as pd

    if len(bars) == 0 or not flagged:
        return bars, bars.iloc[0:0].assign(reason=pd.Series(dtype=object))
    reasons: dict[tuple[str, str], str] = {}
    for i in flagged:
        if i.date:
            key = (i.symbol, i.date)
            reasons[key] = f"{reasons[key]}; {i.reason}" if key in reasons else i.reason
    keys = _keys(bars)
    mask = [k in reasons for k in keys]
    held = bars[mask].copy()
    held["reason"] = [reasons[k] for k, m in zip(keys, mask) if m]
    return bars[[not m for m in mask]].reset_index(drop=True), held.reset_index(drop=True)


def _keys(bars) -> list[tuple[str, str]]:
    """(symbol, 'YYYY-MM-DD') of each row (dates formatted once per distinct day)."""
    from turbomode.store.prices import _date_strings

    if len(bars) == 0:
        return []
    return list(zip(bars["symbol"].tolist(), _date_strings(bars["date"])))


def _reasons(held) -> dict[tuple[str, str], str]:
    return dict(zip(_keys(held), held["reason"].tolist())) if len(held) else {}


def _days_by_symbol(bars) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sym, day in _keys(bars):
        out.setdefault(sym, []).append(day)
    return out


def _quarantine_rows(held) -> list[tuple]:
    rows = []
    for (sym, day), r in zip(_keys(held), held.itertuples(index=False)):
        values = [None if v != v else float(v) for v in (r.open, r.high, r.low, r.close, r.adj_close, r.volume)]
        rows.append((sym, day, *values, r.reason))
    return rows


def _same_bar(row, stored: dict, tol: float = 1e-9) -> bool:
    """The re-fetched suspect bar has the values that were held (the source insists on them)."""
    for col in ("open", "high", "low", "close", "adj_close"):
        a, b = getattr(row, col), stored.get(col)
        if b is None or abs(float(a) - float(b)) > tol * max(1.0, abs(float(b))):
            return False
    return True


def _window(bars, starts: dict[str, date], end: date):
    """Bars of the symbols asked for, from each one's start to ``end`` (completed sessions only)."""
    import pandas as pd

    if len(bars) == 0:
        return bars
    first = pd.to_datetime(bars["symbol"].map({s: d for s, d in starts.items()}))
    keep = bars["symbol"].isin(list(starts)) & (bars["date"] >= first) & (bars["date"] <= pd.Timestamp(end))
    return bars[keep].reset_index(drop=True)
