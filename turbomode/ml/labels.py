"""The trade rule: how a signal is entered, where its target and stop sit, and how it ends.

One rule, used by training labels, the live signals `scan` opens and closes, the walk-forward
backtest and the sample market's oracle (``trade_outcomes`` is the only place it is written):

* A signal is formed at the close of session D (the nightly scan runs after it). The earliest real
  fill is the **open of the next bar** (D+1): that open is the entry.
* Volatility is known at D: ``sigma`` is the average true range in log terms over ``atr_days``
  bars ending at D (``features.log_atr``): a relative distance that means the same after a rise
  as after a fall.
* Target and stop follow from the fill and are **symmetric in log price**:
  BUY:  target = fill x exp(+target_multiple x sigma), stop = fill x exp(-stop_multiple x sigma)
  SELL: target = fill x exp(-target_multiple x sigma), stop = fill x exp(+stop_multiple x sigma)
  so on a random walk in log price a BUY and a SELL have the same chance (fixed price distances,
  close +- k x ATR, put the upper level nearer in log terms: a built-in BUY tilt).
* The trade is watched on ``horizon_days`` bars, the fill bar D+1 included. A bar *touches* a level
  when its [low, high] range reaches it. The first bar touching the target or the stop decides:
  from D+2 on, an open beyond a level fills that level's outcome at the open (a gap; on D+1 the
  open is the fill itself, so the levels move with a gap); otherwise a bar touching both counts as
  the stop (the order within a day is unknown); otherwise the level touched fills at its price.
  No touch by the last bar: the trade expires at that bar's close.
* Label of session D: BUY when the BUY trade reaches its target, SELL when the SELL trade does, HOLD
  otherwise. With target_multiple >= stop_multiple the two cannot both win; with a nearer target
  they can, and the earlier target wins (the same bar: HOLD). So a live signal's outcome (target /
  stop / expired) is exactly its label, and its confidence is the probability it hits its target.
* Costs (commission + slippage per side) are charged on returns by the backtest and by scan's
  realised returns; labels are about the path and carry none.

Bars, not sessions: a symbol's horizon is its next ``horizon_days`` bars; a symbol with a missing
session simply takes longer. Only rows whose whole horizon is known are labelled; ``horizon_end``
(the date of the last bar the label could read) lets training embargo per symbol.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CLASSES: tuple[str, ...] = ("BUY", "SELL", "HOLD")
CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}
SIDES = ("BUY", "SELL")

# Outcome codes of ``trade_outcomes``.
PENDING, OPEN, TARGET, STOP, EXPIRED = range(5)
OUTCOMES = ("pending", "open", "target", "stop", "expired")
_BLOCK = 65_536  # rows per vectorised block when labelling a long panel


@dataclass(frozen=True)
class LabelParams:
    target_multiple: float = 2.0
    stop_multiple: float = 1.0
    horizon_days: int = 10
    atr_days: int = 14

    @classmethod
    def from_config(cls, cfg: Any) -> "LabelParams":
        if isinstance(cfg, LabelParams):
            return cfg
        return cls(float(cfg["labels.target_multiple"]), float(cfg["labels.stop_multiple"]),
                   int(cfg["labels.horizon_days"]), int(cfg["labels.atr_days"]))

    def as_dict(self) -> dict[str, Any]:
        return {"target_multiple": self.target_multiple, "stop_multiple": self.stop_multiple,
                "horizon_days": self.horizon_days, "atr_days": self.atr_days, "fill": "next open",
                "levels": "fill x exp(+-multiple x ATR/close)"}


def _sign(side: str) -> float:
    if side == "BUY":
        return 1.0
    if side == "SELL":
        return -1.0
    raise ValueError(f"side must be BUY or SELL, not {side!r}")


def levels(fill: Any, sigma: Any, side: str, cfg: Any) -> tuple[Any, Any]:
    """(target, stop) of a ``side`` trade filled at ``fill`` with relative volatility ``sigma``.

    Numbers or arrays; ``cfg`` is a Config or LabelParams. Symmetric in log price.
    """
    import numpy as np

    p = LabelParams.from_config(cfg)
    s = _sign(side)
    return fill * np.exp(s * p.target_multiple * sigma), fill * np.exp(-s * p.stop_multiple * sigma)


def realised_return(side: str, entry: Any, exit_price: Any) -> Any:
    """Gross return of the trade: long gains when the price rises, short when it falls."""
    return exit_price / entry - 1.0 if side == "BUY" else 1.0 - exit_price / entry


def relative_vol(high: Any, low: Any, close: Any, days: int) -> Any:
    """The trade rule's sigma along axis 0 of (sessions, ...) arrays with no missing bars (the
    oracle's grid): the same numbers as ``features.log_atr`` of such a panel; NaN until ``days``
    bars are known.
    """
    import numpy as np

    lh, ll, lc = (np.log(np.asarray(a, dtype=float)) for a in (high, low, close))
    lp = np.concatenate([np.full((1, *lc.shape[1:]), np.nan), lc[:-1]], axis=0)
    tr = np.fmax(lh - ll, np.fmax(np.abs(lh - lp), np.abs(ll - lp)))
    csum = np.cumsum(np.concatenate([np.zeros((1, *tr.shape[1:])), tr], axis=0), axis=0)
    out = np.full(tr.shape, np.nan)
    if len(tr) >= days:
        out[days - 1:] = (csum[days:] - csum[:-days]) / days
    return out


def trade_outcomes(open_: Any, high: Any, low: Any, close: Any, sigma: Any, side: str, cfg: Any, *,
                   entered: Any = None) -> dict[str, Any]:
    """THE trade rule, vectorised: how a ``side`` trade signalled at a close ends.

    ``open_``, ``high``, ``low``, ``close``: (horizon, ...) arrays of the bars after the signal's
    session, row 0 being the fill bar; NaN where a bar is not known (yet). ``sigma``: (...) the
    volatility at the signal's close. Returns arrays over the trailing axes: ``filled`` (the fill
    bar is known), ``fill``, ``target``, ``stop``, ``outcome`` (PENDING, OPEN, TARGET, STOP,
    EXPIRED), ``exit_k`` (row of the exit bar, or of the last known bar while open; -1 while
    pending) and ``exit_price`` (the close of that bar while open: a mark).

    ``entered``: (fill, target, stop) of a trade that was already entered before row 0 (signals
    adopted from the old system, entered at their signal's close with fixed levels): the same
    touches, gaps from row 0 on, the same expiry.
    """
    import numpy as np

    p = LabelParams.from_config(cfg)
    o, h, lo, c = (np.asarray(a, dtype=float) for a in (open_, high, low, close))
    if o.shape[0] != p.horizon_days:
        raise ValueError(f"expected {p.horizon_days} bars (the horizon), got {o.shape[0]}")
    s = _sign(side)
    if entered is None:
        fill = o[0]
        target, stop = levels(fill, np.asarray(sigma, dtype=float), side, p)
    else:
        fill, target, stop = (np.broadcast_to(np.asarray(a, dtype=float), o.shape[1:]) for a in entered)
    filled = np.isfinite(fill)
    best, worst = (h, lo) if s > 0 else (lo, h)
    with np.errstate(invalid="ignore"):
        hit_t = s * best >= s * target
        hit_s = s * worst <= s * stop
        gap_t = s * o >= s * target
        gap_s = s * o <= s * stop
    if entered is None:
        gap_t[0] = False  # the fill bar opens at the fill: levels are set from it
        gap_s[0] = False
    touched = hit_t | hit_s | gap_t | gap_s
    has = touched.any(axis=0) & filled
    first = touched.argmax(axis=0)
    take = lambda a: np.take_along_axis(a, first[None], axis=0)[0]  # noqa: E731
    g_s, g_t, h_s = take(gap_s), take(gap_t), take(hit_s)
    is_stop = has & (g_s | (~g_t & h_s))
    is_target = has & ~is_stop
    hit_price = np.where(g_s | g_t, take(o), np.where(is_stop, stop, target))

    known = np.isfinite(c)
    last_known = np.maximum(known.sum(axis=0) - 1, 0)
    complete = known[-1]
    mark = np.take_along_axis(c, last_known[None], axis=0)[0]
    if entered is not None:  # entered earlier: nothing is pending, a first bar may still be missing
        mark = np.where(known.any(axis=0), mark, fill)
    outcome = np.where(~filled, PENDING, np.where(is_target, TARGET, np.where(is_stop, STOP,
                       np.where(complete, EXPIRED, OPEN)))).astype(np.int8)
    exit_k = np.where(~filled, -1, np.where(has, first, np.where(complete, p.horizon_days - 1, last_known)))
    exit_price = np.where(has, hit_price, np.where(filled, mark, np.nan))
    return {"filled": filled, "fill": fill, "target": target, "stop": stop, "outcome": outcome,
            "exit_k": exit_k.astype(np.int64), "exit_price": exit_price}


def atr_last(panel: "pd.DataFrame", days: int) -> "pd.Series":
    """Each symbol's ATR at its last bar (index: symbol), as the label rule computes it."""
    from turbomode.ml.features import atr as atr_fn, prepare_panel

    p = prepare_panel(panel)
    a = atr_fn(p, days)
    last = ~p["symbol"].duplicated(keep="last")
    return a[last.to_numpy()].set_axis(p.loc[last, "symbol"].to_numpy()).rename("atr")


def expiry_session(entry: _dt.date | str, cfg: Any, sessions: Sequence[Any] | None = None) -> _dt.date:
    """The last session of a trade signalled at the close of ``entry``: ``horizon_days`` sessions later.

    ``sessions``: the market's sorted session dates (dates, ISO strings or Timestamps), e.g. the
    dates of the price panel. When they do not reach far enough, the NYSE calendar
    (exchange_calendars XNYS) supplies the future sessions.
    """
    horizon = LabelParams.from_config(cfg).horizon_days if not isinstance(cfg, int) else cfg
    day = _as_date(entry)
    if sessions is not None and len(sessions):
        import bisect

        days = [_as_date(s) for s in sessions]
        i = bisect.bisect_right(days, day) - 1  # the entry, or the last session before it
        if i >= 0 and i + horizon < len(days):
            return days[i + horizon]
    import exchange_calendars as xcals
    import pandas as pd

    cal = xcals.get_calendar("XNYS")
    ts = pd.Timestamp(day)
    start = cal.date_to_session(ts, direction="previous") if ts >= cal.first_session else cal.first_session
    return cal.session_offset(start, horizon).date()


def _as_date(x: Any) -> _dt.date:
    if isinstance(x, _dt.datetime):
        return x.date()
    if isinstance(x, _dt.date):
        return x
    if hasattr(x, "date") and callable(x.date):  # pandas Timestamp / numpy datetime64 via pandas
        return x.date()
    return _dt.date.fromisoformat(str(x)[:10])


def panel_trades(panel: "pd.DataFrame", cfg: Any) -> dict[str, Any]:
    """Both sides' trades from every row of a long price panel, by ``trade_outcomes``.

    Returns the prepared ``panel`` (sorted by symbol, date), ``sigma`` per row, and per side a dict
    of row arrays: outcome, target, stop, fill, fill_idx (panel row of the fill bar), exit_idx
    (panel row of the exit bar; -1 while pending), exit_price; plus ``horizon_idx`` (panel row of
    the horizon's last bar, -1 when not yet known).
    """
    import numpy as np
    import pandas as pd

    from turbomode.ml.features import log_atr, prepare_panel

    p = LabelParams.from_config(cfg)
    panel = prepare_panel(panel)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = log_atr(panel, p.atr_days).to_numpy()
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, np.nan)
    cols = {c: panel[c].to_numpy() for c in ("open", "high", "low", "close")}
    codes = pd.factorize(panel["symbol"])[0]
    n, hz = len(panel), p.horizon_days
    out: dict[str, Any] = {"panel": panel, "sigma": sigma}
    side_out = {side: {k: np.empty(n, dtype=dt) for k, dt in
                       (("outcome", np.int8), ("target", float), ("stop", float), ("fill", float),
                        ("fill_idx", np.int64), ("exit_idx", np.int64), ("exit_price", float))}
                for side in SIDES}
    horizon_idx = np.full(n, -1, dtype=np.int64)
    k = np.arange(1, hz + 1)
    for lo in range(0, n, _BLOCK):
        rows = np.arange(lo, min(n, lo + _BLOCK))
        j = rows[None, :] + k[:, None]  # (horizon, rows)
        ok = j < n
        j = np.minimum(j, n - 1)
        ok &= codes[j] == codes[rows][None, :]
        bars = {c: np.where(ok, a[j], np.nan) for c, a in cols.items()}
        horizon_idx[rows] = np.where(ok[-1], j[-1], -1)
        for side in SIDES:
            r = trade_outcomes(bars["open"], bars["high"], bars["low"], bars["close"], sigma[rows], side, p)
            d = side_out[side]
            d["outcome"][rows] = r["outcome"]
            d["target"][rows], d["stop"][rows], d["fill"][rows] = r["target"], r["stop"], r["fill"]
            d["fill_idx"][rows] = np.where(r["filled"], rows + 1, -1)
            d["exit_idx"][rows] = np.where(r["exit_k"] >= 0, rows + 1 + r["exit_k"], -1)
            d["exit_price"][rows] = r["exit_price"]
    out.update(side_out)
    out["horizon_idx"] = horizon_idx
    return out


def barrier_exits(panel: "pd.DataFrame", cfg: Any, side: str) -> "pd.DataFrame":
    """How each labelled day's ``side`` trade ends: symbol, date, fill_date, fill, target, stop,
    outcome ('target' / 'stop' / 'expired'), bars (held, the fill bar being 1), exit_date, exit_price."""
    import numpy as np
    import pandas as pd

    t = panel_trades(panel, cfg)
    d, dates = t[side], t["panel"]["date"].to_numpy()
    keep = _complete(t)
    out = pd.DataFrame({
        "symbol": t["panel"]["symbol"].to_numpy(), "date": dates,
        "fill_date": dates[np.maximum(d["fill_idx"], 0)], "fill": d["fill"], "target": d["target"],
        "stop": d["stop"], "outcome": np.asarray(OUTCOMES, dtype=object)[d["outcome"]],
        "bars": d["exit_idx"] - np.arange(len(dates)), "exit_date": dates[np.maximum(d["exit_idx"], 0)],
        "exit_price": d["exit_price"],
    })
    return out[keep].reset_index(drop=True)


def _complete(t: dict[str, Any]) -> Any:
    """Rows whose both sides are decided over a fully known horizon and whose sigma is known."""
    import numpy as np

    done = lambda side: np.isin(t[side]["outcome"], (TARGET, STOP, EXPIRED))  # noqa: E731
    return (t["horizon_idx"] >= 0) & done("BUY") & done("SELL") & np.isfinite(t["sigma"])


def triple_barrier(panel: "pd.DataFrame", cfg: Any, trades: dict[str, Any] | None = None) -> "pd.DataFrame":
    """Labels for every (symbol, date) of ``panel`` whose full horizon is known.

    Columns: symbol, date, close (the signal session's close), entry_price (the fill), sigma,
    label (BUY/SELL/HOLD), label_id (0/1/2), target, stop (of the labelled side; HOLD rows carry
    the BUY side's), fill_date, exit_date, exit_price (HOLD: the horizon's last close),
    return_pct (gross, from the fill; HOLD: as a BUY held to that close), ret_buy
    and ret_sell (the gross return of each side's trade, whatever the label), bars (held, the
    fill bar being 1), horizon_end (the horizon's last bar). ``trades``: ``panel_trades`` of the
    same panel, when already computed.
    """
    import numpy as np
    import pandas as pd

    p = LabelParams.from_config(cfg)
    t = trades if trades is not None else panel_trades(panel, p)
    panel = t["panel"]
    n = len(panel)
    rows = np.arange(n)
    b, s = t["BUY"], t["SELL"]
    buy_win, sell_win = b["outcome"] == TARGET, s["outcome"] == TARGET
    bt_, st_ = b["exit_idx"], s["exit_idx"]
    both = buy_win & sell_win
    buy = buy_win & ~(both & (st_ <= bt_))
    sell = sell_win & ~(both & (bt_ <= st_))
    label_id = np.where(buy, 0, np.where(sell, 1, 2)).astype(np.int8)
    pick = lambda key: np.where(sell, s[key], b[key])  # noqa: E731  (HOLD rows: the BUY side's levels)
    hold = ~(buy | sell)
    horizon_idx = t["horizon_idx"]
    exit_idx = np.where(hold, horizon_idx, pick("exit_idx"))  # HOLD: the horizon's last close
    exit_price = np.where(hold, panel["close"].to_numpy()[np.maximum(horizon_idx, 0)], pick("exit_price"))
    fill = b["fill"]
    ret = np.where(sell, realised_return("SELL", fill, exit_price), realised_return("BUY", fill, exit_price))
    dates = panel["date"].to_numpy()
    safe = lambda idx: dates[np.maximum(idx, 0)]  # noqa: E731
    out = pd.DataFrame({
        "symbol": panel["symbol"].to_numpy(),
        "date": dates,
        "close": panel["close"].to_numpy(),
        "entry_price": fill,
        "sigma": t["sigma"],
        "label_id": label_id,
        "target": pick("target"),
        "stop": pick("stop"),
        "fill_date": safe(b["fill_idx"]),
        "exit_date": safe(exit_idx),
        "exit_price": exit_price,
        "return_pct": ret,
        "ret_buy": realised_return("BUY", fill, b["exit_price"]),
        "ret_sell": realised_return("SELL", fill, s["exit_price"]),
        "bars": exit_idx - rows,
        "horizon_end": safe(t["horizon_idx"]),
    })[_complete(t)]
    out.insert(5, "label", np.asarray(CLASSES, dtype=object)[out["label_id"].to_numpy()])
    return out.reset_index(drop=True)


def trade_rows(labels: "pd.DataFrame", sectors: dict[str, str], cfg: Any, created_at: str):
    """Rows for the ``trades`` table (store.trades.COLUMNS order) from ``triple_barrier`` output.

    entry_date is the fill's session (the signal's session + 1 bar), signal_date the session the
    label belongs to. label_params holds the rule's knobs compactly: {"tm": target multiple,
    "sm": stop multiple, "h": horizon, "atr": ATR days, "fill": "open"}.
    """
    import json

    import pandas as pd

    p = LabelParams.from_config(cfg)
    params = json.dumps({"tm": p.target_multiple, "sm": p.stop_multiple, "h": p.horizon_days, "atr": p.atr_days,
                         "fill": "open"}, separators=(",", ":"))
    n = len(labels)

    def days(col: str) -> list[str]:
        # a few thousand distinct sessions in a million rows: format each once
        codes, uniques = pd.factorize(labels[col])
        text = [*pd.DatetimeIndex(uniques).strftime("%Y-%m-%d").tolist(), None]  # code -1: no date
        return [text[c] for c in codes.tolist()]

    symbols = labels["symbol"].tolist()
    columns = [
        symbols,
        [sectors.get(s) for s in symbols],
        days("fill_date"),
        labels["entry_price"].to_numpy(dtype=float).tolist(),
        labels["target"].to_numpy(dtype=float).tolist(),
        labels["stop"].to_numpy(dtype=float).tolist(),
        [p.horizon_days] * n,
        days("exit_date"),
        labels["exit_price"].to_numpy(dtype=float).tolist(),
        labels["label"].tolist(),
        labels["return_pct"].to_numpy(dtype=float).tolist(),
        [params] * n,
        [created_at] * n,
        days("date"),
    ]
    # plain Python lists zipped: iterating pandas' extension arrays row by row costs ~10 us a value
    return zip(*columns)
