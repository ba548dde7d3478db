"""The triple-barrier label rule, shared by training labels and live signals.

The rule (one definition, used by `train` for labels and by `scan` for live targets, stops and
expiries):

* From a day's close C with average true range A (``features.atr`` over labels.atr_days bars,
  known at that close), each side is a trade with a target and a stop:
  BUY:  target = C + target_multiple * A,  stop = C - stop_multiple * A
  SELL: target = C - target_multiple * A,  stop = C + stop_multiple * A
* The trade is watched on the next ``horizon_days`` bars (t+1 .. t+horizon). A bar *touches* a
  level when its [low, high] range reaches it. The first bar touching the target or the stop
  decides; a bar touching both counts as the stop. No touch by the last bar: the trade expires.
* Label: BUY when the BUY trade reaches its target, SELL when the SELL trade reaches its target,
  HOLD otherwise. With target_multiple >= stop_multiple (the default 2 and 1) the two cannot both
  win; with a nearer target they can, and the earlier target wins (the same bar: HOLD).

Why the mirrored sides rather than "BUY if the upper level is touched first, SELL if the lower":
with asymmetric multiples that rule makes SELL twice as likely as BUY on a pure random walk, so
a calibrated model would emit almost only SELL signals — the old system's failure. Mirrored
sides keep BUY and SELL symmetric, and a live signal's outcome (target / stop / expired) is
exactly its label, so a signal's confidence is the probability that it hits its target.

Only days whose whole horizon is known are labelled.
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
                "horizon_days": self.horizon_days, "atr_days": self.atr_days}


def barriers(close: Any, atr: Any, side: str, cfg: Any) -> tuple[Any, Any]:
    """(target, stop) of a ``side`` ('BUY' or 'SELL') trade entered at ``close``.

    ``close`` and ``atr`` may be numbers or arrays; ``cfg`` is a Config or LabelParams.
    """
    p = LabelParams.from_config(cfg)
    if side == "BUY":
        return close + p.target_multiple * atr, close - p.stop_multiple * atr
    if side == "SELL":
        return close - p.target_multiple * atr, close + p.stop_multiple * atr
    raise ValueError(f"side must be BUY or SELL, not {side!r}")


def touches(side: str, high: Any, low: Any, target: Any, stop: Any) -> tuple[Any, Any]:
    """(target touched, stop touched) on a bar with ``high``/``low``; both true means a stop."""
    if side == "BUY":
        return high >= target, low <= stop
    return low <= target, high >= stop


def realised_return(side: str, entry: Any, exit_price: Any) -> Any:
    """Return of the trade: long gains when the price rises, short when it falls."""
    return exit_price / entry - 1.0 if side == "BUY" else 1.0 - exit_price / entry


def atr_last(panel: "pd.DataFrame", days: int) -> "pd.Series":
    """Each symbol's ATR at its last bar (index: symbol), as the label rule computes it."""
    from turbomode.ml.features import atr as atr_fn, prepare_panel

    p = prepare_panel(panel)
    a = atr_fn(p, days)
    last = ~p["symbol"].duplicated(keep="last")
    return a[last.to_numpy()].set_axis(p.loc[last, "symbol"].to_numpy()).rename("atr")


def expiry_session(entry: _dt.date | str, cfg: Any, sessions: Sequence[Any] | None = None) -> _dt.date:
    """The last session a trade entered at the close of ``entry`` is open: ``horizon_days`` sessions later.

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


def triple_barrier(panel: "pd.DataFrame", cfg: Any) -> "pd.DataFrame":
    """Labels for every (symbol, date) of ``panel`` whose full horizon is known.

    Returns columns: symbol, date, entry_price, atr, label (BUY/SELL/HOLD), label_id (0/1/2),
    target, stop (of the labelled side; HOLD rows carry the BUY side's), exit_date, exit_price,
    return_pct, bars (bars until the exit). Vectorised over the horizon offsets with numpy.
    """
    import numpy as np
    import pandas as pd

    from turbomode.ml.features import atr as atr_fn, prepare_panel

    p = LabelParams.from_config(cfg)
    panel = prepare_panel(panel)
    n = len(panel)
    h_ = p.horizon_days
    close = panel["close"].to_numpy()
    high = panel["high"].to_numpy()
    low = panel["low"].to_numpy()
    a = atr_fn(panel, p.atr_days).to_numpy()
    codes = pd.factorize(panel["symbol"])[0]
    dates = panel["date"].to_numpy()

    never = h_ + 1
    first = {(side, what): np.full(n, never, dtype=np.int16) for side in SIDES for what in ("t", "s")}
    levels = {side: barriers(close, a, side, p) for side in SIDES}
    complete = np.zeros(n, dtype=bool)
    idx0 = np.arange(n)
    for k in range(1, h_ + 1):
        j = idx0 + k
        ok = j < n
        j = np.where(ok, j, n - 1)
        ok &= codes[j] == codes
        if k == h_:
            complete = ok
        for side in SIDES:
            tgt, stp = levels[side]
            hit_t, hit_s = touches(side, high[j], low[j], tgt, stp)
            for what, hit in (("t", hit_t), ("s", hit_s)):
                f = first[(side, what)]
                f[(f == never) & hit & ok] = k

    keep = complete & np.isfinite(a) & (a > 0)
    bt, bs = first[("BUY", "t")], first[("BUY", "s")]
    st, ss = first[("SELL", "t")], first[("SELL", "s")]
    buy_win = bt < bs  # a bar touching both counts as the stop (equal offsets lose)
    sell_win = st < ss
    both = buy_win & sell_win
    buy = buy_win & ~(both & (st <= bt))
    sell = sell_win & ~(both & (bt <= st))
    label_id = np.where(buy, 0, np.where(sell, 1, 2)).astype(np.int8)

    bars = np.where(buy, bt, np.where(sell, st, h_)).astype(np.int64)
    exit_idx = np.minimum(idx0 + bars, n - 1)
    target = np.where(sell, levels["SELL"][0], levels["BUY"][0])
    stop = np.where(sell, levels["SELL"][1], levels["BUY"][1])
    exit_price = np.where(buy | sell, target, close[exit_idx])
    ret = np.where(sell, realised_return("SELL", close, exit_price), realised_return("BUY", close, exit_price))

    out = pd.DataFrame({
        "symbol": panel["symbol"].to_numpy(),
        "date": dates,
        "entry_price": close,
        "atr": a,
        "label_id": label_id,
        "target": target,
        "stop": stop,
        "exit_date": dates[exit_idx],
        "exit_price": exit_price,
        "return_pct": ret,
        "bars": bars,
    })[keep]
    out.insert(4, "label", np.asarray(CLASSES, dtype=object)[out["label_id"].to_numpy()])
    return out.reset_index(drop=True)


def trade_rows(labels: "pd.DataFrame", sectors: dict[str, str], cfg: Any, created_at: str):
    """Rows for the ``trades`` table (store.trades.COLUMNS order) from ``triple_barrier`` output.

    label_params holds the rule's knobs compactly: {"tm": target multiple, "sm": stop multiple,
    "h": horizon, "atr": ATR days}.
    """
    import json

    import pandas as pd

    p = LabelParams.from_config(cfg)
    params = json.dumps({"tm": p.target_multiple, "sm": p.stop_multiple, "h": p.horizon_days, "atr": p.atr_days},
                        separators=(",", ":"))
    out = pd.DataFrame({
        "symbol": labels["symbol"],
        "sector": labels["symbol"].map(sectors),
        "entry_date": labels["date"].dt.strftime("%Y-%m-%d"),
        "entry_price": labels["entry_price"].astype(float),
        "target_price": labels["target"].astype(float),
        "stop_price": labels["stop"].astype(float),
        "horizon_days": p.horizon_days,
        "exit_date": labels["exit_date"].dt.strftime("%Y-%m-%d"),
        "exit_price": labels["exit_price"].astype(float),
        "outcome": labels["label"],
        "return_pct": labels["return_pct"].astype(float),
        "label_params": params,
        "created_at": created_at,
    })
    return out.itertuples(index=False, name=None)
