"""The embedded sample market (SPEC §7): deterministic, offline, realistic, and with a known answer.

Every bar is a function of (seed, the universe's symbols and sectors, business-day index since the
market's first day):

* log returns = drift + planted + beta x market + loading x sector + idiosyncratic + jumps;
  market, sector and idiosyncratic shocks each follow a GARCH(1,1) variance with unit-variance
  Student-t (5 degrees of freedom) innovations, so volatility clusters and tails are fat;
* occasional jumps (earnings-like), mostly overnight, so they show as gaps;
* OHLC: the open is the previous close moved by an overnight gap that carries part of the day's
  move; the high/low extend beyond max/min(open, close) by a volatility-scaled amount;
* volume: a per-symbol base, a persistent AR(1) level, and surprises proportional to |return|/vol;
* the planted predictable part is *idiosyncratic*: each stock's log close is pulled back towards
  its own 20-day mean (scaled by its 20-day realised volatility), and on every date that pull is
  demeaned within the stock's sector. So about half of the planted drifts point up and half down
  whatever the market and the sector do, and an honest model gives a two-sided signal mix.
  It reads past *stored* closes only (rounded to cents), so it can be recomputed exactly from the
  database. ``strength`` 0 removes it: the market is then a random walk in which no model can find
  an edge.
* The log drift is zero (the mean of the market's crash-like jumps is offset), so on a random walk
  a BUY and a SELL trade with barriers symmetric in log price have the same chance; prices still
  rise about 4 %/year on average (the arithmetic mean of a log-symmetric walk).

Random numbers come from one stream per (symbol or sector or market, quantity), consumed one value
per day from the first day, so the bars up to any date are identical whatever ``end`` is. A symbol's
bars depend on its sector's other members (the planted drift is demeaned among them) and on nothing
else; ``generate(..., symbols=[...])`` simulates the whole universe and returns only those.

The generator also knows its own answer (``oracle``): for a symbol and session, the probability that
a BUY (and a SELL) trade under the product's barrier and fill rules (ml/labels.py) reaches its
target first, by Monte Carlo from the generator's own state at that close. Model quality is
measured as a share of that best-possible forecast.
There are no dividends or splits: adj_close == close.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Sequence
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
JUMP_PROB = 0.004  # per symbol per day (~1 a year)
JUMP_SIZE = 0.05  # standard deviation of a jump's log size
MARKET_JUMP_PROB = 0.002
MARKET_JUMP_SIZE = 0.03
MARKET_JUMP_MEAN = -0.01  # market jumps are crash-like on average
DRIFT = -MARKET_JUMP_PROB * MARKET_JUMP_MEAN  # daily log drift that makes the mean log return zero
GAP_SHARE = 0.3  # part of the day's diffusive move that happens overnight
PLANTED_K = 0.4  # planted drift = strength x K x vol20 x -tanh(distance / 2), demeaned in the sector
RULE_WINDOW = 20  # closes in the rule's mean and returns in its volatility
DEFAULT_VOL = 0.02
ORACLE_PATHS = 400

# Quantity ids of the per-symbol random streams (fixed forever: changing them changes the market).
_Q_PARAMS, _Q_IDIO, _Q_JUMP_U, _Q_JUMP_Z, _Q_GAP, _Q_RANGE, _Q_VOL = range(7)


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def _stream(seed: int, kind: int, name: str, quantity: int):
    import numpy as np

    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, kind, _key(name), quantity])))


def _unit_t(rng, size):
    import numpy as np

    return rng.standard_t(T_DF, size=size) * np.sqrt((T_DF - 2.0) / T_DF)


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

def planted_rule(log_closes, strength: float, sector_index=None):
    """Planted expected next-day log return, given the last RULE_WINDOW log closes.

    ``log_closes``: array (RULE_WINDOW, ..., n_symbols), oldest first, the newest being the day the
    expectation is formed on. With ``sector_index`` (n_symbols ints) — what the generator uses —
    each stock's path is first taken relative to its sector (log close minus the sector's mean log
    close, day by day), the pull is computed on that relative path, and the result is demeaned
    within the sector: a stock that ran ahead of its sector is pulled back, whatever the market
    and the sector did. Without it, the raw pull of each stock's own path.
    """
    import numpy as np

    if strength == 0.0:
        return np.zeros(log_closes.shape[1:])
    path = log_closes if sector_index is None else log_closes - sector_means(log_closes, sector_index)
    r = np.diff(path, axis=0)
    vol = np.sqrt(np.mean(r * r, axis=0))
    vol = np.where(vol > 0, vol, DEFAULT_VOL)
    dist = (path[-1] - np.mean(path, axis=0)) / vol
    raw = -strength * PLANTED_K * vol * np.tanh(dist / 2.0)
    if sector_index is None:
        return raw
    return raw - sector_means(raw, sector_index)


def sector_means(values, sector_index):
    """Each symbol's sector mean of ``values`` (last axis = symbols), broadcast back to the symbols."""
    import numpy as np

    sector_index = np.asarray(sector_index)
    k = int(sector_index.max()) + 1
    onehot = np.zeros((len(sector_index), k))
    onehot[np.arange(len(sector_index)), sector_index] = 1.0
    means = (values @ onehot) / onehot.sum(axis=0)
    return means[..., sector_index]


def sector_index_of(sectors: Sequence[str]):
    """Integer sector codes (sorted sector names) for a list of per-symbol sectors."""
    import numpy as np

    names = sorted(set(sectors))
    return np.array([names.index(s) for s in sectors], dtype=int)


def planted_from_closes(closes, strength: float, sectors: Sequence[str] | None = None):
    """Planted expected log return from each close to the next, for a (days, symbols) array of closes.

    Row t uses closes 0..t only (NaN for the first RULE_WINDOW - 1 rows). ``sectors`` gives each
    column's sector; with the universe's whole sectors (as the generator simulates them) this
    reproduces exactly what the sample market added to every next day's return.
    """
    import numpy as np

    closes = np.asarray(closes, dtype=float)
    squeeze = closes.ndim == 1
    if squeeze:
        closes = closes[:, None]
    idx = None if sectors is None else sector_index_of(list(sectors))
    logc = np.log(closes)
    out = np.full(closes.shape, np.nan)
    for t in range(RULE_WINDOW - 1, closes.shape[0]):
        out[t] = planted_rule(logc[t - RULE_WINDOW + 1 : t + 1], strength, idx)
    return out[:, 0] if squeeze else out


# --- the generator ---------------------------------------------------------------------------

def _garch_omega(vol: "np.ndarray | float"):
    return (1.0 - GARCH_ALPHA - GARCH_BETA) * vol * vol


@dataclass
class _Market:
    """Per-symbol constants of one universe (sorted by symbol)."""

    symbols: list[str]
    sec_idx: "np.ndarray"
    n_sectors: int
    beta: "np.ndarray"
    load: "np.ndarray"
    ivol: "np.ndarray"
    p0: "np.ndarray"
    vbase: "np.ndarray"

    @property
    def expected_vol(self):
        import numpy as np

        return np.sqrt(self.beta**2 * MARKET_VOL**2 + self.load**2 * SECTOR_VOL**2 + self.ivol**2)


@dataclass
class _State:
    """The generator's state after a close: everything tomorrow's bar depends on.

    Arrays may carry leading axes (Monte Carlo paths) before the symbol/sector axis."""

    hm: Any  # market GARCH variance (...)
    hs: Any  # sector variances (..., n_sectors)
    hi: Any  # idiosyncratic variances (..., m)
    em2: Any
    es2: Any
    ei2: Any
    logc: Any  # the last RULE_WINDOW log closes (RULE_WINDOW, ..., m), oldest first; NaN until filled
    prev_close: Any  # (..., m)
    days: int  # closes so far

    def branch(self, paths: int) -> "_State":
        import numpy as np

        rep = lambda a: np.broadcast_to(np.asarray(a), (paths, *np.shape(a))).copy()  # noqa: E731
        return _State(rep(self.hm), rep(self.hs), rep(self.hi), rep(self.em2), rep(self.es2), rep(self.ei2),
                      np.broadcast_to(self.logc[:, None], (self.logc.shape[0], paths, *self.logc.shape[1:])).copy(),
                      rep(self.prev_close), self.days)


def _market(securities: Sequence["Security"], seed: int) -> _Market:
    import numpy as np

    symbols = [s.symbol for s in securities]
    m = len(symbols)
    beta, load, ivol, p0, vbase = (np.empty(m) for _ in range(5))
    for j, sym in enumerate(symbols):
        pr = _stream(seed, 0, sym, _Q_PARAMS).random(5)
        beta[j] = 0.6 + 0.8 * pr[0]
        load[j] = 0.5 + 0.7 * pr[1]
        ivol[j] = IDIO_VOL_RANGE[0] + (IDIO_VOL_RANGE[1] - IDIO_VOL_RANGE[0]) * pr[2]
        p0[j] = float(np.exp(np.log(15.0) + pr[3] * np.log(300.0 / 15.0)))
        vbase[j] = float(np.exp(np.log(5e5) + pr[4] * np.log(4e7 / 5e5)))
    sec_idx = sector_index_of([s.sector for s in securities])
    return _Market(symbols, sec_idx, int(sec_idx.max()) + 1 if m else 0, beta, load, ivol, p0, vbase)


def _initial_state(mk: _Market) -> _State:
    import numpy as np

    hs = np.full(mk.n_sectors, SECTOR_VOL**2)
    return _State(MARKET_VOL**2, hs, mk.ivol**2, MARKET_VOL**2, hs.copy(), mk.ivol**2,
                  np.full((RULE_WINDOW, len(mk.symbols)), np.nan), np.round(mk.p0, 2), 0)


def _step(mk: _Market, s: _State, z: dict[str, Any], strength: float) -> dict[str, Any]:
    """One day: advance ``s`` in place and return the day's open, high, low, close, planted drift.

    ``z`` holds the day's shocks, shaped like the state's leading axes: mkt, mjump (...),
    sec (..., n_sectors), idio, jump, gap, hi, lo (..., m).
    """
    import numpy as np

    a, b = GARCH_ALPHA, GARCH_BETA
    s.hm = _garch_omega(MARKET_VOL) + a * s.em2 + b * s.hm
    em = np.sqrt(s.hm) * z["mkt"]
    s.em2 = em * em
    s.hs = _garch_omega(SECTOR_VOL) + a * s.es2 + b * s.hs
    es = np.sqrt(s.hs) * z["sec"]
    s.es2 = es * es
    s.hi = _garch_omega(mk.ivol) + a * s.ei2 + b * s.hi
    ei = np.sqrt(s.hi) * z["idio"]
    s.ei2 = ei * ei
    if s.days >= RULE_WINDOW:
        planted = planted_rule(s.logc, strength, mk.sec_idx)
    else:
        planted = np.zeros(np.shape(s.prev_close))
    em_, hm_, mj = (np.asarray(x)[..., None] for x in (em, s.hm, z["mjump"]))
    diffusive = mk.beta * em_ + mk.load * es[..., mk.sec_idx] + ei
    overnight_jump = z["jump"] + mj
    r = DRIFT + planted + diffusive + overnight_jump
    prev = s.prev_close
    c = np.maximum(np.round(prev * np.exp(r), 2), 0.01)
    day_vol = np.sqrt(mk.beta**2 * hm_ + mk.load**2 * s.hs[..., mk.sec_idx] + s.hi)
    gap = GAP_SHARE * diffusive + overnight_jump + 0.15 * day_vol * z["gap"]
    o = np.maximum(np.round(prev * np.exp(gap), 2), 0.01)
    high = np.round(np.maximum(o, c) * np.exp(0.5 * day_vol * z["hi"]), 2)
    low = np.maximum(np.round(np.minimum(o, c) * np.exp(-0.5 * day_vol * z["lo"]), 2), 0.01)
    s.logc = np.concatenate([s.logc[1:], np.log(c)[None]], axis=0)
    s.prev_close = c
    s.days += 1
    return {"open": o, "high": high, "low": low, "close": c, "planted": planted, "prev_close": prev}


def _simulate(securities: Sequence["Security"], origin: date, end: date, seed: int, strength: float,
              keep_states: Sequence[int] = ()):
    """Arrays (days, m) of open, high, low, close, volume and planted from ``origin`` to ``end``;
    plus the generator's state after each day index in ``keep_states`` (for the oracle)."""
    import copy

    import numpy as np

    days = business_days(origin, end)
    n, m = len(days), len(securities)
    mk = _market(securities, seed)
    z = {k: np.empty((n, m)) for k in ("idio", "jump", "gap", "hi", "lo", "vol")}
    for j, sym in enumerate(mk.symbols):
        z["idio"][:, j] = _unit_t(_stream(seed, 0, sym, _Q_IDIO), n)
        u = _stream(seed, 0, sym, _Q_JUMP_U).random(n)
        jz = _stream(seed, 0, sym, _Q_JUMP_Z).standard_normal(n)
        z["jump"][:, j] = np.where(u < JUMP_PROB, jz * JUMP_SIZE, 0.0)
        z["gap"][:, j] = _stream(seed, 0, sym, _Q_GAP).standard_normal(n)
        hl = _stream(seed, 0, sym, _Q_RANGE).standard_normal(2 * n).reshape(n, 2)
        z["hi"][:, j], z["lo"][:, j] = np.abs(hl[:, 0]), np.abs(hl[:, 1])
        z["vol"][:, j] = _stream(seed, 0, sym, _Q_VOL).standard_normal(n)
    z_mkt = _unit_t(_stream(seed, 1, "market", 0), n)
    mu = _stream(seed, 1, "market", 1).random(n)
    mz = _stream(seed, 1, "market", 2).standard_normal(n)
    mjump = np.where(mu < MARKET_JUMP_PROB, mz * MARKET_JUMP_SIZE + MARKET_JUMP_MEAN, 0.0)
    names = sorted({s.sector for s in securities})
    z_sec = np.empty((n, len(names)))
    for k, sec in enumerate(names):
        z_sec[:, k] = _unit_t(_stream(seed, 2, sec, 0), n)

    out = {k: np.empty((n, m)) for k in ("open", "high", "low", "close", "volume", "planted")}
    state = _initial_state(mk)
    keep = set(int(k) for k in keep_states)
    states: dict[int, _State] = {}
    vlevel = np.zeros(m)
    expected_vol = mk.expected_vol
    for t in range(n):
        day = {"mkt": z_mkt[t], "mjump": mjump[t], "sec": z_sec[t], "idio": z["idio"][t], "jump": z["jump"][t],
               "gap": z["gap"][t], "hi": z["hi"][t], "lo": z["lo"][t]}
        bar = _step(mk, state, day, strength)
        for k in ("open", "high", "low", "close", "planted"):
            out[k][t] = bar[k]
        surprise = np.abs(np.log(bar["close"] / bar["prev_close"])) / expected_vol
        vlevel = 0.9 * vlevel + 0.1 * z["vol"][t]
        out["volume"][t] = np.round(mk.vbase * np.exp(0.9 * vlevel + 0.25 * z["vol"][t]
                                                      + 0.35 * (np.minimum(surprise, 6.0) - 0.8)))
        if t in keep:
            states[t] = copy.deepcopy(state)
    return days, out, mk, states


def _sorted(securities: Sequence["Security"]) -> list["Security"]:
    return sorted(securities, key=lambda s: s.symbol)


def _long(days, arrays: dict[str, Any], symbols: Sequence[str], columns: Sequence[str], keep_cols=None):
    import numpy as np
    import pandas as pd

    cols = np.arange(len(symbols)) if keep_cols is None else np.asarray(keep_cols, dtype=int)
    n = len(days)
    data = {"symbol": np.repeat(np.asarray(symbols, dtype=object)[cols], n),
            "date": np.tile(days.astype("datetime64[ns]"), len(cols))}
    for c in columns:
        data[c] = arrays[c][:, cols].T.ravel()
    return pd.DataFrame(data)


def _columns_of(symbols: Sequence[str], wanted: Iterable[str] | None):
    if wanted is None:
        return None
    pos = {s: i for i, s in enumerate(symbols)}
    return [pos[s] for s in sorted(set(wanted)) if s in pos]


def generate(securities: Sequence["Security"], start: date, end: date, *, seed: int, strength: float,
             since: date | None = None, symbols: Iterable[str] | None = None) -> "pd.DataFrame":
    """The sample market's daily bars, long format, sorted by symbol then date.

    ``securities``: the whole universe the market is made of (the planted drift is demeaned within
    each of its sectors). ``start`` is the market's first business day (config
    ``data.sample.start``): the simulation always begins there, so the bars are the same whatever
    ``end`` is. ``since`` drops earlier bars and ``symbols`` keeps only those symbols (incremental
    ingests). Columns: symbol, date (datetime64, midnight), open, high, low, close, adj_close, volume.
    """
    import numpy as np

    securities = _sorted(securities)
    days, a, mk, _ = _simulate(securities, start, end, seed, strength)
    keep = np.ones(len(days), dtype=bool) if since is None else days >= np.datetime64(since, "D")
    a = {k: v[keep] for k, v in a.items()}
    a["adj_close"] = a["close"]
    return _long(days[keep], a, mk.symbols, ("open", "high", "low", "close", "adj_close", "volume"),
                 _columns_of(mk.symbols, symbols))


def planted_component(securities: Sequence["Security"], start: date, end: date, *, seed: int,
                      strength: float) -> "pd.DataFrame":
    """For each (symbol, date): the planted expected log return from that date's close to the next.

    Columns: symbol, date, planted_next (NaN for the first RULE_WINDOW - 1 days). It is the exact
    quantity the generator adds to the next day's return, computed from closes up to ``date``
    only (``planted_from_closes`` of the stored closes with the sectors gives the same).
    """
    import numpy as np

    securities = _sorted(securities)
    days, a, mk, _ = _simulate(securities, start, end, seed, strength)
    c, planted = a["close"], a["planted"]
    nxt = np.full(c.shape, np.nan)
    nxt[:-1] = planted[1:]
    if len(days) >= RULE_WINDOW:  # the last day's expectation is not used by any simulated day
        nxt[-1] = planted_rule(np.log(c[-RULE_WINDOW:]), strength, mk.sec_idx)
    nxt[: RULE_WINDOW - 1] = np.nan
    return _long(days, {"planted_next": nxt}, mk.symbols, ("planted_next",))


# --- the Bayes oracle ----------------------------------------------------------------------

def oracle(securities: Sequence["Security"], start: date, end: date, *, seed: int, strength: float,
           label_params: Any, dates: Sequence[Any] | None = None, paths: int = ORACLE_PATHS,
           symbols: Iterable[str] | None = None) -> "pd.DataFrame":
    """The best possible forecast on this market: per (symbol, session) the probability that a BUY
    and a SELL trade under the product's rule reaches its target first.

    For each requested session D the generator's state at D's close is branched into ``paths``
    futures (fresh shocks from the generator's own laws, the sector's planted drifts evolving with
    the simulated prices), and each future is judged exactly as labels are (ml.labels.trade_outcomes:
    filled at D+1's open, target and stop at fill x exp(+-k x sigma) with sigma = ATR/close at D,
    first touch over the horizon, a bar touching both is a stop). ``dates`` default: every session
    whose horizon ends by ``end``. Columns: symbol, date, p_buy, p_sell (Monte Carlo standard error
    at most 0.5 / sqrt(paths)).
    """
    import numpy as np
    import pandas as pd

    from turbomode.ml.labels import TARGET, LabelParams, relative_vol, trade_outcomes

    p = LabelParams.from_config(label_params)
    securities = _sorted(securities)
    all_days = business_days(start, end)
    if dates is None:
        idx = np.arange(max(p.atr_days, RULE_WINDOW), len(all_days) - p.horizon_days)
    else:
        want = pd.to_datetime(pd.Index(dates)).to_numpy().astype("datetime64[D]")
        idx = np.searchsorted(all_days, want)
        idx = idx[(idx < len(all_days)) & (all_days[np.minimum(idx, len(all_days) - 1)] == want)]
    days, a, mk, states = _simulate(securities, start, end, seed, strength, keep_states=idx)
    sigma_all = relative_vol(a["high"], a["low"], a["close"], p.atr_days)  # (days, m), known at each close
    cols = _columns_of(mk.symbols, symbols)
    cols = np.arange(len(mk.symbols)) if cols is None else np.asarray(cols)
    rows = []
    for t in idx:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 7, int(t)])))
        s = states[int(t)].branch(paths)
        m = len(mk.symbols)
        bars = {k: np.empty((p.horizon_days, paths, m)) for k in ("open", "high", "low", "close")}
        for k in range(p.horizon_days):
            u = rng.random(paths)
            z = {"mkt": _unit_t(rng, paths),
                 "mjump": np.where(u < MARKET_JUMP_PROB, rng.standard_normal(paths) * MARKET_JUMP_SIZE
                                   + MARKET_JUMP_MEAN, 0.0),
                 "sec": _unit_t(rng, (paths, mk.n_sectors)),
                 "idio": _unit_t(rng, (paths, m)),
                 "jump": np.where(rng.random((paths, m)) < JUMP_PROB, rng.standard_normal((paths, m)) * JUMP_SIZE,
                                  0.0),
                 "gap": rng.standard_normal((paths, m)),
                 "hi": np.abs(rng.standard_normal((paths, m))), "lo": np.abs(rng.standard_normal((paths, m)))}
            bar = _step(mk, s, z, strength)
            for key in bars:
                bars[key][k] = bar[key]
        sigma = np.broadcast_to(sigma_all[t], (paths, m))
        probs = {}
        for side in ("BUY", "SELL"):
            r = trade_outcomes(bars["open"], bars["high"], bars["low"], bars["close"], sigma, side, p)
            probs[side] = (r["outcome"] == TARGET).mean(axis=0)
        ok = np.isfinite(sigma_all[t])
        for j in cols:
            if ok[j]:
                rows.append((mk.symbols[j], days[t], probs["BUY"][j], probs["SELL"][j]))
    out = pd.DataFrame(rows, columns=["symbol", "date", "p_buy", "p_sell"])
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def symbols_in(securities: Iterable["Security"]) -> list[str]:
    return [s.symbol for s in securities]
