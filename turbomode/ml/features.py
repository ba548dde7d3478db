"""Features per (symbol, date), computed only from bars up to and including that date.

The long panel is sorted by (symbol, date) and handled as whole numpy columns. A per-symbol rolling
statistic or shift is computed over the whole column at once and then blanked wherever its window
would begin before the symbol's first bar, which leaves exactly the per-symbol values (so appending
bars to one symbol changes nothing for another). RSI, MACD and the true range are TA-Lib's, run on
each symbol's runs of complete bars (a bar with a missing price ends a run; the next starts afresh,
as a new symbol would). A row whose longest window is not yet full has NaN features; training drops
it. This replaced pandas' grouped rolling/ewm and hand-written RSI/MACD/ATR, ~6x slower on the sample
market (benchmarks/features.py); tests/ml/test_features.py holds the agreement with that code.

Directional features are relative to the sector: every feature that says which way a stock has
been going (returns, moving-average distances, RSI, MACD, range position, gaps) is reported as the
stock's value minus the mean of its sector's stocks on the same date. A sector model then sees
*which* stocks of its sector stand out, not where the sector or the market as a whole went: what a
whole sector shares on a date is one draw, and a model fitted on years of such draws learns the
trend of its training years and points every stock of the sector the same way (the old system's
"95% SELL"). Volatility and volume features stay absolute: they say how far a stock may move, not
which way, and they move both sides' chances alike. ``FEATURE_SET`` changes whenever the meaning of
a feature does, so a model trained on another set is refused rather than fed numbers it never saw.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
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
    if _sorted_and_unique(out["symbol"].to_numpy(), out["date"].to_numpy()):
        return out.reset_index(drop=True)  # as read_panel returns it: nothing to drop or reorder
    out = out.drop_duplicates(["symbol", "date"], keep="last")
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def _sorted_and_unique(symbols: "np.ndarray", dates: "np.ndarray") -> bool:
    """True when rows are already in (symbol, date) order with no (symbol, date) twice."""
    import numpy as np
    import pandas as pd

    if len(symbols) < 2:
        return True
    codes = pd.factorize(symbols, sort=True)[0]
    step = np.diff(codes)
    later = np.diff(dates.astype("int64")) > 0
    return bool(((step > 0) | ((step == 0) & later)).all())


class _Layout:
    """Where each symbol's rows are in a prepared panel: run starts and each row's position in its run."""

    def __init__(self, symbols: "np.ndarray", codes: "np.ndarray | None" = None):
        import numpy as np
        import pandas as pd

        n = len(symbols)
        if codes is None:
            codes = pd.factorize(symbols)[0]
        first = np.ones(n, dtype=bool)
        first[1:] = codes[1:] != codes[:-1]
        self.starts = np.flatnonzero(first)
        self.ends = np.append(self.starts[1:], n) if n else self.starts.copy()
        self.run_start = np.repeat(self.starts, self.ends - self.starts).astype(np.int64)  # each row's symbol's first
        self.pos = np.arange(n) - self.run_start

    def shift(self, x: "np.ndarray", n: int) -> "np.ndarray":
        """x shifted ``n`` rows later within each symbol (NaN for a symbol's first ``n`` rows)."""
        import numpy as np

        out = np.full(len(x), np.nan)
        if n < len(x):
            out[n:] = x[:len(x) - n]
        out[self.pos < n] = np.nan
        return out

    def roll(self, x: "np.ndarray", window: int, how: str) -> "np.ndarray":
        """A rolling statistic over each symbol's last ``window`` rows (NaN until the window is full).

        Each symbol's windows stop at its first row, so pandas' running sums start again there: a
        value depends on that symbol's bars up to its date and nothing else, to the last bit (over
        one column, the sums carried the rounding of every earlier symbol's rows, and so of later
        dates)."""
        import pandas as pd

        windows = _symbol_windows()(window_size=window, run_start=self.run_start)
        return getattr(pd.Series(x).rolling(windows, min_periods=window), how)().to_numpy(copy=True)

    def runs(self, *cols: "np.ndarray"):
        """(start, end) of each symbol's runs of rows where every column is finite."""
        import numpy as np

        ok = np.logical_and.reduce([np.isfinite(c) for c in cols])
        if ok.all():
            yield from zip(self.starts, self.ends)
            return
        edge = np.zeros(len(ok) + 1, dtype=bool)
        edge[self.starts] = True
        edge[1:-1] |= ok[1:] != ok[:-1]
        edge[-1] = True
        bounds = np.flatnonzero(edge)
        for a, b in zip(bounds[:-1], bounds[1:]):
            if ok[a]:
                yield a, b


@functools.cache
def _symbol_windows():
    """A pandas window indexer: row i's window is the ``window_size`` rows ending at i, cut at its symbol's first row."""
    import numpy as np
    from pandas.api.indexers import BaseIndexer

    class SymbolWindows(BaseIndexer):
        def get_window_bounds(self, num_values=0, min_periods=None, center=None, closed=None, step=None):
            end = np.arange(1, num_values + 1, dtype=np.int64)
            return np.maximum(end - self.window_size, self.run_start), end

    return SymbolWindows


def _by_run(layout: _Layout, fn: Callable, *cols: "np.ndarray", outputs: int = 1) -> list["np.ndarray"]:
    """``fn(*cols)`` (TA-Lib functions) on each run of complete bars; NaN elsewhere."""
    import numpy as np

    out = [np.full(len(cols[0]), np.nan) for _ in range(outputs)]
    for a, b in layout.runs(*cols):
        res = fn(*(c[a:b] for c in cols))
        for o, r in zip(out, res if outputs > 1 else (res,)):
            o[a:b] = r
    return out


def _true_range(layout: _Layout, high: "np.ndarray", low: "np.ndarray", close: "np.ndarray") -> "np.ndarray":
    """TA-Lib's TRANGE; a run's first bar has no previous close and counts high - low."""
    import talib

    def trange(h, l, c):
        tr = talib.TRANGE(h, l, c)
        tr[0] = h[0] - l[0]
        return tr

    return _by_run(layout, trange, high, low, close)[0]


def _mean_true_range(layout: _Layout, high: "np.ndarray", low: "np.ndarray", close: "np.ndarray",
                     days: int) -> "np.ndarray":
    import talib

    tr = _true_range(layout, high, low, close)
    return _by_run(layout, lambda x: talib.SMA(x, days), tr)[0]


def _hlc(p: "pd.DataFrame") -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
    return tuple(p[c].to_numpy(dtype="float64") for c in ("high", "low", "close"))  # type: ignore[return-value]


def true_range(p: "pd.DataFrame") -> "pd.Series":
    """max(high - low, |high - previous close|, |low - previous close|), per symbol, aligned to ``p``."""
    import pandas as pd

    return pd.Series(_true_range(_Layout(p["symbol"].to_numpy()), *_hlc(p)), index=p.index)


def _log_atr(layout: _Layout, high: "np.ndarray", low: "np.ndarray", close: "np.ndarray",
             days: int) -> "np.ndarray":
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return _mean_true_range(layout, np.log(high), np.log(low), np.log(close), days)


def log_atr(panel: "pd.DataFrame", days: int) -> "pd.Series":
    """The average true range in log terms over ``days`` bars ending at each bar: the mean of
    max(log(high/low), |log(high/previous close)|, |log(low/previous close)|), per symbol.

    The trade rule's volatility (labels.sigma): in log terms a day's range means the same after
    a rise as after a fall. (An ATR in price units divided by today's close is smaller after a
    rise and larger after a fall, which made targets after a rise easier to reach.)
    """
    import pandas as pd

    layout = _Layout(panel["symbol"].to_numpy())
    return pd.Series(_log_atr(layout, *_hlc(panel), days), index=panel.index)


def atr(panel: "pd.DataFrame", days: int) -> "pd.Series":
    """Average true range over ``days`` bars ending at each bar (simple mean), aligned to a prepared panel.

    The label rule and the live targets/stops use exactly this value (labels.atr_days).
    """
    import pandas as pd

    layout = _Layout(panel["symbol"].to_numpy())
    return pd.Series(_mean_true_range(layout, *_hlc(panel), days), index=panel.index)


def _momentum(layout: _Layout, logc: "np.ndarray") -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
    """RSI (Wilder's smoothing, RSI_DAYS) and MACD(12, 26, 9) with its signal line, on log closes:
    TA-Lib, per symbol. A mirrored path (every log move negated) then has RSI 100 - RSI and MACD -MACD,
    as every directional feature here is exactly odd under that mirror (see ``mirror``)."""
    import numpy as np
    import talib

    def rsi(c):
        out = talib.RSI(c, RSI_DAYS)
        moved = np.cumsum(np.abs(np.diff(c, prepend=c[:1]))) > 0
        out[~moved] = np.nan  # no move at all yet: undefined (TA-Lib says 0, which reads as oversold)
        return out

    macd, signal, _ = _by_run(layout, lambda c: talib.MACD(c, 12, 26, 9), logc, outputs=3)
    return _by_run(layout, rsi, logc)[0], macd, signal


def _group_mean(values: "np.ndarray", groups: "np.ndarray", n_groups: int) -> "np.ndarray":
    """Per column, each row's mean over the rows of its group, NaN left out (groupby().transform("mean"))."""
    import numpy as np

    out = np.empty_like(values)
    for j in range(values.shape[1]):
        x = values[:, j]
        ok = ~np.isnan(x)
        total = np.bincount(groups, weights=np.where(ok, x, 0.0), minlength=n_groups)
        count = np.bincount(groups, weights=ok.astype("float64"), minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j] = (total / count)[groups]
    return out


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
    sym = p["symbol"].to_numpy()
    sym_codes, symbols = pd.factorize(sym, sort=True)
    L = _Layout(sym, sym_codes)
    close, high, low, opn, vol = (p[c].to_numpy(dtype="float64") for c in ("close", "high", "low", "open", "volume"))
    f: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = np.log(close)
        for h in RETURN_HORIZONS:
            f[f"ret_{h}"] = logc - L.shift(logc, h)
        r1 = f["ret_1"]
        for w in VOL_WINDOWS:
            f[f"vol_{w}"] = L.roll(r1, w, "std")
        f["vol_ratio_10_63"] = f["vol_10"] / f["vol_63"]
        f["atr_pct"] = _log_atr(L, high, low, close, FEATURE_ATR_DAYS)  # in log terms, like every feature
        f["range_pct"] = np.log(high / low)  # here: a mirrored market (every log move negated) has the same volatility
        f["gap"] = np.log(opn / L.shift(close, 1))
        f["intraday"] = np.log(close / opn)

        rsi, macd, signal = _momentum(L, logc)  # on log closes: odd under the mirror
        f[f"rsi_{RSI_DAYS}"] = rsi
        f["macd"] = macd  # in log terms: a share of the price
        f["macd_hist"] = macd - signal

        means = {w: L.roll(logc, w, "mean") for w in MA_WINDOWS}
        for w, mean in means.items():
            f[f"ma_dist_{w}"] = logc - mean
        f["ma_50_200"] = means[50] - means[200]
        sd = L.roll(logc, BOLLINGER_DAYS, "std")
        f[f"bollinger_z_{BOLLINGER_DAYS}"] = (logc - means[BOLLINGER_DAYS]) / np.where(sd == 0.0, np.nan, sd)

        # Volume surprise: today's volume against the mean of the 20 bars before it (log ratio).
        logv = np.log1p(np.clip(vol, 0, None))
        f["volume_surprise"] = logv - L.shift(L.roll(logv, 20, "mean"), 1)
        f["volume_trend"] = L.roll(logv, 5, "mean") - L.roll(logv, 63, "mean")

        hi52 = np.log(L.roll(high, YEAR, "max"))
        lo52 = np.log(L.roll(low, YEAR, "min"))
        span = hi52 - lo52
        f["range_pos_52w"] = (logc - lo52) / np.where(span == 0.0, np.nan, span) - 0.5

    # Column-major, as pandas keeps a frame's columns: no transposing copies.
    values = np.empty((len(p), len(FEATURE_NAMES)), order="F")
    warm = L.pos < WARMUP_BARS
    if members:
        from turbomode.data.universe import member_mask

        warm |= ~member_mask(sym, p["date"].to_numpy(), dict(members))
    for j, name in enumerate(FEATURE_NAMES):
        col = f[name]
        # The warm-up: a row is usable only once the longest window is full, and only while its symbol
        # is a member (both before the sector means, so such a row does not pull its sector's mean).
        col[~np.isfinite(col) | warm] = np.nan
        values[:, j] = col
    sector = np.array([sectors[s] for s in symbols], dtype=object)[sym_codes]
    date_codes, dates = pd.factorize(p["date"].to_numpy(), sort=True)
    sector_codes, sector_names = pd.factorize(sector)
    directional = [j for j, name in enumerate(FEATURE_NAMES) if name in DIRECTIONAL]
    d = values[:, directional]
    values[:, directional] = d - _group_mean(d, sector_codes * len(dates) + date_codes, len(sector_names) * len(dates))
    index = pd.MultiIndex(levels=[pd.Index(symbols, dtype=p["symbol"].dtype), pd.DatetimeIndex(dates)],
                          codes=[sym_codes, date_codes], names=["symbol", "date"], verify_integrity=False)
    out = pd.DataFrame(values.astype("float32", order="F"), index=index, columns=list(FEATURE_NAMES), copy=False)
    out["sector"] = sector
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
