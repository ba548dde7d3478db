"""The nightly scan: close finished signals, then emit new ones from the champion models (SPEC §8).

Order of work:
  1. checks that need no heavy import: prices exist, are fresh (or --allow-stale), the session is
     not older than signals already emitted;
  2. the champion models (ModelMissing -> exit 4), the price panel, features, probabilities;
  3. one transaction: close open signals whose target or stop was touched by a bar after their entry
     session (a bar touching both counts as the stop) or whose horizon has run out, emit the
     session's signals, reverse opposite ones, and refresh ``sector_stats``.

Running it again for the same session changes nothing: a symbol whose open signal was emitted for
this session keeps it, and closing only looks at bars that a previous run saw too.

The pure decisions (``evaluate``, ``decide``) take plain values, so the rules are tested without a
database or a model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date as Date, datetime, timedelta
from typing import Any, Iterable, Sequence

from turbomode.clock import iso
from turbomode.errors import BadInput, MissingInput, StaleData
from turbomode.tasks import TaskResult

log = logging.getLogger("turbomode.scan")

# History read before the session: enough for the longest feature window (52-week range) plus
# the indicators' warm-up. Replaced by the feature module's own figure when it declares one.
DEFAULT_LOOKBACK_CALENDAR_DAYS = 420
ONE_SIDED_WARNING = 0.90  # warn when more than this share of a session's signals point one way
ONE_SIDED_MIN_SIGNALS = 10
STEPS = ("models", "prices", "features", "signals")  # progress steps  # ...and there are at least this many (3 of 3 is not a pattern)


# --- pure rules -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    date: str
    open: float
    high: float
    low: float
    close: float


def signed_return(direction: str, entry: float, exit_price: float) -> float:
    """Realised return of a position in ``direction`` (the labels' rule): a SELL gains when it falls."""
    from turbomode.ml.labels import realised_return

    return float(realised_return(direction, entry, exit_price))


def barrier_levels(entry: float, atr: float, direction: str, target_multiple: float,
                   stop_multiple: float) -> tuple[float, float]:
    """(target, stop) of a signal: the training labels' barriers (ml.labels), mirrored for a SELL."""
    from turbomode.ml.labels import LabelParams, barriers

    target, stop = barriers(entry, atr, direction, LabelParams(target_multiple, stop_multiple))
    return float(target), float(stop)


def evaluate(signal: dict[str, Any], bars_after: Sequence[Bar], horizon: int, session: str,
             scale: float = 1.0) -> tuple[str, str, float] | None:
    """How an open signal finished, as (outcome, exit_date, exit_price), or None while it is open.

    ``bars_after``: the symbol's bars after the entry session up to the scan's session, in order.
    ``scale``: today's price basis over the signal's (the entry session's close now / entry price),
    so bars re-adjusted after a split or dividend are compared on the signal's own basis.
    A bar touching both barriers counts as the stop (the order within a day is unknown); an open
    beyond a barrier fills at the open (ml/backtest.py applies the same fills).
    After ``horizon`` bars without a touch it expires at that bar's close; a symbol that stopped
    trading expires at its last close once the calendar expiry date has passed.
    """
    sign = 1.0 if signal["signal_type"] == "BUY" else -1.0
    target, stop = signal["target_price"], signal["stop_loss"]
    for bar in bars_after[:horizon]:
        opn, high, low = bar.open / scale, bar.high / scale, bar.low / scale
        # in "signed" prices (x sign) the target is above the entry and the stop below, for both sides
        best, worst = (high, low) if sign > 0 else (low, high)
        hit_stop, hit_target = sign * worst <= sign * stop, sign * best >= sign * target
        if not (hit_stop or hit_target):
            continue
        # The open is the day's first print: a gap through a barrier fills there, as the backtest does.
        gap_stop, gap_target = sign * opn <= sign * stop, sign * opn >= sign * target
        if gap_stop:
            return "stop", bar.date, opn
        if gap_target:
            return "target", bar.date, opn
        return ("stop", bar.date, stop) if hit_stop else ("target", bar.date, target)
    if len(bars_after) >= horizon:
        last = bars_after[horizon - 1]
        return "expired", last.date, last.close / scale
    expiry = signal.get("expiry_date")
    if expiry and session > expiry and bars_after:
        last = bars_after[-1]
        return "expired", last.date, last.close / scale
    return None


@dataclass(frozen=True)
class Candidate:
    """The model's view of one symbol at the session."""

    symbol: str
    sector: str
    close: float
    atr: float
    prob_buy: float
    prob_sell: float
    prob_hold: float
    model_version: str | None = None

    @property
    def direction(self) -> str:
        """The side ``ml.metrics.signal_side`` picks when the row signals (BUY on a tie)."""
        return "BUY" if self.prob_buy >= self.prob_sell else "SELL"

    @property
    def confidence(self) -> float:
        return max(self.prob_buy, self.prob_sell)


@dataclass
class Decision:
    emit: list[Candidate] = field(default_factory=list)
    reverse: list[tuple[dict[str, Any], Candidate]] = field(default_factory=list)  # (old signal, new)
    kept: list[str] = field(default_factory=list)  # symbols whose open signal stays


def decide(candidates: Iterable[Candidate], open_by_symbol: dict[str, dict[str, Any]], session: str,
           min_confidence: float) -> Decision:
    """Which candidates become signals. At most one open signal per symbol:

    no signal by the signal rule (``ml.metrics.signal_side``: BUY or SELL probability below the
    threshold or below HOLD's) -> nothing (an open signal stays); an open signal emitted for this
    session -> kept (a re-run changes nothing); same direction -> the old one is kept; opposite
    direction -> the old one is closed as 'reversed' and the new one emitted.
    """
    from turbomode.ml.metrics import signal_side

    out = Decision()
    for c in candidates:
        if signal_side(c.prob_buy, c.prob_sell, c.prob_hold, min_confidence) is None:
            continue
        old = open_by_symbol.get(c.symbol)
        if old is None:
            out.emit.append(c)
        elif old.get("market_date") == session or old["signal_type"] == c.direction:
            out.kept.append(c.symbol)
        else:
            out.reverse.append((old, c))
            out.emit.append(c)
    return out


def one_sided_warning(buy: int, sell: int) -> str | None:
    total = buy + sell
    if total < ONE_SIDED_MIN_SIGNALS:
        return None
    side, n = ("BUY", buy) if buy >= sell else ("SELL", sell)
    if n / total > ONE_SIDED_WARNING:
        return (f"{n} of the session's {total} signals ({n / total:.0%}) are {side}: a one-sided model "
                "set is a warning, not a result; check `turbomode drift` and the training report")
    return None


def entry_date_of(signal: dict[str, Any]) -> str | None:
    """The session a signal was emitted for (rows adopted from the seed only have created_at)."""
    d = signal.get("market_date") or (signal.get("created_at") or "")[:10]
    return d or None


# --- the task ---------------------------------------------------------------------------------

def _parse_date(text: str, what: str) -> str:
    try:
        return Date.fromisoformat(str(text)).isoformat()
    except ValueError:
        raise BadInput(f"{what} {text!r} is not a date; use YYYY-MM-DD, e.g. 2026-01-22") from None


def _label_rule(cfg) -> dict[str, Any]:
    return {"target_multiple": cfg["labels.target_multiple"], "stop_multiple": cfg["labels.stop_multiple"],
            "horizon": cfg["labels.horizon_days"], "atr_days": cfg["labels.atr_days"]}


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
    return session


def _lookback_start(conn, session: str) -> str:
    """First date read: enough NYSE sessions before ``session`` for the features' warm-up.

    Counted in the cached calendar when it reaches back (a sample market, which trades on NYSE
    holidays too, then has a few bars more than needed), else estimated in calendar days.
    """
    from turbomode.ml.features import WARMUP_BARS
    from turbomode.store import sessions

    start = sessions.session_before(conn, session, WARMUP_BARS + 5)
    if start is not None:
        return start
    days = max(DEFAULT_LOOKBACK_CALENDAR_DAYS, int(WARMUP_BARS * 7 / 5 * 1.1) + 14)
    return (Date.fromisoformat(session) - timedelta(days=days)).isoformat()


def run(ctx, now: datetime, options: dict[str, Any]) -> TaskResult:
    from turbomode.data.universe import load_universe
    from turbomode.store import signals as store
    from turbomode.store.db import transaction

    cfg = ctx.config
    conn = ctx.connect()
    session = _check_inputs(conn, cfg, now, options)
    universe = load_universe(cfg["general.universe"] or None)
    sector_of = {s.symbol: s.sector for s in universe}

    shown = options.get("progress") or (lambda step, done, total: None)  # progress(step, done, total)
    timings: dict[str, float] = {}
    clock_t = [time.perf_counter(), None]

    def progress(step: str, done: int, total: int) -> None:
        t = time.perf_counter()
        if clock_t[1] is not None:
            timings[clock_t[1]] = round(t - clock_t[0], 3)
        clock_t[:] = [t, step]
        shown(step, done, total)

    progress("loading the champion models", 0, len(STEPS))
    champions = _load_champions(ctx)  # ModelMissing (exit 4) says to run `turbomode train`

    rule = _label_rule(cfg)
    open_now = store.active_signals(conn)
    start = min([_lookback_start(conn, session)] + [d for d in map(entry_date_of, open_now) if d])
    symbols = sorted(set(sector_of) | {s["symbol"] for s in open_now})
    progress("reading prices", 1, len(STEPS))
    panel = _read_panel(conn, symbols, start, session)
    panel = panel.assign(_day=_day_strings(panel["date"]))
    progress("features and probabilities", 2, len(STEPS))
    candidates, skipped = _candidates(panel, sector_of, session, champions, rule)
    bars = _bars_by_symbol(panel, {s["symbol"] for s in open_now})
    closes = _closes_at(panel, session)
    source = store.data_source(conn) or cfg["data.source"]
    expiry_date, expires_at = _expiry(conn, session, rule["horizon"])
    stamp = iso(now)

    progress("closing and emitting signals", 3, len(STEPS))
    with transaction(conn):
        # Re-read inside the transaction: what we close and keep is what is stored now.
        open_now = store.active_signals(conn)
        closures = []
        for sig in open_now:
            c = _closure_for(sig, bars.get(sig["symbol"], []), rule["horizon"], session)
            if c is not None:
                closures.append(c)
        closed_ids = {c.signal_id for c in closures}
        still_open = {s["symbol"]: s for s in open_now if s["id"] not in closed_ids}
        decision = decide(candidates, still_open, session, cfg["signals.min_confidence"])
        reversals = []
        for old, new in decision.reverse:
            basis = _scale(old, bars.get(old["symbol"], []))
            exit_price = closes[old["symbol"]] / basis
            reversals.append(store.Closure(old["id"], "reversed", session, exit_price,
                                           signed_return(old["signal_type"], old["entry_price"], exit_price)))
        touched = store.close_signals(conn, closures + reversals, stamp)
        store.insert_signals(conn, (_signal_row(c, rule, session, expiry_date, expires_at, stamp, source)
                                    for c in decision.emit))
        store.refresh_sector_stats(conn, touched, stamp)
        buy, sell = store.session_mix(conn, session)
    progress("done", len(STEPS), len(STEPS))

    outcomes: dict[str, int] = {}
    for c in closures + reversals:
        outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
    # A sector whose champion files are unusable is served by its previous champion (or gets no
    # signals): either way the run is partial, alerts, and `status` names the sector.
    problems = dict(getattr(champions, "problems", {}))
    warnings = list(problems.values())
    model_problems = _model_problems(conn, champions, problems)
    one_sided = one_sided_warning(buy, sell)
    if one_sided:
        warnings.append(one_sided)
    if skipped["history"]:
        warnings.append(f"{len(skipped['history'])} symbol(s) skipped for too little history: "
                        + ", ".join(skipped["history"][:20]) + (" ..." if len(skipped["history"]) > 20 else ""))
    report = _refresh_report(ctx, now, warnings) if cfg["signals.refresh_report"] else None
    summary = {
        "session": session,
        "data_source": source,
        "scanned": len(candidates),
        "emitted": len(decision.emit),
        "kept": len(decision.kept),
        "closed": outcomes,
        "session_signals": {"BUY": buy, "SELL": sell},
        "active": store.summary(conn)["total"],
        "skipped_history": skipped["history"],
        "skipped_no_bar": skipped["no_bar"],
        "skipped_no_model": skipped["no_model"],
        "one_sided": bool(one_sided),
        "model_problems": model_problems,
        "allow_stale": bool(options.get("allow_stale")),
        "as_of": options.get("as_of"),
        "warnings": warnings,
        "report": report,
        "seconds": timings,
    }
    closed_text = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "none"
    message = (f"scan {session}: {len(decision.emit)} new signal(s) ({buy} BUY, {sell} SELL this session), "
               f"closed: {closed_text}; {summary['active']} open; {len(candidates)} symbols scanned")
    if model_problems:
        unusable = sorted(s for s, m in model_problems.items() if m["using"] is None)
        fallback = sorted(s for s, m in model_problems.items() if m["using"] is not None)
        message += ("; no usable champion model for " + ", ".join(unusable) + " (no signals for it)" if unusable
                    else "") + ("; previous champion used for " + ", ".join(fallback) if fallback else "") + \
            "; run `turbomode train --sector <SECTOR>`"
    if source == "sample":
        message += " [SAMPLE DATA]"
    return TaskResult("partial" if model_problems else "succeeded", summary, message, warnings)


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


def _compute_features(panel, sector_of: dict[str, str]):
    from turbomode.ml.features import compute_features

    return compute_features(panel, sector_of)


def _predict(champions, features):
    """The champions' probabilities, on one thread: a scan predicts a few rows per model, where
    OpenMP's thread start-up and spin-waits cost far more than they save (14x on a busy 2-core box)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return champions.predict(features)


def _read_panel(conn, symbols: list[str], start: str, end: str):
    from turbomode.store.prices import read_panel

    return read_panel(conn, symbols=symbols, start=start, end=end, adjusted=True)


def _atr_last(panel, days: int):
    """symbol -> average true range at its last bar, exactly as the label rule computes it."""
    from turbomode.ml.features import atr, prepare_panel

    p = prepare_panel(panel)
    a = atr(p, days)
    last = p.assign(_atr=a.to_numpy()).groupby("symbol", sort=False).tail(1)
    return dict(zip(last["symbol"], last["_atr"].astype(float)))


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


def _candidates(panel, sector_of: dict[str, str], session: str, champions, rule: dict[str, Any]):
    """(candidates at the session, skipped lists) from features and the champion's probabilities.

    ``panel`` carries a ``_day`` column of YYYY-MM-DD text besides read_panel's columns.
    """
    import numpy as np

    skipped: dict[str, list[str]] = {"history": [], "no_bar": [], "no_model": []}
    universe_panel = panel[panel["symbol"].isin(list(sector_of))]
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
    atr = _atr_last(plain, rule["atr_days"])
    close = dict(zip(at_session["symbol"], at_session["close"].astype(float)))
    out = []
    for symbol, pb, ps, ph in zip(at.index.get_level_values("symbol"), probs["prob_buy"].to_numpy(),
                                  probs["prob_sell"].to_numpy(), probs["prob_hold"].to_numpy()):
        sector = sector_of[symbol]
        a = float(atr.get(symbol, np.nan))
        if not (np.isfinite(pb) and np.isfinite(ps)):
            skipped["no_model"].append(symbol)
            continue
        if not np.isfinite(a) or a <= 0:
            skipped["history"].append(symbol)
            continue
        out.append(Candidate(symbol, sector, close[symbol], a, float(pb), float(ps), float(ph),
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


def _closes_at(panel, session: str) -> dict[str, float]:
    at = panel[panel["_day"] == session]
    return dict(zip(at["symbol"], at["close"].astype(float)))


def _scale(signal: dict[str, Any], bars: list[Bar]) -> float:
    """Today's price basis relative to the signal's (1.0 unless history was re-adjusted since)."""
    entry = entry_date_of(signal)
    for b in bars:
        if b.date == entry and signal.get("entry_price"):
            return b.close / signal["entry_price"]
    return 1.0


def _closure_for(signal: dict[str, Any], bars: list[Bar], horizon: int, session: str):
    from turbomode.store.signals import Closure

    entry = entry_date_of(signal)
    if entry is None or not signal.get("entry_price"):
        return None
    after = [b for b in bars if entry < b.date <= session]
    found = evaluate(signal, after, horizon, session, _scale(signal, bars))
    if found is None:
        return None
    outcome, exit_date, exit_price = found
    return Closure(signal["id"], outcome, exit_date, exit_price,
                   signed_return(signal["signal_type"], signal["entry_price"], exit_price))


def _signal_row(c: Candidate, rule: dict[str, Any], session: str, expiry_date: str, expires_at: str,
                created_at: str, source: str) -> dict[str, Any]:
    target, stop = barrier_levels(c.close, c.atr, c.direction, rule["target_multiple"], rule["stop_multiple"])
    return {
        "symbol": c.symbol, "signal_type": c.direction, "confidence": round(c.confidence, 6),
        "entry_price": c.close, "target_price": target, "stop_loss": stop, "sector": c.sector,
        "created_at": created_at, "expires_at": expires_at, "market_date": session,
        "expiry_date": expiry_date, "model_version": c.model_version, "data_source": source,
        "prob_buy": c.prob_buy, "prob_sell": c.prob_sell, "prob_hold": c.prob_hold, "atr": c.atr,
    }
