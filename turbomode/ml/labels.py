"""The triple-barrier label rule, shared by training labels and live signals.

The rule (one definition, used by `train` for labels and by `scan` for live targets, stops and
expiries):

* From a day's close C with average true range A (``features.atr`` over labels.atr_days bars,
  known at that close), each side is a trade with a target and a stop:
  BUY:  target = C + target_multiple * A,  stop = C - stop_multiple * A
  SELL: target = C - target_multiple * A,  stop = C + stop_multiple * A
* The trade is watched on the next ``horizon_days`` bars (t+1 .. t+horizon). A bar *touches* a
  level when its [low, high] range reaches it. The first bar touching the target or the stop
  decides: an open beyond a barrier fills that barrier at the open (a gap through the target wins
  even when the bar later falls to the stop); otherwise a bar touching both counts as the stop.
  No touch by the last bar: the trade expires. ml/backtest.py and scan's closing use this rule.
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


def _side_exits(open_: Any, high: Any, low: Any, close: Any, codes: Any, target: Any, stop: Any, side: str,
                horizon: int) -> dict[str, Any]:
    """Each row's ``side`` trade watched over its symbol's next ``horizon`` bars (numpy arrays).

    The exit rule (ml/backtest.py and scan's closing apply the same): at the first bar whose range
    reaches a barrier, an open beyond a barrier fills that barrier's outcome at the open; otherwise a
    bar reaching both counts as the stop; otherwise the barrier reached fills at its price. No touch:
    the trade expires at the close of the last bar.

    Returns arrays: bars (bars until the exit), target / stop (bool outcome), exit_idx, exit_price,
    complete (the whole horizon is known).
    """
    import numpy as np

    n = len(close)
    never = horizon + 1
    first_t = np.full(n, never, dtype=np.int16)
    first_s = np.full(n, never, dtype=np.int16)
    complete = np.zeros(n, dtype=bool)
    idx0 = np.arange(n)
    for k in range(1, horizon + 1):
        j = idx0 + k
        ok = j < n
        j = np.where(ok, j, n - 1)
        ok &= codes[j] == codes
        if k == horizon:
            complete = ok
        hit_t, hit_s = touches(side, high[j], low[j], target, stop)
        first_t[(first_t == never) & hit_t & ok] = k
        first_s[(first_s == never) & hit_s & ok] = k
    first = np.minimum(first_t, first_s)
    has = first < never
    bars = np.where(has, first, horizon).astype(np.int64)
    exit_idx = np.minimum(idx0 + bars, n - 1)
    opn = open_[exit_idx]
    sign = 1.0 if side == "BUY" else -1.0
    gap_stop, gap_target = sign * opn <= sign * stop, sign * opn >= sign * target
    is_stop = has & (gap_stop | ((first_s == first) & ~gap_target))
    is_target = has & ~is_stop
    price = np.where(gap_stop | gap_target, opn, np.where(is_stop, stop, target))
    exit_price = np.where(has, price, close[exit_idx])
    return {"bars": bars, "target": is_target, "stop": is_stop, "exit_idx": exit_idx,
            "exit_price": exit_price, "complete": complete}


def _prepared(panel: "pd.DataFrame", p: LabelParams) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from turbomode.ml.features import atr as atr_fn, prepare_panel

    panel = prepare_panel(panel)
    a = atr_fn(panel, p.atr_days).to_numpy()
    close = panel["close"].to_numpy()
    arrays = {c: panel[c].to_numpy() for c in ("open", "high", "low")}
    codes = pd.factorize(panel["symbol"])[0]
    levels = {side: barriers(close, a, side, p) for side in SIDES}
    exits = {side: _side_exits(arrays["open"], arrays["high"], arrays["low"], close, codes, *levels[side], side,
                               p.horizon_days)
             for side in SIDES}
    keep = exits["BUY"]["complete"] & np.isfinite(a) & (a > 0)
    return {"panel": panel, "atr": a, "close": close, "exits": exits, "keep": keep, "levels": levels}


def barrier_exits(panel: "pd.DataFrame", cfg: Any, side: str) -> "pd.DataFrame":
    """How each labelled day's ``side`` trade ends: symbol, date, target, stop, outcome
    ('target' / 'stop' / 'expired'), bars, exit_date, exit_price (the rule of ``_side_exits``)."""
    import numpy as np
    import pandas as pd

    d = _prepared(panel, LabelParams.from_config(cfg))
    e = d["exits"][side]
    dates = d["panel"]["date"].to_numpy()
    target, stop = d["levels"][side]
    out = pd.DataFrame({
        "symbol": d["panel"]["symbol"].to_numpy(), "date": dates, "target": target, "stop": stop,
        "outcome": np.where(e["target"], "target", np.where(e["stop"], "stop", "expired")),
        "bars": e["bars"], "exit_date": dates[e["exit_idx"]], "exit_price": e["exit_price"],
    })
    return out[d["keep"]].reset_index(drop=True)


def triple_barrier(panel: "pd.DataFrame", cfg: Any) -> "pd.DataFrame":
    """Labels for every (symbol, date) of ``panel`` whose full horizon is known.

    Returns columns: symbol, date, entry_price, atr, label (BUY/SELL/HOLD), label_id (0/1/2),
    target, stop (of the labelled side; HOLD rows carry the BUY side's), exit_date, exit_price,
    return_pct, bars (bars until the exit). Vectorised over the horizon offsets with numpy.
    """
    import numpy as np
    import pandas as pd

    p = LabelParams.from_config(cfg)
    d = _prepared(panel, p)
    panel, close, levels = d["panel"], d["close"], d["levels"]
    n = len(panel)
    h_ = p.horizon_days
    dates = panel["date"].to_numpy()
    eb, es = d["exits"]["BUY"], d["exits"]["SELL"]
    buy_win, sell_win = eb["target"], es["target"]
    bt, st = eb["bars"], es["bars"]
    both = buy_win & sell_win
    buy = buy_win & ~(both & (st <= bt))
    sell = sell_win & ~(both & (bt <= st))
    label_id = np.where(buy, 0, np.where(sell, 1, 2)).astype(np.int8)

    bars = np.where(buy, bt, np.where(sell, st, h_)).astype(np.int64)
    exit_idx = np.minimum(np.arange(n) + bars, n - 1)
    target = np.where(sell, levels["SELL"][0], levels["BUY"][0])
    stop = np.where(sell, levels["SELL"][1], levels["BUY"][1])
    exit_price = np.where(buy, eb["exit_price"], np.where(sell, es["exit_price"], close[exit_idx]))
    ret = np.where(sell, realised_return("SELL", close, exit_price), realised_return("BUY", close, exit_price))

    out = pd.DataFrame({
        "symbol": panel["symbol"].to_numpy(),
        "date": dates,
        "entry_price": close,
        "atr": d["atr"],
        "label_id": label_id,
        "target": target,
        "stop": stop,
        "exit_date": dates[exit_idx],
        "exit_price": exit_price,
        "return_pct": ret,
        "bars": bars,
    })[d["keep"]]
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
