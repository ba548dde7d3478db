"""Small synthetic price panels for the ML tests (the real sample market lives in turbomode.data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

SECTORS2 = {"AAA": "Energy", "BBB": "Energy", "CCC": "Energy", "DDD": "Utilities", "EEE": "Utilities",
            "FFF": "Utilities"}


def make_panel(sectors: dict[str, str] | None = None, days: int = 600, start: str = "2018-01-02",
               seed: int = 7, strength: float = 0.0) -> pd.DataFrame:
    """Long OHLCV panel [symbol, date, open, high, low, close, adj_close, volume] on business days.

    ``strength`` > 0 plants short-term mean reversion (tomorrow's drift opposes the last 5 days'
    return), which a model can learn; 0 is a pure random walk with volatility clustering.
    """
    sectors = sectors or SECTORS2
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=days)
    frames = []
    for i, sym in enumerate(sorted(sectors)):
        vol = 0.015 * np.exp(0.3 * np.sin(np.arange(days) / 40.0 + i))
        eps = rng.standard_t(5, days) / np.sqrt(5 / 3) * vol
        r = np.zeros(days)
        for t in range(days):
            past = r[max(0, t - 5):t].sum()
            r[t] = eps[t] - strength * 0.2 * past
        close = 50.0 * (1 + i / 10) * np.exp(np.cumsum(r))
        prev = np.concatenate([[close[0]], close[:-1]])
        opn = prev * np.exp(rng.normal(0, 0.003, days))
        span = np.abs(rng.normal(0, 0.6, days)) * vol * close
        high = np.maximum(opn, close) + span
        low = np.minimum(opn, close) - span
        volume = np.round(1e6 * np.exp(rng.normal(0, 0.3, days)))
        frames.append(pd.DataFrame({"symbol": sym, "date": dates, "open": opn, "high": high, "low": low,
                                    "close": close, "adj_close": close, "volume": volume}))
    return pd.concat(frames, ignore_index=True)
