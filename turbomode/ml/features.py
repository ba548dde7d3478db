"""Features per (symbol, date), computed only from bars up to and including that date.

Everything is vectorised over the whole long panel: per-symbol windows use pandas' grouped
rolling/ewm (which restart at every symbol, so appending bars to one symbol changes nothing for
another), and the sector-relative features compare a stock with its sector's mean on the same
date only. A row whose longest window is not yet full has NaN features; training drops it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PANEL_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume")

RETURN_HORIZONS = (1, 5, 10, 21, 63, 126, 252)
VOL_WINDOWS = (10, 21, 63)
MA_WINDOWS = (10, 50, 200)
RSI_DAYS = 14
FEATURE_ATR_DAYS = 14
YEAR = 252
# The longest look-back any feature needs: rows with fewer bars before them are not usable.
WARMUP_BARS = YEAR + 1
# Calendar days of history a scan must read so that the session's row is past the warm-up
# (253 sessions is about 367 calendar days; holidays and margin make 420).
LOOKBACK_CALENDAR_DAYS = 420

FEATURE_NAMES: tuple[str, ...] = (
    *(f"ret_{h}" for h in RETURN_HORIZONS),
    *(f"vol_{w}" for w in VOL_WINDOWS),
    "vol_ratio_10_63",
    "atr_pct",
    "range_pct",
    "gap",
    "intraday",
    f"rsi_{RSI_DAYS}",
    "macd",
    "macd_hist",
    *(f"ma_dist_{w}" for w in MA_WINDOWS),
    "ma_50_200",
    "volume_surprise",
    "volume_trend",
    "range_pos_52w",
    "dist_high_52w",
    "sector_rel_1",
    "sector_rel_5",
    "sector_rel_21",
    "sector_rel_63",
    "market_rel_21",
    "sector_breadth_21",
)


def prepare_panel(panel: "pd.DataFrame") -> "pd.DataFrame":
    """The panel with the columns we use, dates as datetime64, sorted by (symbol, date), no duplicates."""
    import pandas as pd

    missing = [c for c in PANEL_COLUMNS if c not in panel.columns]
    if missing:
        raise ValueError(f"price panel lacks column(s) {', '.join(missing)}")
    out = panel.loc[:, list(PANEL_COLUMNS)].copy()
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    out["symbol"] = out["symbol"].astype(str)
    for c in ("open", "high", "low", "close", "volume"):
        out[c] = out[c].astype("float64")
    out = out.drop_duplicates(["symbol", "date"], keep="last")
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def _grouped(s: "pd.Series", keys: "pd.Series"):
    return s.groupby(keys, sort=False)


def _roll(s: "pd.Series", keys: "pd.Series", window: int, how: str) -> "pd.Series":
    """A per-symbol rolling statistic aligned to ``s`` (window must be full)."""
    r = getattr(_grouped(s, keys).rolling(window, min_periods=window), how)()
    return r.droplevel(0).sort_index()


def _ewm(s: "pd.Series", keys: "pd.Series", **kw) -> "pd.Series":
    r = _grouped(s, keys).ewm(adjust=False, **kw).mean()
    return r.droplevel(0).sort_index()


def _shift(s: "pd.Series", keys: "pd.Series", n: int) -> "pd.Series":
    return _grouped(s, keys).shift(n)


def true_range(p: "pd.DataFrame") -> "pd.Series":
    """max(high - low, |high - previous close|, |low - previous close|), per symbol."""
    import numpy as np

    prev = _shift(p["close"], p["symbol"], 1)
    hl = p["high"] - p["low"]
    tr = np.fmax(hl, np.fmax((p["high"] - prev).abs(), (p["low"] - prev).abs()))
    return tr  # first bar of a symbol: high - low (fmax ignores the NaN)


def atr(panel: "pd.DataFrame", days: int) -> "pd.Series":
    """Average true range over ``days`` bars ending at each bar (simple mean), aligned to a prepared panel.

    The label rule and the live targets/stops use exactly this value (labels.atr_days).
    """
    return _roll(true_range(panel), panel["symbol"], days, "mean")


def compute_features(panel: "pd.DataFrame", sectors: Mapping[str, str]) -> "pd.DataFrame":
    """Feature table indexed by (symbol, date), columns FEATURE_NAMES plus 'sector', float32.

    ``panel``: long prices [symbol, date, open, high, low, close, volume] (adjusted).
    ``sectors``: symbol -> sector; symbols without one are dropped (they have no sector model).
    Rows inside the warm-up (fewer than WARMUP_BARS bars of history) are kept with NaN features.
    """
    import numpy as np
    import pandas as pd

    p = prepare_panel(panel)
    p = p[p["symbol"].isin(list(sectors))].reset_index(drop=True)
    sym = p["symbol"]
    close, high, low, opn, vol = p["close"], p["high"], p["low"], p["open"], p["volume"]
    logc = np.log(close)
    f: dict[str, pd.Series] = {}

    for h in RETURN_HORIZONS:
        f[f"ret_{h}"] = logc - _shift(logc, sym, h)
    r1 = f["ret_1"]
    for w in VOL_WINDOWS:
        f[f"vol_{w}"] = _roll(r1, sym, w, "std")
    f["vol_ratio_10_63"] = f["vol_10"] / f["vol_63"]
    a = atr(p, FEATURE_ATR_DAYS)
    f["atr_pct"] = a / close
    f["range_pct"] = (high - low) / close
    prev_close = _shift(close, sym, 1)
    f["gap"] = np.log(opn / prev_close)
    f["intraday"] = np.log(close / opn)

    # RSI with Wilder's smoothing (an EWM with alpha = 1/n), per symbol.
    diff = close - prev_close
    gain = _ewm(diff.clip(lower=0), sym, alpha=1.0 / RSI_DAYS)
    loss = _ewm((-diff).clip(lower=0), sym, alpha=1.0 / RSI_DAYS)
    with np.errstate(divide="ignore", invalid="ignore"):
        f[f"rsi_{RSI_DAYS}"] = 100.0 - 100.0 / (1.0 + gain / loss)  # no losses at all: 100

    macd = _ewm(close, sym, span=12) - _ewm(close, sym, span=26)
    signal = _ewm(macd, sym, span=9)
    f["macd"] = macd / close
    f["macd_hist"] = (macd - signal) / close

    smas = {w: _roll(close, sym, w, "mean") for w in MA_WINDOWS}
    for w, sma in smas.items():
        f[f"ma_dist_{w}"] = close / sma - 1.0
    f["ma_50_200"] = smas[50] / smas[200] - 1.0

    # Volume surprise: today's volume against the mean of the 20 bars before it (log ratio).
    logv = np.log1p(vol.clip(lower=0))
    prior_mean = _shift(_roll(logv, sym, 20, "mean"), sym, 1)
    f["volume_surprise"] = logv - prior_mean
    f["volume_trend"] = _roll(logv, sym, 5, "mean") - _roll(logv, sym, 63, "mean")

    hi52 = _roll(high, sym, YEAR, "max")
    lo52 = _roll(low, sym, YEAR, "min")
    f["range_pos_52w"] = (close - lo52) / (hi52 - lo52).replace(0.0, np.nan)
    f["dist_high_52w"] = close / hi52 - 1.0

    # Relative strength: the stock's return minus its sector's (or the market's) mean return over
    # the same horizon on the same date. Only same-date values enter each mean.
    sector = sym.map(dict(sectors))
    date = p["date"]
    for h in (1, 5, 21, 63):
        r = f[f"ret_{h}"]
        f[f"sector_rel_{h}"] = r - r.groupby([sector, date], sort=False).transform("mean")
    f["market_rel_21"] = f["ret_21"] - f["ret_21"].groupby(date, sort=False).transform("mean")
    up = (f["ret_21"] > 0).astype("float64").where(f["ret_21"].notna())
    f["sector_breadth_21"] = up.groupby([sector, date], sort=False).transform("mean")

    out = pd.DataFrame({name: f[name] for name in FEATURE_NAMES})
    out = out.replace([np.inf, -np.inf], np.nan).astype("float32")
    # The warm-up: a row is usable only once the longest window is full.
    n_before = sym.groupby(sym, sort=False).cumcount()
    out.loc[(n_before < WARMUP_BARS).to_numpy(), :] = np.nan
    out["sector"] = sector.to_numpy()
    out.index = pd.MultiIndex.from_arrays([sym.to_numpy(), date.to_numpy()], names=["symbol", "date"])
    return out


def usable(features: "pd.DataFrame") -> "pd.Series":
    """True for rows whose every feature is known (past the warm-up, no gaps)."""
    return features[list(FEATURE_NAMES)].notna().all(axis=1)


def latest(features: "pd.DataFrame") -> "pd.DataFrame":
    """Each symbol's last row (what a scan predicts from)."""
    return features.groupby(level="symbol", sort=False).tail(1)
