"""The nightly scan: fill and close open signals, then emit new ones from the champion models (SPEC §8).

Order of work:
  1. checks that need no heavy import: prices exist, are fresh (or --allow-stale), the session is
     not older than signals already emitted; with --as-of, a kept model version was fitted and
     chosen (its validation labels) on data that ends before that date (else exit 4);
  2. the models (the champions, or with --as-of the newest former champion of each sector that had
     seen nothing of that date), the price panel, features, probabilities;
  3. one transaction: open signals are filled at the open after their session and closed when a
     bar reaches their target or stop or their horizon runs out (``scan_rules.settle``: the trade
     rule of ml/labels.py), the session's signals are emitted (at most one open signal per symbol)
     and ``sector_stats`` refreshed.

Running it again for the same session changes nothing: a symbol whose open signal was emitted for
this session keeps it, and filling and closing only look at bars that a previous run saw too.
The pure rules live in ``tasks/scan_rules.py``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date as Date, datetime
from typing import Any, Iterable, Sequence

from turbomode.clock import iso
from turbomode.errors import BadInput, MissingInput, StaleData
from turbomode.tasks import TaskResult
from turbomode.tasks.scan_rules import Bar, Candidate, decide, entry_date_of, one_sided_warning, settle

log = logging.getLogger("turbomode.scan")

STEPS = ("models", "prices", "features", "signals")  # progress steps


# --- the task ---------------------------------------------------------------------------------

def _parse_date(text: str, what: str) -> str:
    try:
        return Date.fromisoformat(str(text)).isoformat()
    except ValueError:
        raise BadInput(f"{what} {text!r} is not a date; use YYYY-MM-DD, e.g. 2026-01-22") from None


def _cost(cfg) -> float:
    """The round trip charged on a signal's realised return (commission + slippage, both sides)."""
    return 2 * (float(cfg["backtest.commission_bps"]) + float(cfg["backtest.slippage_bps"])) / 1e4


def _expiry(conn, session: str, horizon: int) -> tuple[str, str]:
    """(expiry session, its close as ISO UTC): the ``horizon``-th NYSE session after ``session``."""
    from turbomode.store import sessions

    cached = sessions.sessions_after(conn, session, horizon)
    if len(cached) >= horizon:
        d, close_utc = cached[horizon - 1]
        return d, close_utc
    import pandas as pd

    try:
        import exchange_calendars as xcals

        cal = xcals.get_calendar("XNYS")
        days = cal.sessions_window(pd.Timestamp(session), horizon + 1) if cal.is_session(session) else \
            cal.sessions_window(cal.date_to_session(session, "previous"), horizon + 1)
        d = days[-1]
        return d.date().isoformat(), iso(cal.session_close(d).to_pydatetime())
    except Exception:  # beyond the calendar's range: business days at 16:00 New York
        from zoneinfo import ZoneInfo

        d = (pd.Timestamp(session) + pd.offsets.BDay(horizon)).date()
        close = datetime(d.year, d.month, d.day, 16, 0, tzinfo=ZoneInfo("America/New_York"))
        return d.isoformat(), iso(close)


def _check_inputs(conn, cfg, now: datetime, options: dict[str, Any]) -> str:
    """The session to scan, after refusing what must be refused. No heavy imports here."""
    from turbomode.store import prices, sessions, signals as store, state

    latest = prices.latest_bar_date(conn)
    if latest is None:
        raise MissingInput("no prices are stored yet; run `turbomode ingest` first")
    as_of = options.get("as_of")
    if as_of:
        session = _parse_date(as_of, "--as-of")
        if not sessions.has_bars_on(conn, session):
            before = sessions.latest_bar_on_or_before(conn, session)
            hint = f"the nearest earlier date with prices is {before}" if before else "prices start after it"
            raise MissingInput(f"there are no prices for --as-of {session} (not a trading day, or not ingested); "
                               f"{hint}, the latest is {latest}")
    else:
        session = latest
        if not options.get("allow_stale"):
            expected = state.last_completed_session(conn, now)  # the same judgement as `status`
            if expected and session < expected:
                raise StaleData(f"prices end {session} but the last completed NYSE session is {expected}; "
                                "run `turbomode ingest` (or pass --allow-stale to scan the old prices)")
    later = store.latest_session(conn)
    if later and later > session:
        raise BadInput(f"signals were already emitted for the later session {later}; --as-of must be on "
                       f"or after it (scanning {session} would rewrite history)")
    # A scan that emitted nothing (or maintain, expiring signals) still filled and closed the open
    # signals with its session's bars: the signals an earlier session would see are gone, so it can no
    # longer be scanned as it was.
    scanned = _settled_through(conn)
    if scanned and scanned > session:
        raise BadInput(f"a scan or maintain already settled the open signals with the bars of the later session "
                       f"{scanned}; --as-of must be on or after it (scanning {session} would see what happened "
                       "after it)")
    if as_of:
        from turbomode.store import models as model_store

        if not model_store.point_in_time_files(conn, session):
            first = model_store.earliest_point_in_time(conn)
            hint = (f"the oldest kept model version was fitted and chosen on data up to {first}, so --as-of "
                    f"must be after that" if first else "no model version is kept; run `turbomode train`")
            raise MissingInput(f"no kept model version was fitted and chosen on data before {session} (a model "
                               f"whose fit or promotion saw that date's future cannot scan it); {hint}")
    return session


SETTLED_KEY = "scan_settled_through"  # meta: the newest session a scan (or maintain) settled signals with


def unreadable_text(rows: list[str]) -> str:
    """The warning for open signal rows edited into something no job can act on (store.signals.READABLE)."""
    shown = "; ".join(rows[:5]) + (f"; and {len(rows) - 5} more" if len(rows) > 5 else "")
    return (f"{len(rows)} open signal row(s) in active_signals cannot be read and were left as they are ({shown}); "
            "correct or delete them in the database")


def first_scannable(conn) -> str | None:
    """The earliest session a scan may still be run for (the rule _check_inputs applies): none before the
    newest session signals were emitted for or settled with. None: any session."""
    from turbomode.store import signals as store

    marks = [d for d in (store.latest_session(conn), _settled_through(conn)) if d]
    return max(marks) if marks else None


def _settled_through(conn) -> str | None:
    """The newest session a scan settled (meta, or the ledger's last scan for older databases)."""
    from turbomode.store import prices, state

    seen = [prices.get_meta(conn, SETTLED_KEY)]
    last = state.last_scan(conn)
    if last is not None:
        seen.append(last.session)
    seen = [s for s in seen if s]
    return max(seen) if seen else None


def _feature_starts(conn, symbols: list[str], session: str) -> dict[str, str]:
    """symbol -> the first date its features read: the bar ``WARMUP_BARS + 5`` bars before
    ``session`` (its first bar when it has fewer), counted in its own bars, so that a symbol with
    gaps is past the warm-up whenever it has the history, as in `train`, and its features depend on
    its own last bars only, whichever other symbols have gaps."""
    from turbomode.ml.features import WARMUP_BARS
    from turbomode.store import prices

    return prices.bars_back(conn, symbols, session, WARMUP_BARS + 5)


def run(ctx, now: datetime, options: dict[str, Any]) -> TaskResult:
    from turbomode.data.universe import load_universe
    from turbomode.store import prices, signals as store
    from turbomode.store.db import transaction

    cfg = ctx.config
    conn = ctx.connect()
    session = _check_inputs(conn, cfg, now, options)
    universe = load_universe(cfg["general.universe"] or None)
    sector_of = {s.symbol: s.sector for s in universe if s.member_on(session)}  # members on that session

    shown = options.get("progress") or (lambda step, done, total: None)  # progress(step, done, total)
    timings: dict[str, float] = {}
    clock_t = [time.perf_counter(), None]

    def progress(step: str, done: int, total: int) -> None:
        t = time.perf_counter()
        if clock_t[1] is not None:
            timings[clock_t[1]] = round(t - clock_t[0], 3)
        clock_t[:] = [t, step]
        shown(step, done, total)

    progress("loading the models", 0, len(STEPS))
    as_of = options.get("as_of")
    champions = _load_champions(ctx) if not as_of else _load_point_in_time(ctx, session)

    horizon = int(cfg["labels.horizon_days"])
    cost = _cost(cfg)
    open_now = store.active_signals(conn)
    symbols = sorted(set(sector_of) | {s["symbol"] for s in open_now})
    feature_starts = _feature_starts(conn, sorted(sector_of), session)
    starts = list(feature_starts.values()) + [d for d in map(entry_date_of, open_now) if d]
    progress("reading prices", 1, len(STEPS))
    panel = _read_panel(conn, symbols, min(starts) if starts else session, session)
    panel = panel.assign(_day=_day_strings(panel["date"]))
    progress("features and probabilities", 2, len(STEPS))
    candidates, skipped = _candidates(panel, sector_of, session, champions, cfg, feature_starts)
    bars = _bars_by_symbol(panel, {s["symbol"] for s in open_now})
    source = store.data_source(conn) or cfg["data.source"]
    expiry_date, expires_at = _expiry(conn, session, horizon)
    stamp = iso(now)

    progress("filling, closing and emitting signals", 3, len(STEPS))
    with transaction(conn):
        # Re-read inside the transaction: what we fill, close and keep is what is stored now.
        open_now = store.active_signals(conn)
        fills, closures = [], []
        for sig in open_now:
            fill, closure = _settlement_for(sig, bars.get(sig["symbol"], []), session, cfg, cost)
            if fill is not None:
                fills.append(fill)
            if closure is not None:
                closures.append(closure)
        store.record_fills(conn, fills)
        closed_ids = {c.signal_id for c in closures}
        still_open = {s["symbol"]: s for s in open_now if s["id"] not in closed_ids}
        decision = decide(candidates, still_open, session, cfg["signals.min_confidence"])
        touched = store.close_signals(conn, closures, stamp)
        store.insert_signals(conn, (_signal_row(c, cfg, session, expiry_date, expires_at, stamp, source)
                                    for c in decision.emit))
        store.refresh_sector_stats(conn, touched, stamp)
        if session > (prices.get_meta(conn, SETTLED_KEY) or ""):
            prices.set_meta(conn, SETTLED_KEY, session, now)
        buy, sell = store.session_mix(conn, session)
        open_mix = store.summary(conn)
    progress("done", len(STEPS), len(STEPS))

    outcomes: dict[str, int] = {}
    for c in closures:
        outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
    # A sector whose champion files are unusable is served by its previous champion (or gets no
    # signals): either way the run is partial, alerts, and `status` names the sector.
    problems = dict(getattr(champions, "problems", {}))
    if as_of:
        problems.update(_not_known_before(conn, session))
    warnings = list(problems.values())
    unreadable = store.unreadable_open(conn)
    if unreadable:
        warnings.append(unreadable_text(unreadable))
    model_problems = _model_problems(conn, champions, problems)
    # A session of a small universe has a handful of signals, never enough to judge; the open signals
    # (the last horizon's sessions) are what the user sees, and what a one-way model set piles up.
    one_sided = one_sided_warning(buy, sell) or one_sided_warning(open_mix["buy"], open_mix["sell"],
                                                                  "the {total} open signals")
    if one_sided:
        warnings.append(one_sided)
    if skipped["history"]:
        warnings.append(f"{len(skipped['history'])} symbol(s) skipped for too little history: "
                        + ", ".join(skipped["history"][:20]) + (" ..." if len(skipped["history"]) > 20 else ""))
    report = _refresh_report(ctx, now, warnings) if cfg["signals.refresh_report"] else None
    summary = {
        # an earlier session than the prices reach is not the nightly scan (catch-up still owes it)
        **({"scope": "subset"} if as_of and session < (prices.latest_bar_date(conn) or session) else {}),
        "session": session,
        "data_source": source,
        "scanned": len(candidates),
        "emitted": len(decision.emit),
        "kept": len(decision.kept),
        "held": decision.held,
        "filled": len(fills),
        "closed": outcomes,
        "session_signals": {"BUY": buy, "SELL": sell},
        "open_signals": {"BUY": open_mix["buy"], "SELL": open_mix["sell"]},
        "active": store.summary(conn)["total"],
        "skipped_history": skipped["history"],
        "skipped_no_bar": skipped["no_bar"],
        "skipped_no_model": skipped["no_model"],
        "one_sided": bool(one_sided),
        "model_problems": model_problems,
        "allow_stale": bool(options.get("allow_stale")),
        "as_of": as_of,
        "model_versions": getattr(champions, "versions", {}),
        "warnings": warnings,
        "report": report,
        "seconds": timings,
    }
    closed_text = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "none"
    message = (f"scan {session}: {len(decision.emit)} new signal(s) ({buy} BUY, {sell} SELL this session), "
               f"filled: {len(fills)}, closed: {closed_text}; {summary['active']} open; "
               f"{len(candidates)} symbols scanned")
    if as_of:
        message += f" (as of {session}, with models fitted before it)"
    if model_problems:
        unusable = sorted(s for s, m in model_problems.items() if m["using"] is None)
        fallback = sorted(s for s, m in model_problems.items() if m["using"] is not None)
        message += ("; no usable champion model for " + ", ".join(unusable) + " (no signals for it)" if unusable
                    else "") + ("; previous champion used for " + ", ".join(fallback) if fallback else "") + \
            ("; only versions fitted and chosen before the date can scan it: see the warnings" if as_of
             else "; run `turbomode train --sector <SECTOR>`")
    if source == "sample":
        message += " [SAMPLE DATA]"
    return TaskResult("partial" if model_problems else "succeeded", summary, message, warnings)


def _not_known_before(conn, session: str) -> dict[str, str]:
    """Sectors that have champions, none fitted and chosen before ``session``: not scanned (partial)."""
    from turbomode.store import models as model_store

    usable = model_store.point_in_time_files(conn, session)
    return {sector: (f"{sector}: no kept version was fitted and chosen on data before {session} (the oldest "
                     f"was on data up to {first}), so its symbols were not scanned")
            for sector, first in sorted(model_store.point_in_time_firsts(conn).items()) if sector not in usable}


def _model_problems(conn, champions, problems: dict[str, str]) -> dict[str, dict[str, Any]]:
    """sector -> {champion: the broken version, using: the version that served it (None: none), problem}."""
    if not problems:
        return {}
    from turbomode.store.models import champion_versions

    current = champion_versions(conn)
    return {sector: {"champion": current.get(sector), "using": champions.version(sector), "problem": text}
            for sector, text in problems.items()}


def _refresh_report(ctx, now: datetime, warnings: list[str]) -> str | None:
    """signals.refresh_report: rewrite <home>/report.html. Failing to write it warns; the scan stands."""
    from turbomode.report import write_report

    try:
        return str(write_report(ctx, now))
    except Exception as exc:  # the signals are committed; a page we could not write must not fail them
        log.warning("report.html not refreshed: %s", exc, exc_info=True)
        warnings.append(f"report.html not refreshed ({type(exc).__name__}: {exc})")
        return None


# --- helpers over the price panel (pandas) -----------------------------------------------------

# The seams to the data and model modules (tests replace the model with a double).

def _load_champions(ctx):
    from turbomode.ml.predict import load_champions

    return load_champions(ctx)


def _load_point_in_time(ctx, session: str):
    from turbomode.ml.predict import load_point_in_time

    return load_point_in_time(ctx, session)


def _compute_features(panel, sector_of: dict[str, str]):
    from turbomode.ml.features import compute_features

    return compute_features(panel, sector_of)


def _predict(champions, features):
    """The champions' probabilities, on one thread: a scan predicts a few rows per model, where
    OpenMP's thread start-up and spin-waits cost far more than they save (14x on a busy 2-core box)."""
    from turbomode.ml.threads import one_thread

    with one_thread():
        return champions.predict(features)


def _read_panel(conn, symbols: list[str], start: str, end: str):
    from turbomode.store.prices import read_panel

    return read_panel(conn, symbols=symbols, start=start, end=end, adjusted=True)


def _vol_last(panel, days: int):
    """symbol -> (ATR, sigma) at its last bar: the price ATR (shown) and the trade rule's sigma
    (features.log_atr, what targets and stops are set from)."""
    from turbomode.ml.features import atr, log_atr, prepare_panel

    p = prepare_panel(panel)
    last = p.assign(_atr=atr(p, days).to_numpy(), _sigma=log_atr(p, days).to_numpy())
    last = last.groupby("symbol", sort=False).tail(1)
    return {s: (float(a), float(g)) for s, a, g in zip(last["symbol"], last["_atr"], last["_sigma"])}


def _day_strings(values):
    """Dates (datetime64 or text) as YYYY-MM-DD strings."""
    import pandas as pd

    import numpy as np

    codes, uniques = pd.factorize(pd.Series(values))  # a few hundred distinct days in a million rows
    if pd.api.types.is_datetime64_any_dtype(uniques):
        text = pd.DatetimeIndex(uniques).strftime("%Y-%m-%d")
    else:
        text = pd.Index(uniques).astype(str).str.slice(0, 10)
    return np.asarray(text, dtype=object)[codes]


def _candidates(panel, sector_of: dict[str, str], session: str, champions, cfg,
                feature_starts: dict[str, str] | None = None):
    """(candidates at the session, skipped lists) from features and the champion's probabilities.

    ``panel`` carries a ``_day`` column of YYYY-MM-DD text besides read_panel's columns. Each
    symbol's features read its rows from ``feature_starts[symbol]`` on (all of them when absent).
    """
    import numpy as np

    skipped: dict[str, list[str]] = {"history": [], "no_bar": [], "no_model": []}
    universe_panel = panel[panel["symbol"].isin(list(sector_of))]
    if feature_starts:
        first = universe_panel["symbol"].map(feature_starts).fillna("")
        universe_panel = universe_panel[universe_panel["_day"].to_numpy(dtype=object) >= first.to_numpy(dtype=object)]
    at_session = universe_panel[universe_panel["_day"] == session]
    have_bar = set(at_session["symbol"])
    skipped["no_bar"] = sorted(set(sector_of) - have_bar)
    if not have_bar:
        return [], skipped
    plain = universe_panel.drop(columns="_day")
    feats = _compute_features(plain, sector_of)
    at = feats[_day_strings(feats.index.get_level_values("date")) == session]
    at = at[at.index.get_level_values("symbol").isin(list(have_bar))]
    complete = ~at.select_dtypes("number").isna().any(axis=1).to_numpy()
    skipped["history"] = sorted(have_bar - set(at.index.get_level_values("symbol")[complete]))
    at = at[complete]
    if at.empty:
        return [], skipped
    at = at.assign(sector=[sector_of[s] for s in at.index.get_level_values("symbol")])
    probs = _predict(champions, at)
    vol = _vol_last(plain, int(cfg["labels.atr_days"]))
    close = dict(zip(at_session["symbol"], at_session["close"].astype(float)))
    out = []
    for symbol, pb, ps, ph in zip(at.index.get_level_values("symbol"), probs["prob_buy"].to_numpy(),
                                  probs["prob_sell"].to_numpy(), probs["prob_hold"].to_numpy()):
        sector = sector_of[symbol]
        a, sigma = vol.get(symbol, (np.nan, np.nan))
        if not (np.isfinite(pb) and np.isfinite(ps)):
            skipped["no_model"].append(symbol)
            continue
        if not (np.isfinite(sigma) and sigma > 0):
            skipped["history"].append(symbol)
            continue
        out.append(Candidate(symbol, sector, close[symbol], a, sigma, float(pb), float(ps), float(ph),
                             champions.version(sector)))
    skipped["history"].sort()
    return out, skipped


def _bars_by_symbol(panel, symbols: set[str]) -> dict[str, list[Bar]]:
    sub = panel[panel["symbol"].isin(list(symbols))].sort_values(["symbol", "_day"])
    out: dict[str, list[Bar]] = {}
    for sym, d, o, h, lo, c in zip(sub["symbol"], sub["_day"], sub["open"], sub["high"], sub["low"],
                                   sub["close"]):
        out.setdefault(sym, []).append(Bar(d, float(o), float(h), float(lo), float(c)))
    return out


def _settlement_for(signal: dict[str, Any], bars: list[Bar], session: str, cfg, cost: float):
    """(Fill or None, Closure or None) of one open signal (``scan_rules.settle_signal`` on its bars)."""
    from turbomode.tasks.scan_rules import basis_scale, settle_signal

    entry = entry_date_of(signal)
    if entry is None or not signal.get("entry_price"):
        return None, None
    at_entry = next((b.close for b in bars if b.date == entry), None)
    after = [b for b in bars if entry < b.date <= session]
    return settle_signal(signal, after, session, cfg, cost, basis_scale(signal, at_entry))


def _signal_row(c: Candidate, cfg, session: str, expiry_date: str, expires_at: str, created_at: str,
                source: str) -> dict[str, Any]:
    from turbomode.tasks.scan_rules import provisional_levels

    target, stop = provisional_levels(c.close, c.sigma, c.direction, cfg)
    return {
        "symbol": c.symbol, "signal_type": c.direction, "confidence": round(c.confidence, 6),
        "entry_price": c.close, "target_price": target, "stop_loss": stop, "sector": c.sector,
        "created_at": created_at, "expires_at": expires_at, "market_date": session,
        "expiry_date": expiry_date, "model_version": c.model_version, "data_source": source,
        "prob_buy": c.prob_buy, "prob_sell": c.prob_sell, "prob_hold": c.prob_hold, "atr": c.atr,
        "reference_price": c.close, "fill_date": None, "price_basis": "close", "sigma": c.sigma,
    }
