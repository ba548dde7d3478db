"""Portfolio simulation and metrics for the walk-forward backtest: pure, vectorised numpy.

Prices are (symbols x sessions) arrays. A trade is (symbol row, signal session t, side, fill session,
fill price, exit session, exit price, outcome): the walk-forward takes every trade from the trade
rule (ml/labels.py ``panel_trades``), the one rule labels and live signals follow too:

* a signal formed at the close of session t is filled at the open of the symbol's next bar;
* target and stop follow from the fill (symmetric in log price); the first bar touching one
  decides (a gap through a level from the second bar on fills at the open; a bar touching both is
  the stop); no touch: the horizon's last close (outcome ``expired``); a trade the data ends under
  is marked at the last close (outcome ``open``); a signal on the last session has no fill yet
  (``pending``) and is not traded.
* Costs: ``cost_bps`` (commission + slippage) per side, charged as return: net = gross - 2 x cost.
* One position per symbol: a signal while that symbol's previous accepted trade is still open is
  skipped (a position that exits on session k frees the symbol for a signal at the close of k).
  Live scans apply the same rule (tasks/scan_rules.decide).
* Daily portfolio: equal weight across the positions held that day, rebalanced daily (no charge for
  rebalancing), fully invested when any position is held and in cash (0 return) otherwise. A
  position's return on its fill day runs from the fill to the close, then side x close-to-close
  change, and on its exit day to the exit price; its entry cost is charged on its fill day and its
  exit cost on its exit day.
* Buy-and-hold: equal weight across the universe's symbols that trade on both days, rebalanced daily.

Metrics: trades, hit rate (fraction of trades exiting at their target), mean net trade return,
profit factor (sum of winning / |sum of losing| net returns), Sharpe of the daily portfolio returns
(annualised with sqrt(252), every session in the window counts, cash days included), max drawdown
(most negative equity / running peak - 1, so a negative number), exposure (fraction of sessions with at
least one position), total return of the equity curve. Undefined values are NaN (``clean`` makes them
None for JSON and SQL). ``with_floor`` withholds the statistics that pretend to be evidence (profit
factor, Sharpe) below a minimum number of trades.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TRADING_DAYS = 252
# Outcome codes: ml.labels' (PENDING, OPEN, TARGET, STOP, EXPIRED).
PENDING, OPEN, TARGET, STOP, EXPIRY = range(5)
OUTCOMES = ("pending", "open", "target", "stop", "expiry")
EVIDENCE = ("profit_factor", "sharpe")  # withheld below the minimum number of trades


@dataclass(frozen=True)
class Prices:
    """OHLC as (symbols x sessions) float arrays; NaN where a symbol has no bar.

    ``close_ff`` is the close carried forward over missing bars (NaN before a symbol's first bar),
    used for daily marks.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    close_ff: np.ndarray
    member: np.ndarray | None = None  # symbols x sessions: in the universe that day (None: always)

    @property
    def shape(self) -> tuple[int, int]:
        return self.close.shape  # type: ignore[return-value]


def make_prices(open_: Any, high: Any, low: Any, close: Any, member: Any = None) -> Prices:
    arrs = [np.ascontiguousarray(np.asarray(a, dtype=np.float64)) for a in (open_, high, low, close)]
    shape = arrs[3].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrs):
        raise ValueError("open, high, low and close must be 2-D arrays of one shape (symbols x sessions)")
    return Prices(*arrs, close_ff=_ffill(arrs[3]), member=None if member is None else np.asarray(member, bool))


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
class Trades:
    """Parallel arrays, one element per signal and its trade under the trade rule.

    ``side`` is +1 (BUY) or -1 (SELL); ``t`` the signal's session; ``fill_t``/``exit_t`` sessions
    (-1 while pending); ``outcome`` one of the codes above."""

    sym: np.ndarray
    t: np.ndarray
    side: np.ndarray
    fill_t: np.ndarray
    fill: np.ndarray
    exit_t: np.ndarray
    exit_price: np.ndarray
    outcome: np.ndarray

    @classmethod
    def of(cls, sym: Any, t: Any, side: Any, fill_t: Any, fill: Any, exit_t: Any, exit_price: Any,
           outcome: Any) -> "Trades":
        n = len(np.atleast_1d(sym))

        def arr(v: Any, dtype: Any) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy()

        out = cls(arr(sym, np.int64), arr(t, np.int64), arr(side, np.int8), arr(fill_t, np.int64),
                  arr(fill, np.float64), arr(exit_t, np.int64), arr(exit_price, np.float64), arr(outcome, np.int8))
        if n and not np.isin(out.side, (-1, 1)).all():
            raise ValueError("side must be +1 (BUY) or -1 (SELL)")
        filled = out.outcome != PENDING
        if n and ((out.fill_t[filled] <= out.t[filled]).any() or (out.exit_t[filled] < out.fill_t[filled]).any()):
            raise ValueError("a fill comes after its signal's session and an exit not before its fill")
        return out

    def __len__(self) -> int:
        return len(self.sym)

    def take(self, idx: Any) -> "Trades":
        return Trades(*(getattr(self, f)[idx] for f in ("sym", "t", "side", "fill_t", "fill", "exit_t",
                                                         "exit_price", "outcome")))

    @property
    def gross(self) -> np.ndarray:
        """Side-adjusted return from the fill to the exit (NaN while pending)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.side * (self.exit_price / self.fill - 1.0)


def one_position_per_symbol(sig: "Trades") -> np.ndarray:
    """Indices (into ``sig``) of the trades taken when a symbol holds at most one position.

    Per symbol, in signal order, a trade is taken when the previous taken trade has exited by its
    signal's session. Two signals for one symbol on one session: the first listed is taken. A
    pending trade (no fill bar yet) is never taken.
    """
    live = np.flatnonzero(sig.outcome != PENDING)
    n = len(live)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    order = live[np.lexsort((live, sig.t[live], sig.sym[live]))]
    sym, t, ex = sig.sym[order], sig.t[order], sig.exit_t[order]
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


def daily_portfolio(prices: Prices, sig: "Trades", taken: np.ndarray, cost: float, start: int,
                    end: int) -> Portfolio:
    """Daily returns of the equal-weight portfolio of the taken trades (``cost`` per side, as return)."""
    n_days = end - start + 1
    sums = np.zeros(n_days)
    counts = np.zeros(n_days)
    if len(taken):
        sym, side = sig.sym[taken], sig.side[taken].astype(np.float64)
        ft, fp, xt, xp = sig.fill_t[taken], sig.fill[taken], sig.exit_t[taken], sig.exit_price[taken]
        held = xt - ft + 1  # the fill day through the exit day
        total = int(held.sum())
        pos = np.repeat(np.arange(len(taken)), held)
        offset = np.arange(total) - np.repeat(np.cumsum(held) - held, held)
        day = ft[pos] + offset
        n_cols = prices.shape[1]
        base = sym[pos] * n_cols
        now = prices.close_ff.ravel()[base + day]
        prev = np.where(offset == 0, fp[pos], prices.close_ff.ravel()[base + np.maximum(day - 1, 0)])
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
    """Daily returns of the equal-weight, daily-rebalanced portfolio of ``rows`` (all symbols), each
    symbol held on the days it was in the universe (``Prices.member``)."""
    c = prices.close if rows is None else prices.close[rows]
    r = c[:, start + 1:end + 1] / c[:, start:end] - 1.0
    ok = np.isfinite(r)
    if prices.member is not None:
        m = prices.member if rows is None else prices.member[rows]
        ok &= m[:, start:end]  # a member at the close it was bought at
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


def with_floor(metrics: dict[str, float], min_trades: int) -> dict[str, Any]:
    """``metrics`` with the statistics that read as evidence (profit factor, Sharpe) withheld (NaN)
    when there are fewer than ``min_trades`` trades; ``too_few_trades`` says so."""
    out: dict[str, Any] = dict(metrics)
    few = int(metrics.get("trades") or 0) < min_trades
    out["too_few_trades"] = few
    if few:
        for k in EVIDENCE:
            out[k] = math.nan
    return out


@dataclass
class SimResult:
    taken: np.ndarray  # indices into the trades
    trades: "Trades"
    net: np.ndarray  # net return per taken trade
    portfolio: Portfolio
    metrics: dict[str, float] = field(default_factory=dict)


def simulate(prices: Prices, sig: "Trades", *, cost_bps: float, start: int, end: int,
             min_trades: int = 0) -> SimResult:
    """The one-position rule, costs, the daily portfolio over ``start..end`` and its metrics.

    ``cost_bps`` is commission + slippage per side in basis points; below ``min_trades`` trades the
    evidence statistics are withheld (``with_floor``).
    """
    taken = one_position_per_symbol(sig)
    cost = cost_bps / 1e4
    net = sig.gross[taken] - 2.0 * cost
    port = daily_portfolio(prices, sig, taken, cost, start, end)
    metrics = trade_metrics(net, sig.outcome[taken]) | series_metrics(port.returns, port.n_open)
    return SimResult(taken, sig, net, port, with_floor(metrics, min_trades))


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
