"""The embedded sample market as a data source (SPEC §7)."""

from __future__ import annotations

from datetime import date, datetime

from turbomode.data.sources import FetchResult, Progress, empty_bars


class SampleSource:
    name = "sample"

    def __init__(self, ctx, securities):
        self.cfg = ctx.config
        self.by_symbol = {s.symbol: s for s in securities}

    def fetch(self, starts: dict[str, date], end: date, progress: Progress | None = None) -> FetchResult:
        import pandas as pd

        from turbomode.data import sample

        origin = date.fromisoformat(self.cfg["data.sample.start"])
        wanted = [self.by_symbol[s] for s in starts if s in self.by_symbol]
        failed = {s: "not in the universe, so the sample market has no sector for it"
                  for s in starts if s not in self.by_symbol}
        if not wanted:
            return FetchResult(empty_bars(), failed)
        since = max(min(starts[s.symbol] for s in wanted), origin)
        # The whole universe is simulated, whichever symbols are asked for: a symbol's bars depend on
        # its sector's other members (SPEC §7), so simulating only the ones asked for would give other
        # bars, and the next full ingest would see its stored history as re-adjusted.
        bars = sample.generate(list(self.by_symbol.values()), origin, end, seed=self.cfg["data.sample.seed"],
                               strength=self.cfg["data.sample.strength"], since=since,
                               symbols=[s.symbol for s in wanted])
        first = pd.to_datetime(bars["symbol"].map({s.symbol: starts[s.symbol] for s in wanted}))
        bars = bars[bars["date"] >= first].reset_index(drop=True)
        if progress:
            progress(len(wanted))
        return FetchResult(bars, failed)
