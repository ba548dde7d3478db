"""Market-data sources. Each returns raw bars; validation and storage happen in the ingest task.

A source's ``fetch(starts, end, progress)`` gets, per symbol, the first date wanted and the last
date wanted (inclusive) and returns a ``FetchResult``: one long frame of raw bars (columns
symbol, date, open, high, low, close, adj_close, volume, optionally dividends, splits, line),
the symbols that failed with a reason each, and notes. A source raises ``DataSourceError`` only
when it fails as a whole (network unreachable, folder missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from turbomode.context import Context
    from turbomode.data.universe import Security

SOURCES = ("yfinance", "csv", "sample")
Progress = Callable[[int], None]  # called with the number of symbols just finished


@dataclass
class FetchResult:
    bars: "pd.DataFrame"
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # not failures: e.g. no CSV file, not asked for


class Source(Protocol):
    name: str

    def fetch(self, starts: dict[str, date], end: date, progress: Progress | None = None) -> FetchResult: ...



def get_source(name: str, ctx: "Context", securities: list["Security"]) -> Source:
    from turbomode.errors import ConfigError

    if name == "sample":
        from turbomode.data.sources.sample import SampleSource

        return SampleSource(ctx, securities)
    if name == "csv":
        from turbomode.data.sources.csv import CsvSource

        return CsvSource(ctx)
    if name == "yfinance":
        from turbomode.data.sources.yfinance import YFinanceSource

        return YFinanceSource(ctx)
    raise ConfigError(f"unknown data source {name!r}; use one of {', '.join(SOURCES)}")


def empty_bars() -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame({"symbol": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]"),
                         **{c: pd.Series(dtype=float) for c in
                            ("open", "high", "low", "close", "adj_close", "volume")}})
