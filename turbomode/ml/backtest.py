"""Trade simulation and portfolio metrics for the walk-forward backtest: pure, vectorised numpy.

Prices are (symbols x sessions) arrays; a signal is (symbol row, entry session index, side, target,
stop, expiry in sessions). Rules, in the order they are applied:

* Entry at the close of the signal's session (scan's entry = last close).
* Exit on the first session after entry, up to ``expiry`` sessions later, whose bar reaches a barrier:
  - the open is the first print of the day, so an open beyond a barrier fills that barrier at the open
    (a gap through the stop fills worse than the stop, a gap through the target better);
  - otherwise a bar whose range reaches both barriers counts as the stop (as the labels do);
  - otherwise the barrier reached fills at its price.
  With no barrier reached the trade expires at the close of session ``entry + expiry``; a trade the
  data ends under is closed at the last close (outcome ``open``).
* Costs: ``cost_bps`` (commission + slippage) per side, charged as return: net = gross - 2 x cost.
* One position per symbol: a signal while that symbol's previous accepted trade is still open is
  skipped (a position that exits on session k frees the symbol for a signal at the close of k).
* Daily portfolio: equal weight across the positions open that day, rebalanced daily (no charge for
  rebalancing), fully invested when any position is open and in cash (0 return) otherwise. A
  position's return on a held day is side x close-to-close change (the exit price on its exit day);
  its entry cost is charged on its first held day and its exit cost on its exit day.
* Buy-and-hold: equal weight across the universe's symbols that trade on both days, rebalanced daily.

Metrics: trades, hit rate (fraction of trades exiting at their target), mean net trade return,
profit factor (sum of winning / |sum of losing| net returns), Sharpe of the daily portfolio returns
(annualised with sqrt(252), every session in the window counts, cash days included), max drawdown
(most negative equity / running peak - 1, so a negative number), exposure (fraction of sessions with at
least one position), total return of the equity curve. Undefined values are NaN (``clean`` makes them
None for JSON and SQL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TRADING_DAYS = 252
OUTCOMES = ("expiry", "target", "stop", "open")  # outcome codes 0..3
EXPIRY, TARGET, STOP, OPEN = 0, 1, 2, 3
_BLOCK = 131_072  # signals per vectorised block: bounds memory at ~block x horizon x 8 bytes per array


@dataclass(frozen=True)
class Prices:
    """OHLC as (symbols x sessions) float arrays; NaN where a symbol has no bar.

    ``close_ff`` is the close carried forward over missing bars (NaN before a symbol's first bar),
    used for expiry fills and daily marks.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    close_ff: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.close.shape  # type: ignore[return-value]


def make_prices(open_: Any, high: Any, low: Any, close: Any) -> Prices:
    arrs = [np.ascontiguousarray(np.asarray(a, dtype=np.float64)) for a in (open_, high, low, close)]
    shape = arrs[3].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrs):
        raise ValueError("open, high, low and close must be 2-D arrays of one shape (symbols x sessions)")
    return Prices(*arrs, close_ff=_ffill(arrs[3]))


def _ffill(a: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward along axis 1."""
    ok = np.isfinite(a)
    idx = np.where(ok, np.arange(a.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out = a[np.arange(a.shape[0])[:, None], idx]
    # Before the first finite value idx is 0, which may itself be missing: stays NaN.
    out[~np.maximum.accumulate(ok, axis=1)] = np.nan
    return out


@dataclass(frozen=True)
class Signals:
    """Parallel arrays, one element per signal. ``side`` is +1 (BUY) or -1 (SELL)."""

    sym: np.ndarray
    t: np.ndarray
    side: np.ndarray
    target: np.ndarray
    stop: np.ndarray
    expiry: np.ndarray

    @classmethod
    def of(cls, sym: Any, t: Any, side: Any, target: Any, stop: Any, expiry: Any) -> "Signals":
        n = len(np.atleast_1d(sym))

        def arr(v: Any, dtype: Any) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy()

        out = cls(arr(sym, np.int64), arr(t, np.int64), arr(side, np.int8), arr(target, np.float64),
                  arr(stop, np.float64), arr(expiry, np.int64))
        if n and not np.isin(out.side, (-1, 1)).all():
            raise ValueError("side must be +1 (BUY) or -1 (SELL)")
        if n and (out.expiry < 1).any():
            raise ValueError("expiry must be at least one session")
        return out

    def __len__(self) -> int:
        return len(self.sym)

    def take(self, idx: Any) -> "Signals":
        return Signals(self.sym[idx], self.t[idx], self.side[idx], self.target[idx], self.stop[idx],
                       self.expiry[idx])


@dataclass(frozen=True)
class Exits:
    """Per signal: exit session index, exit price, outcome code, gross return (side-adjusted)."""

    t: np.ndarray
    price: np.ndarray
    outcome: np.ndarray
    gross: np.ndarray
    entry: np.ndarray


def find_exits(prices: Prices, sig: Signals) -> Exits:
    """The exit of every signal, as if each were taken (no one-position rule here)."""
    n = len(sig)
    out_t = np.empty(n, dtype=np.int64)
    out_p = np.empty(n, dtype=np.float64)
    out_o = np.empty(n, dtype=np.int8)
    entry = prices.close_ff.ravel()[sig.sym * prices.shape[1] + sig.t] if n else np.empty(0)
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        s = slice(lo, hi)
        out_t[s], out_p[s], out_o[s] = _exits_block(prices, sig.sym[s], sig.t[s], sig.side[s],
                                                    sig.target[s], sig.stop[s], sig.expiry[s])
    gross = sig.side * (out_p / entry - 1.0) if n else np.empty(0)
    return Exits(out_t, out_p, out_o, gross, entry)


def _exits_block(p: Prices, sym, t, side, target, stop, expiry):
    n_syms, n_days = p.shape
    horizon = int(expiry.max())
    k = np.arange(1, horizon + 1, dtype=np.int64)
    day = t[:, None] + k[None, :]
    valid = (k[None, :] <= expiry[:, None]) & (day < n_days)
    flat = sym[:, None] * n_days + np.minimum(day, n_days - 1)
    hi = p.high.ravel()[flat]
    lo = p.low.ravel()[flat]
    buy = side > 0
    # Upper barrier = target for a BUY, stop for a SELL; lower barrier the other one.
    upper = np.where(buy, target, stop)[:, None]
    lower = np.where(buy, stop, target)[:, None]
    up = (hi >= upper) & valid
    dn = (lo <= lower) & valid
    hit_stop = np.where(buy[:, None], dn, up)
    hit_any = up | dn
    has = hit_any.any(axis=1)
    first = hit_any.argmax(axis=1)
    rows = np.arange(len(t))
    first_day = t + 1 + first
    opn = p.open.ravel()[sym * n_days + np.minimum(first_day, n_days - 1)]
    sgn = side.astype(np.float64)
    gap_stop = sgn * opn <= sgn * stop
    gap_target = sgn * opn >= sgn * target
    at_stop = hit_stop[rows, first]
    is_stop = gap_stop | (at_stop & ~gap_target)
    hit_price = np.where(gap_stop | gap_target, opn, np.where(is_stop, stop, target))
    hit_outcome = np.where(is_stop, STOP, TARGET)
    # No barrier: close of the expiry session, or the last session when the data ends first.
    end_day = t + expiry
    truncated = end_day > n_days - 1
    end_day = np.minimum(end_day, n_days - 1)
    end_price = p.close_ff.ravel()[sym * n_days + end_day]
    exit_t = np.where(has, first_day, end_day)
    exit_p = np.where(has, hit_price, end_price)
    exit_o = np.where(has, hit_outcome, np.where(truncated, OPEN, EXPIRY)).astype(np.int8)
    return exit_t, exit_p, exit_o


def one_position_per_symbol(sig: Signals, exit_t: np.ndarray) -> np.ndarray:
    """Indices (into ``sig``) of the signals taken when a symbol holds at most one position.

    Per symbol, in entry order, a signal is taken when the previous taken trade has exited by its
    entry session. Two signals for one symbol on one session: the first listed is taken.
    """
    n = len(sig)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((np.arange(n), sig.t, sig.sym))
    sym, t, ex = sig.sym[order], sig.t[order], exit_t[order]
    span = int(max(t.max(), ex.max())) + 2
    key = sym * span + t
    # The next candidate after taking i: the first signal of the same symbol entering at or after
    # i's exit (and after i itself). Following these links from each symbol's first signal gives the
    # taken chain; the walk is vectorised across symbols, one step per position held.
    nxt = np.searchsorted(key, sym * span + ex, side="left")  # exit > entry, so nxt > i
    same = np.zeros(n, dtype=bool)
    ok = nxt < n
    same[ok] = sym[nxt[ok]] == sym[ok]
    nxt = np.where(same, nxt, -1)
    starts = np.flatnonzero(np.r_[True, sym[1:] != sym[:-1]])
    taken = np.zeros(n, dtype=bool)
    frontier = starts
    while frontier.size:
        taken[frontier] = True
        frontier = nxt[frontier]
        frontier = frontier[frontier >= 0]
    return np.sort(order[taken])


@dataclass
class Portfolio:
    """The daily equal-weight portfolio over sessions ``start..end`` (inclusive)."""

    start: int
    end: int
    returns: np.ndarray  # per session; returns[0] = 0 (the equity curve starts at 1 on `start`)
    n_open: np.ndarray  # positions held per session

    @property
    def equity(self) -> np.ndarray:
        return np.cumprod(1.0 + self.returns)


def daily_portfolio(prices: Prices, sig: Signals, ex: Exits, taken: np.ndarray, cost: float,
                    start: int, end: int) -> Portfolio:
    """Daily returns of the equal-weight portfolio of the taken trades (``cost`` per side, as return)."""
    n_days = end - start + 1
    sums = np.zeros(n_days)
    counts = np.zeros(n_days)
    if len(taken):
        sym, t, side = sig.sym[taken], sig.t[taken], sig.side[taken].astype(np.float64)
        xt, xp = ex.t[taken], ex.price[taken]
        held = np.maximum(xt - t, 0)
        total = int(held.sum())
        pos = np.repeat(np.arange(len(taken)), held)
        offset = np.arange(total) - np.repeat(np.cumsum(held) - held, held)
        day = t[pos] + 1 + offset
        n_cols = prices.shape[1]
        base = sym[pos] * n_cols
        now = prices.close_ff.ravel()[base + day]
        prev = prices.close_ff.ravel()[base + day - 1]
        last = day == xt[pos]
        now = np.where(last, xp[pos], now)
        r = side[pos] * (now / prev - 1.0)
        r -= cost * ((offset == 0).astype(np.float64) + last)
        inside = (day >= start) & (day <= end)
        sums = np.bincount(day[inside] - start, weights=r[inside], minlength=n_days)[:n_days]
        counts = np.bincount(day[inside] - start, minlength=n_days)[:n_days].astype(np.float64)
    rets = np.divide(sums, counts, out=np.zeros(n_days), where=counts > 0)
    rets[0] = 0.0
    return Portfolio(start, end, rets, counts)


def buy_and_hold(prices: Prices, start: int, end: int, rows: Any = None) -> np.ndarray:
    """Daily returns of the equal-weight, daily-rebalanced portfolio of ``rows`` (all symbols)."""
    c = prices.close if rows is None else prices.close[rows]
    r = c[:, start + 1:end + 1] / c[:, start:end] - 1.0
    ok = np.isfinite(r)
    cnt = ok.sum(axis=0)
    out = np.zeros(end - start + 1)
    out[1:] = np.divide(np.where(ok, r, 0.0).sum(axis=0), cnt, out=np.zeros(r.shape[1]), where=cnt > 0)
    return out


def trade_metrics(net: np.ndarray, outcome: np.ndarray) -> dict[str, float]:
    n = len(net)
    wins = net[net > 0].sum()
    losses = -net[net < 0].sum()
    if losses > 0:
        pf = wins / losses
    else:
        pf = math.inf if wins > 0 else math.nan
    return {
        "trades": n,
        "hit_rate": float((outcome == TARGET).mean()) if n else math.nan,
        "mean_return": float(net.mean()) if n else math.nan,
        "profit_factor": float(pf),
    }


def series_metrics(returns: np.ndarray, n_open: np.ndarray | None = None) -> dict[str, float]:
    """Sharpe, max drawdown, exposure and total return of a daily return series (first = 0)."""
    r = returns[1:] if len(returns) > 1 else returns
    equity = np.cumprod(1.0 + returns)
    peak = np.maximum.accumulate(equity)
    sd = r.std(ddof=1) if len(r) > 1 else math.nan
    sharpe = float(r.mean() / sd * math.sqrt(TRADING_DAYS)) if sd and np.isfinite(sd) and sd > 0 else math.nan
    return {
        "sharpe": sharpe,
        "max_drawdown": float((equity / peak - 1.0).min()) if len(equity) else math.nan,
        "exposure": float((n_open[1:] > 0).mean()) if n_open is not None and len(n_open) > 1 else math.nan,
        "total_return": float(equity[-1] - 1.0) if len(equity) else math.nan,
    }


@dataclass
class SimResult:
    taken: np.ndarray  # indices into the signals
    exits: Exits
    net: np.ndarray  # net return per taken trade
    portfolio: Portfolio
    metrics: dict[str, float] = field(default_factory=dict)


def simulate(prices: Prices, sig: Signals, *, cost_bps: float, start: int, end: int,
             exits: Exits | None = None) -> SimResult:
    """Exits, the one-position rule, costs, the daily portfolio over ``start..end`` and its metrics.

    ``cost_bps`` is commission + slippage per side in basis points. ``exits`` may be passed when
    already computed for these signals (find_exits is the expensive step).
    """
    ex = exits if exits is not None else find_exits(prices, sig)
    taken = one_position_per_symbol(sig, ex.t)
    cost = cost_bps / 1e4
    net = ex.gross[taken] - 2.0 * cost
    port = daily_portfolio(prices, sig, ex, taken, cost, start, end)
    metrics = trade_metrics(net, ex.outcome[taken]) | series_metrics(port.returns, port.n_open)
    return SimResult(taken, ex, net, port, metrics)


def base_hit_rate(prices: Prices, sig: Signals) -> float:
    """Fraction of the signals whose trade would exit at the target, taking every one (no filter)."""
    ex = find_exits(prices, sig)
    return float((ex.outcome == TARGET).mean()) if len(sig) else math.nan


def clean(value: Any) -> Any:
    """NaN and infinities become None (JSON and SQL have no such numbers); recurses into containers."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass(frozen=True)
class Fold:
    """One walk-forward step, as inclusive session indices."""

    number: int  # 1-based
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def plan_folds(first: int, start: int, last: int, n_folds: int, embargo: int, min_train: int = 1) -> list[Fold]:
    """Split sessions ``start..last`` into ``n_folds`` contiguous test windows (earliest first).

    Each fold trains on the expanding window ``first..test_start - embargo - 1``: with ``embargo`` >=
    the label horizon, no training label looks at a price inside the fold. Raises ValueError (saying
    what is short) when a fold would be empty or its first training window has fewer than
    ``min_train`` sessions.
    """
    if n_folds < 1:
        raise ValueError("need at least one fold")
    if embargo < 0:
        raise ValueError("the embargo cannot be negative")
    n_test = last - start + 1
    if n_test < n_folds:
        raise ValueError(f"only {max(n_test, 0)} sessions from the start date to the last labelled one, "
                         f"fewer than the {n_folds} folds")
    first_train = start - embargo - first
    if first_train < min_train:
        raise ValueError(f"the first fold would train on {max(first_train, 0)} sessions, fewer than "
                         f"{min_train}")
    bounds = np.linspace(start, last + 1, n_folds + 1).round().astype(int)
    return [Fold(i + 1, first, int(a) - embargo - 1, int(a), int(b) - 1)
            for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


def hac_se_of_mean(values: np.ndarray, t: np.ndarray, lag: int) -> float:
    """Standard error of mean(``values``) robust to correlation between observations close in time.

    Trades entered on one session share the market's path, and trades entered within ``lag``
    sessions of each other overlap, so the binomial / i.i.d. error is far too small. Deviations
    are summed per entry session ``t`` and the variance of the sum is estimated with Newey-West
    (Bartlett) weights up to ``lag`` sessions apart.
    """
    n = len(values)
    if n < 2:
        return math.nan
    dev = values - values.mean()
    t0 = int(t.min())
    s = np.bincount(t - t0, weights=dev)
    var = float(s @ s)
    for k in range(1, min(lag, len(s) - 1) + 1):
        var += 2.0 * (1.0 - k / (lag + 1.0)) * float(s[k:] @ s[:-k])
    return math.sqrt(max(var, 0.0)) / n
