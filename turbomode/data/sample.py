"""The embedded sample market (SPEC §7): deterministic, offline, realistic enough to train on.

Every bar is a function of (seed, symbol, sector, business-day index since the market's first day):

* returns = drift + planted + beta x market + loading x sector + idiosyncratic + jumps;
  market, sector and idiosyncratic shocks each follow a GARCH(1,1) variance with unit-variance
  Student-t (5 degrees of freedom) innovations, so volatility clusters and tails are fat;
* occasional jumps (earnings-like), mostly overnight, so they show as gaps;
* OHLC: the open is the previous close moved by an overnight gap that carries part of the day's
  move; the high/low extend beyond max/min(open, close) by a volatility-scaled amount;
* volume: a per-symbol base, a persistent AR(1) level, and surprises proportional to |return|/vol;
* the planted predictable part (``planted_rule``) is a function of past *stored* closes only:
  a mean reversion towards the 20-day mean of log closes, scaled by the 20-day realised volatility.
  ``strength`` 0 removes it: the market is then a random walk in which no model can find an edge.

Random numbers come from one stream per (symbol or sector or market, quantity), consumed one value
per day from the first day, so the bars up to any date are identical whatever ``end`` is, and a
symbol's bars do not depend on which other symbols are generated.
Prices are rounded to cents and the planted rule reads the rounded closes, so it can be recomputed
exactly from the database. There are no dividends or splits: adj_close == close.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Iterable, Sequence
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from turbomode.data.universe import Security

NEW_YORK = ZoneInfo("America/New_York")
MARKET_CLOSE = time(16, 0)

# --- model constants -------------------------------------------------------------------------
T_DF = 5.0  # Student-t degrees of freedom of every shock
MARKET_VOL = 0.011  # daily
SECTOR_VOL = 0.007
IDIO_VOL_RANGE = (0.008, 0.018)
GARCH_ALPHA, GARCH_BETA = 0.08, 0.90  # persistence 0.98: weeks-long volatility regimes
DRIFT = 0.0003  # daily arithmetic drift (~7.5 %/year)
JUMP_PROB = 0.004  # per symbol per day (~1 a year)
JUMP_SIZE = 0.05  # standard deviation of a jump's log size
MARKET_JUMP_PROB = 0.002
MARKET_JUMP_SIZE = 0.03
GAP_SHARE = 0.3  # part of the day's diffusive move that happens overnight
PLANTED_K = 0.4  # planted drift = strength x K x vol20 x -tanh(distance / 2)
RULE_WINDOW = 20  # closes in the rule's mean and returns in its volatility
DEFAULT_VOL = 0.02

# Quantity ids of the per-symbol random streams (fixed forever: changing them changes the market).
_Q_PARAMS, _Q_IDIO, _Q_JUMP_U, _Q_JUMP_Z, _Q_GAP, _Q_RANGE, _Q_VOL = range(7)


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def _stream(seed: int, kind: int, name: str, quantity: int):
    import numpy as np

    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, kind, _key(name), quantity])))


def _unit_t(rng, n: int):
    import numpy as np

    return rng.standard_t(T_DF, size=n) * np.sqrt((T_DF - 2.0) / T_DF)


def business_days(start: date, end: date):
    """Mon-Fri dates from ``start`` to ``end`` inclusive, as numpy datetime64[D]."""
    import numpy as np

    if end < start:
        return np.array([], dtype="datetime64[D]")
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1, dtype="datetime64[D]")
    return days[np.is_busday(days)]


def last_completed_session(now: datetime) -> date:
    """The latest weekday whose 16:00 New York close is at or before ``now`` (sample market)."""
    if now.tzinfo is None:
        raise ValueError("naive datetime; pass an aware one")
    local = now.astimezone(NEW_YORK)
    d = local.date()
    if local.time() < MARKET_CLOSE:
        d -= timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


# --- the planted rule ------------------------------------------------------------------------

def planted_rule(log_closes, strength: float):
    """Planted expected next-day log return, given the last RULE_WINDOW log closes (rows = days).

    ``log_closes``: array (RULE_WINDOW, n_symbols), oldest first, the newest being the day the
    expectation is formed on. Depends on nothing else.
    """
    import numpy as np

    if strength == 0.0:
        return np.zeros(log_closes.shape[1])
    r = np.diff(log_closes, axis=0)
    vol = np.sqrt(np.mean(r * r, axis=0))
    vol = np.where(vol > 0, vol, DEFAULT_VOL)
    dist = (log_closes[-1] - np.mean(log_closes, axis=0)) / vol
    return -strength * PLANTED_K * vol * np.tanh(dist / 2.0)


def planted_from_closes(closes, strength: float):
    """Planted expected log return from each close to the next, for a (days, symbols) array of closes.

    Row t uses closes 0..t only (NaN for the first RULE_WINDOW - 1 rows). This is the generator's
    own rule, so ``planted_from_closes(stored closes)`` reproduces exactly what the sample market
    added to every next day's return: the best a model can know about tomorrow.
    """
    import numpy as np

    closes = np.asarray(closes, dtype=float)
    squeeze = closes.ndim == 1
    if squeeze:
        closes = closes[:, None]
    logc = np.log(closes)
    out = np.full(closes.shape, np.nan)
    for t in range(RULE_WINDOW - 1, closes.shape[0]):
        out[t] = planted_rule(logc[t - RULE_WINDOW + 1 : t + 1], strength)
    return out[:, 0] if squeeze else out


# --- the generator ---------------------------------------------------------------------------

def _garch_omega(vol: "np.ndarray | float"):
    return (1.0 - GARCH_ALPHA - GARCH_BETA) * vol * vol


def _simulate(securities: Sequence["Security"], origin: date, end: date, seed: int, strength: float):
    """Arrays (days, n) of open, high, low, close, volume and planted, from ``origin`` to ``end``."""
    import numpy as np

    days = business_days(origin, end)
    n, m = len(days), len(securities)
    symbols = [s.symbol for s in securities]
    sectors = sorted({s.sector for s in securities})
    sec_idx = np.array([sectors.index(s.sector) for s in securities], dtype=int)

    # Per-symbol parameters and shock streams.
    beta = np.empty(m)
    load = np.empty(m)
    ivol = np.empty(m)
    p0 = np.empty(m)
    vbase = np.empty(m)
    z_idio = np.empty((n, m))
    jump = np.empty((n, m))
    z_gap = np.empty((n, m))
    z_hi = np.empty((n, m))
    z_lo = np.empty((n, m))
    z_vol = np.empty((n, m))
    for j, sym in enumerate(symbols):
        pr = _stream(seed, 0, sym, _Q_PARAMS).random(5)
        beta[j] = 0.6 + 0.8 * pr[0]
        load[j] = 0.5 + 0.7 * pr[1]
        ivol[j] = IDIO_VOL_RANGE[0] + (IDIO_VOL_RANGE[1] - IDIO_VOL_RANGE[0]) * pr[2]
        p0[j] = float(np.exp(np.log(15.0) + pr[3] * np.log(300.0 / 15.0)))
        vbase[j] = float(np.exp(np.log(5e5) + pr[4] * np.log(4e7 / 5e5)))
        z_idio[:, j] = _unit_t(_stream(seed, 0, sym, _Q_IDIO), n)
        u = _stream(seed, 0, sym, _Q_JUMP_U).random(n)
        jz = _stream(seed, 0, sym, _Q_JUMP_Z).standard_normal(n)
        jump[:, j] = np.where(u < JUMP_PROB, jz * JUMP_SIZE, 0.0)
        g = _stream(seed, 0, sym, _Q_GAP).standard_normal(n)
        z_gap[:, j] = g
        hl = _stream(seed, 0, sym, _Q_RANGE).standard_normal(2 * n).reshape(n, 2)
        z_hi[:, j], z_lo[:, j] = np.abs(hl[:, 0]), np.abs(hl[:, 1])
        z_vol[:, j] = _stream(seed, 0, sym, _Q_VOL).standard_normal(n)
    z_mkt = _unit_t(_stream(seed, 1, "market", 0), n)
    mu = _stream(seed, 1, "market", 1).random(n)
    mz = _stream(seed, 1, "market", 2).standard_normal(n)
    mjump = np.where(mu < MARKET_JUMP_PROB, mz * MARKET_JUMP_SIZE - 0.01, 0.0)
    z_sec = np.empty((n, len(sectors)))
    for k, sec in enumerate(sectors):
        z_sec[:, k] = _unit_t(_stream(seed, 2, sec, 0), n)

    # The day-by-day recursion, vectorised across symbols.
    open_ = np.empty((n, m))
    high = np.empty((n, m))
    low = np.empty((n, m))
    close = np.empty((n, m))
    volume = np.empty((n, m))
    planted = np.zeros((n, m))
    logc = np.empty((n, m))
    hm, hs, hi = MARKET_VOL**2, np.full(len(sectors), SECTOR_VOL**2), ivol**2
    om, os_, oi = _garch_omega(MARKET_VOL), _garch_omega(SECTOR_VOL), _garch_omega(ivol)
    em2, es2, ei2 = hm, hs.copy(), hi.copy()
    vlevel = np.zeros(m)
    prev_close = np.round(p0, 2)
    expected_vol = np.sqrt(beta**2 * MARKET_VOL**2 + load**2 * SECTOR_VOL**2 + ivol**2)
    a, b = GARCH_ALPHA, GARCH_BETA
    for t in range(n):
        hm = om + a * em2 + b * hm
        em = np.sqrt(hm) * z_mkt[t]
        em2 = em * em
        hs = os_ + a * es2 + b * hs
        es = np.sqrt(hs) * z_sec[t]
        es2 = es * es
        hi = oi + a * ei2 + b * hi
        ei = np.sqrt(hi) * z_idio[t]
        ei2 = ei * ei
        if t >= RULE_WINDOW:
            planted[t] = planted_rule(logc[t - RULE_WINDOW : t], strength)
        diffusive = beta * em + load * es[sec_idx] + ei
        overnight_jump = jump[t] + mjump[t]
        r = DRIFT + planted[t] + diffusive + overnight_jump
        c = np.maximum(np.round(prev_close * np.exp(r), 2), 0.01)
        day_vol = np.sqrt(beta**2 * hm + load**2 * hs[sec_idx] + hi)
        gap = GAP_SHARE * diffusive + overnight_jump + 0.15 * day_vol * z_gap[t]
        o = np.maximum(np.round(prev_close * np.exp(gap), 2), 0.01)
        top = np.maximum(o, c)
        bot = np.minimum(o, c)
        high[t] = np.round(top * np.exp(0.5 * day_vol * z_hi[t]), 2)
        low[t] = np.maximum(np.round(bot * np.exp(-0.5 * day_vol * z_lo[t]), 2), 0.01)
        surprise = np.abs(np.log(c / prev_close)) / expected_vol
        vlevel = 0.9 * vlevel + 0.1 * z_vol[t]
        volume[t] = np.round(vbase * np.exp(0.9 * vlevel + 0.25 * z_vol[t] + 0.35 * (np.minimum(surprise, 6.0) - 0.8)))
        open_[t] = o
        close[t] = c
        logc[t] = np.log(c)
        prev_close = c
    return days, open_, high, low, close, volume, planted


def generate(securities: Sequence["Security"], start: date, end: date, *, seed: int, strength: float,
             since: date | None = None) -> "pd.DataFrame":
    """The sample market's daily bars, long format, sorted by symbol then date.

    ``start`` is the market's first business day (config ``data.sample.start``): the simulation
    always begins there, so the bars are the same whatever ``end`` is. ``since`` (optional) drops
    earlier bars from the result (incremental ingests). Columns: symbol, date (datetime64,
    midnight), open, high, low, close, adj_close, volume.
    """
    import numpy as np
    import pandas as pd

    securities = sorted(securities, key=lambda s: s.symbol)
    days, o, h, low, c, v, _ = _simulate(securities, start, end, seed, strength)
    keep = slice(None)
    if since is not None:
        keep = days >= np.datetime64(since, "D")
    days = days[keep]
    o, h, low, c, v = (x[keep] for x in (o, h, low, c, v))
    n, m = c.shape
    symbols = np.array([s.symbol for s in securities], dtype=object)
    frame = pd.DataFrame({
        "symbol": np.repeat(symbols, n),
        "date": np.tile(days.astype("datetime64[ns]"), m),
        "open": o.T.ravel(),
        "high": h.T.ravel(),
        "low": low.T.ravel(),
        "close": c.T.ravel(),
        "adj_close": c.T.ravel(),
        "volume": v.T.ravel(),
    })
    return frame


def planted_component(securities: Sequence["Security"], start: date, end: date, *, seed: int,
                      strength: float) -> "pd.DataFrame":
    """For each (symbol, date): the planted expected log return from that date's close to the next.

    Columns: symbol, date, planted_next (NaN for the first RULE_WINDOW - 1 days). It is the exact
    quantity the generator adds to the next day's return, computed from closes up to ``date``
    only; the ML engineer can rank by it to get the best achievable precision on this market.
    Equivalent to ``planted_from_closes`` on the stored closes.
    """
    import numpy as np
    import pandas as pd

    securities = sorted(securities, key=lambda s: s.symbol)
    days, _, _, _, c, _, planted = _simulate(securities, start, end, seed, strength)
    nxt = np.full(c.shape, np.nan)
    nxt[:-1] = planted[1:]
    # the last day's expectation is not used by any simulated day; compute it from the rule
    if len(days) >= RULE_WINDOW:
        nxt[-1] = planted_rule(np.log(c[-RULE_WINDOW:]), strength)
    nxt[: RULE_WINDOW - 1] = np.nan
    n, m = c.shape
    frame = pd.DataFrame({
        "symbol": np.repeat(np.array([s.symbol for s in securities], dtype=object), n),
        "date": np.tile(days.astype("datetime64[ns]"), m),
        "planted_next": nxt.T.ravel(),
    })
    return frame


def symbols_in(securities: Iterable["Security"]) -> list[str]:
    return [s.symbol for s in securities]
