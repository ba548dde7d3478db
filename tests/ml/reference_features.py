"""The previous feature code (pandas grouped rolling/ewm, hand-written RSI/MACD/ATR), kept as the reference
that turbomode.ml.features must agree with (tests/ml/test_features.py) and as the "before" of
benchmarks/features.py. Not used by TurboMode itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PANEL_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume")

FEATURE_SET = 2  # 1: absolute directional features (before sector-relative ones)
RETURN_HORIZONS = (1, 5, 10, 21, 63, 126, 252)
VOL_WINDOWS = (10, 21, 63)
MA_WINDOWS = (10, 20, 50, 200)
BOLLINGER_DAYS = 20
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
    f"bollinger_z_{BOLLINGER_DAYS}",
    "volume_surprise",
    "volume_trend",
    "range_pos_52w",
)
# Which-way features, reported relative to the sector's mean on the same date (see above).
DIRECTIONAL: tuple[str, ...] = (
    *(f"ret_{h}" for h in RETURN_HORIZONS), "gap", "intraday", f"rsi_{RSI_DAYS}", "macd", "macd_hist",
    *(f"ma_dist_{w}" for w in MA_WINDOWS), "ma_50_200", f"bollinger_z_{BOLLINGER_DAYS}", "range_pos_52w",
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


def log_atr(panel: "pd.DataFrame", days: int) -> "pd.Series":
    """The average true range in log terms over ``days`` bars ending at each bar: the mean of
    max(log(high/low), |log(high/previous close)|, |log(low/previous close)|), per symbol.

    The trade rule's volatility (labels.sigma): in log terms a day's range means the same after
    a rise as after a fall. (An ATR in price units divided by today's close is smaller after a
    rise and larger after a fall, which made targets after a rise easier to reach.)
    """
    import numpy as np

    prev = _shift(panel["close"], panel["symbol"], 1)
    lh, ll = np.log(panel["high"]), np.log(panel["low"])
    lp = np.log(prev)
    tr = np.fmax(lh - ll, np.fmax((lh - lp).abs(), (ll - lp).abs()))
    return _roll(tr, panel["symbol"], days, "mean")


def atr(panel: "pd.DataFrame", days: int) -> "pd.Series":
    """Average true range over ``days`` bars ending at each bar (simple mean), aligned to a prepared panel.

    The label rule and the live targets/stops use exactly this value (labels.atr_days).
    """
    return _roll(true_range(panel), panel["symbol"], days, "mean")


def compute_features(panel: "pd.DataFrame", sectors: Mapping[str, str],
                     members: Mapping[str, tuple[str | None, str | None]] | None = None) -> "pd.DataFrame":
    """Feature table indexed by (symbol, date), columns FEATURE_NAMES plus 'sector', float32.

    ``panel``: long prices [symbol, date, open, high, low, close, volume] (adjusted).
    ``sectors``: symbol -> sector; symbols without one are dropped (they have no sector model).
    ``members``: symbol -> (added, removed) membership dates (data.universe.membership); a symbol's
    rows outside them have NaN features and do not count in its sector's same-date means (its bars
    before it joined still feed its own look-back windows: that history was public).
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
    f["atr_pct"] = log_atr(p, FEATURE_ATR_DAYS)  # in log terms, like every feature here: a mirrored
    f["range_pct"] = np.log(high / low)  # market (every log move negated) has the same volatility
    prev_close = _shift(close, sym, 1)
    f["gap"] = np.log(opn / prev_close)
    f["intraday"] = np.log(close / opn)

    # RSI with Wilder's smoothing (an EWM with alpha = 1/n), per symbol, on log closes: a mirrored
    # path (every log move negated) then has RSI 100 - RSI, as every directional feature here is
    # exactly odd under that mirror (see ``mirror``).
    diff = logc - _shift(logc, sym, 1)
    gain = _ewm(diff.clip(lower=0), sym, alpha=1.0 / RSI_DAYS)
    loss = _ewm((-diff).clip(lower=0), sym, alpha=1.0 / RSI_DAYS)
    with np.errstate(divide="ignore", invalid="ignore"):
        f[f"rsi_{RSI_DAYS}"] = 100.0 - 100.0 / (1.0 + gain / loss)  # no losses at all: 100

    macd = _ewm(logc, sym, span=12) - _ewm(logc, sym, span=26)  # in log terms: a share of the price
    signal = _ewm(macd, sym, span=9)
    f["macd"] = macd
    f["macd_hist"] = macd - signal

    means = {w: _roll(logc, sym, w, "mean") for w in MA_WINDOWS}
    for w, mean in means.items():
        f[f"ma_dist_{w}"] = logc - mean
    f["ma_50_200"] = means[50] - means[200]
    sd = _roll(logc, sym, BOLLINGER_DAYS, "std")
    f[f"bollinger_z_{BOLLINGER_DAYS}"] = (logc - means[BOLLINGER_DAYS]) / sd.replace(0.0, np.nan)

    # Volume surprise: today's volume against the mean of the 20 bars before it (log ratio).
    logv = np.log1p(vol.clip(lower=0))
    prior_mean = _shift(_roll(logv, sym, 20, "mean"), sym, 1)
    f["volume_surprise"] = logv - prior_mean
    f["volume_trend"] = _roll(logv, sym, 5, "mean") - _roll(logv, sym, 63, "mean")

    hi52 = np.log(_roll(high, sym, YEAR, "max"))
    lo52 = np.log(_roll(low, sym, YEAR, "min"))
    f["range_pos_52w"] = (logc - lo52) / (hi52 - lo52).replace(0.0, np.nan) - 0.5

    out = pd.DataFrame({name: f[name] for name in FEATURE_NAMES})
    out = out.replace([np.inf, -np.inf], np.nan)
    # The warm-up: a row is usable only once the longest window is full (before the sector means,
    # so a stock still warming up does not pull its sector's mean).
    n_before = sym.groupby(sym, sort=False).cumcount()
    out.loc[(n_before < WARMUP_BARS).to_numpy(), :] = np.nan
    if members:
        from turbomode.data.universe import member_mask

        out.loc[~member_mask(sym.to_numpy(), p["date"].to_numpy(), dict(members)), :] = np.nan
    sector = sym.map(dict(sectors))
    keys = [sector.to_numpy(), p["date"].to_numpy()]
    directional = list(DIRECTIONAL)
    out[directional] = out[directional] - out[directional].groupby(keys, sort=False).transform("mean")
    out = out.astype("float32")
    out["sector"] = sector.to_numpy()
    out.index = pd.MultiIndex.from_arrays([sym.to_numpy(), p["date"].to_numpy()], names=["symbol", "date"])
    return out


def mirror(X: "np.ndarray", names: "list[str] | tuple[str, ...]") -> "np.ndarray":
    """The feature rows of the mirror-image market (every log move negated): directional features
    change sign (each is odd under the mirror: log returns and distances, RSI - 50 and the 52-week
    position after the sector mean is taken out), the others (volatility, volume) stay. A BUY in
    the mirror is a SELL here, which is how the models are kept free of a side prior
    (ml/calibration.py)."""
    import numpy as np

    out = np.array(X, copy=True)
    cols = [i for i, n in enumerate(names) if n in DIRECTIONAL]
    out[:, cols] = -out[:, cols]
    return out


def usable(features: "pd.DataFrame") -> "pd.Series":
    """True for rows whose every feature is known (past the warm-up, no gaps)."""
    return features[list(FEATURE_NAMES)].notna().all(axis=1)


def latest(features: "pd.DataFrame") -> "pd.DataFrame":
    """Each symbol's last row (what a scan predicts from)."""
    return features.groupby(level="symbol", sort=False).tail(1)


def indicators(p: "pd.DataFrame") -> dict:
    """RSI(14) and MACD(12, 26, 9) with its signal line on log closes, and the 14-day true range means
    (log and price units), as the previous code computed them: float64 arrays aligned to the prepared
    panel ``p``."""
    import numpy as np

    sym = p["symbol"]
    logc = np.log(p["close"])
    diff = logc - _shift(logc, sym, 1)
    gain = _ewm(diff.clip(lower=0), sym, alpha=1.0 / RSI_DAYS)
    loss = _ewm((-diff).clip(lower=0), sym, alpha=1.0 / RSI_DAYS)
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + gain / loss)
    macd = _ewm(logc, sym, span=12) - _ewm(logc, sym, span=26)
    signal = _ewm(macd, sym, span=9)
    return {"rsi": rsi.to_numpy(), "macd": macd.to_numpy(), "signal": signal.to_numpy(),
            "log_atr": log_atr(p, FEATURE_ATR_DAYS).to_numpy(), "atr": atr(p, FEATURE_ATR_DAYS).to_numpy()}
