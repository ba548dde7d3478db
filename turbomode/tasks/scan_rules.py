"""The scan's pure rules: how an open signal is filled and finished, and which candidates become signals.

They take plain values (no database, no model), so they are tested on their own; ``tasks/scan.py``
does the I/O and the one transaction around them.

A signal emitted for session D shows its **reference close** (D's close) and provisional target and
stop until D+1's bar exists; then it is **filled** at D+1's open, and its target and stop follow from
the fill (ml/labels.py: the trade rule labels, the backtest and this module share). It finishes at
the target, the stop or the horizon's last close exactly as a label does; its realised return is
net of the round-trip cost (backtest.commission_bps + backtest.slippage_bps per side).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence


@dataclass(frozen=True)
class Bar:
    date: str
    open: float
    high: float
    low: float
    close: float


def signed_return(direction: str, entry: float, exit_price: float) -> float:
    """Gross return of a position in ``direction`` (the labels' rule): a SELL gains when it falls."""
    from turbomode.ml.labels import realised_return

    return float(realised_return(direction, entry, exit_price))


def provisional_levels(reference: float, sigma: float, direction: str, cfg: Any) -> tuple[float, float]:
    """(target, stop) shown before the fill: the trade rule's levels around the reference close."""
    from turbomode.ml.labels import levels

    target, stop = levels(reference, sigma, direction, cfg)
    return float(target), float(stop)


@dataclass(frozen=True)
class Settlement:
    """What the bars since a signal's session did to it: a fill, an ending, or both."""

    fill: tuple[str, float, float, float] | None = None  # (date, price, target, stop), when newly filled
    outcome: str | None = None  # target | stop | expired | unfilled; None while open
    exit_date: str | None = None
    exit_price: float | None = None
    realized_return: float | None = None


def entry_date_of(signal: dict[str, Any]) -> str | None:
    """The session a signal was emitted for (rows adopted from the seed only have created_at)."""
    d = signal.get("market_date") or (signal.get("created_at") or "")[:10]
    return d or None


def settle(signal: dict[str, Any], bars_after: Sequence[Bar], session: str, cfg: Any, cost: float = 0.0,
           scale: float = 1.0) -> Settlement:
    """Fill and/or finish an open ``signal`` from its symbol's bars after its session (up to ``session``).

    ``scale``: today's price basis over the signal's (bars re-adjusted after a split or dividend are
    compared on the signal's own basis). ``cost``: the round trip, charged on the realised return.
    A signal whose fill bar never came (the symbol stopped trading) ends 'unfilled' once its expiry
    session has passed; one that was filled but stopped trading expires at its last close then.
    Signals adopted from the old system (no price basis) were entered at their session's close with
    fixed levels: the same rule runs from the first bar after it.
    """
    import numpy as np

    from turbomode.ml.labels import EXPIRED, OUTCOMES, PENDING, STOP, TARGET, LabelParams, trade_outcomes

    p = LabelParams.from_config(cfg)
    side = signal["signal_type"]
    window = np.full((4, p.horizon_days), np.nan)
    for k, bar in enumerate(bars_after[: p.horizon_days]):
        window[:, k] = (bar.open / scale, bar.high / scale, bar.low / scale, bar.close / scale)
    basis = signal.get("price_basis")
    entered = None
    if basis not in ("close", "fill"):  # adopted: already entered at its close with fixed levels
        entered = (signal["entry_price"], signal["target_price"], signal["stop_loss"])
    sigma = signal.get("sigma") if signal.get("sigma") is not None else np.nan
    r = trade_outcomes(*window[:, :, None], np.array([sigma], dtype=float), side, p,
                       entered=None if entered is None else tuple(np.array([v], dtype=float) for v in entered))
    outcome = int(r["outcome"][0])
    expiry = signal.get("expiry_date")
    expired_calendar = bool(expiry) and session > expiry
    if outcome == PENDING:
        if expired_calendar:
            ref = signal.get("reference_price") or signal.get("entry_price")
            return Settlement(outcome="unfilled", exit_date=session, exit_price=ref, realized_return=0.0)
        return Settlement()
    fill = None
    fill_price = float(r["fill"][0])
    if entered is None and basis != "fill":
        fill = (bars_after[0].date, fill_price, float(r["target"][0]), float(r["stop"][0]))
    if outcome in (TARGET, STOP, EXPIRED) or expired_calendar:
        k = int(r["exit_k"][0])
        name = OUTCOMES[outcome] if outcome in (TARGET, STOP, EXPIRED) else "expired"
        exit_price = float(r["exit_price"][0])
        gross = signed_return(side, fill_price, exit_price)
        # an adopted signal with no bar after its session at all ends where it began
        exit_date = bars_after[k].date if bars_after else entry_date_of(signal)
        return Settlement(fill, name, exit_date, exit_price, gross - cost)
    return Settlement(fill)


def basis_scale(signal: dict[str, Any], close_at_session: float | None) -> float:
    """Today's price basis over the signal's: its session's close as stored now over the close it
    was emitted at (1.0 unless history was re-adjusted since, e.g. after a split)."""
    ref = signal.get("reference_price") or (signal.get("entry_price") if signal.get("price_basis") is None else None)
    return close_at_session / ref if close_at_session and ref else 1.0


def settle_signal(signal: dict[str, Any], bars_after: Sequence[Bar], session: str, cfg: Any, cost: float,
                  scale: float = 1.0):
    """``settle`` as the store's rows: (Fill or None, Closure or None) for one open signal."""
    from turbomode.store.signals import Closure, Fill

    st = settle(signal, bars_after, session, cfg, cost, scale)
    fill = Fill(signal["id"], *st.fill) if st.fill else None
    closure = None
    if st.outcome is not None:
        closure = Closure(signal["id"], st.outcome, st.exit_date, st.exit_price, st.realized_return)
    return fill, closure


@dataclass(frozen=True)
class Candidate:
    """The model's view of one symbol at the session."""

    symbol: str
    sector: str
    close: float
    atr: float
    sigma: float
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
    kept: list[str] = field(default_factory=list)  # symbols whose open signal stays (same side or this session)
    held: list[str] = field(default_factory=list)  # opposite signals not emitted: the symbol holds a position


def decide(candidates: Iterable[Candidate], open_by_symbol: dict[str, dict[str, Any]], session: str,
           min_confidence: float) -> Decision:
    """Which candidates become signals. At most one open signal per symbol:

    no signal by the signal rule (``ml.metrics.signal_side``: BUY or SELL probability below the
    threshold or below HOLD's) -> nothing (an open signal stays); an open signal for the symbol ->
    it stays and nothing new is emitted ('kept' when it points the same way or was emitted for
    this session, 'held' when the model now points the other way). The backtest applies the same
    one-position rule, so what it measures is what these signals can do.
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
            out.held.append(c.symbol)
    return out


def one_sided_warning(buy: int, sell: int, what: str = "the session's {total} signals") -> str | None:
    """The signal-mix warning (``ml.metrics.one_sided_text``: more than 90% of at least 10 one way)."""
    from turbomode.ml.metrics import one_sided_text

    return one_sided_text(buy, sell, what)
