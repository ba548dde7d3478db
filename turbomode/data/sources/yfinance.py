"""Yahoo Finance through ``yfinance.download``, in batches, with retries and failure detection.

yfinance 1.x does not raise for a failed ticker (not even when rate-limited): the ticker's columns
come back all NaN and the reason is logged on the ``yfinance`` logger. We attach a handler to that
logger for the duration of each call, read the ``['SYM', ...]: reason`` lines, and treat a ticker
whose columns are all NaN as failed. Rate limits, timeouts and connection errors are retried with
exponential backoff (``data.max_retries``); if every ticker fails for network reasons the source
raises DataSourceError (the ingest stores nothing and suggests ``--source sample``).

``auto_adjust=False``: we store Yahoo's Close (split-adjusted, the price people traded at, used for
entries, targets and stops) *and* Adj Close (also dividend-adjusted); ``read_panel`` derives fully
adjusted OHLC from their ratio for features. With auto_adjust=True the raw close would be lost,
and a dividend re-adjustment would be indistinguishable from a bad price.
"""

from __future__ import annotations

import ast
import logging
import re
import time
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from turbomode.data.sources import FetchResult, Progress, empty_bars
from turbomode.errors import DataSourceError

log = logging.getLogger("turbomode.data.yfinance")

FIELDS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close",
          "Volume": "volume"}
_LINE = re.compile(r"^\s*(\[[^\]]*\])\s*:\s*(.*)$", re.S)
_RATE = re.compile(r"rate ?limit|too many requests|YFRateLimitError|\b429\b", re.I)
_NETWORK = re.compile(r"curl: \(|could not resolve|resolve host|failed to connect|connection|timed out|"
                      r"timeout|network is unreachable|name or service not known|ssl|"
                      r"temporary failure in name resolution", re.I)
BACKOFF_BASE_S = 2.0
_sleep: Callable[[float], None] = time.sleep  # tests replace it

_cache_dir_set: str | None = None


class _Collector(logging.Handler):
    """Collects ``[tickers]: reason`` error lines from the yfinance logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: dict[str, str] = {}
        self.other: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover - a malformed record
            return
        for part in msg.strip().splitlines():
            m = _LINE.match(part)
            if m:
                try:
                    tickers = ast.literal_eval(m.group(1))
                except (ValueError, SyntaxError):
                    tickers = []
                for t in tickers:
                    self.errors[str(t).upper()] = m.group(2).strip()
            elif part.strip() and "Failed download" not in part:
                self.other.append(part.strip())


def classify(reason: str) -> str:
    """'rate_limit', 'network' or 'data' (delisted, no data: not worth retrying)."""
    if _RATE.search(reason):
        return "rate_limit"
    if _NETWORK.search(reason):
        return "network"
    return "data"


def set_cache_dir(home: Path) -> None:
    """Point yfinance's tz/cookie caches into our home (a shared cache causes 'database is locked')."""
    global _cache_dir_set
    target = str(Path(home) / "cache" / "yfinance")
    if _cache_dir_set == target:
        return
    import yfinance as yf

    Path(target).mkdir(parents=True, exist_ok=True)
    yf.set_tz_cache_location(target)
    _cache_dir_set = target


def download(tickers: list[str], start: date, end: date, timeout: float):
    """One ``yf.download`` call; returns (frame, {ticker: reason}) with failures detected."""
    import yfinance as yf

    collector = _Collector()
    yf_log = logging.getLogger("yfinance")
    propagate = yf_log.propagate
    yf_log.addHandler(collector)
    yf_log.propagate = False  # keep yfinance's lines off the terminal; we log them ourselves
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pandas4Warning & co. from yfinance internals
            frame = yf.download(tickers, start=start.isoformat(), end=(end + timedelta(days=1)).isoformat(),
                                auto_adjust=False, actions=False, progress=False, threads=True,
                                group_by="column", multi_level_index=True, timeout=timeout)
    finally:
        yf_log.removeHandler(collector)
        yf_log.propagate = propagate
    for line in collector.other:
        log.warning("yfinance: %s", line)
    return frame, collector.errors


def to_long(frame, tickers: list[str]):
    """yfinance's wide frame (columns Price x Ticker) -> long bars, plus tickers with no data."""
    import pandas as pd

    if frame is None or len(frame.columns) == 0:
        return empty_bars(), set(tickers)
    cols = frame.columns
    if not isinstance(cols, pd.MultiIndex):  # one ticker without multi_level_index
        frame = frame.copy()
        frame.columns = pd.MultiIndex.from_product([list(cols), [tickers[0].upper()]], names=["Price", "Ticker"])
        cols = frame.columns
    names = list(cols.names)
    price_level = names.index("Price") if "Price" in names else 0
    ticker_level = 1 - price_level
    long = frame.stack(level=ticker_level, future_stack=True)
    long.index = long.index.set_names(["date", "symbol"])
    long = long.reset_index()
    long.columns = [FIELDS.get(str(c), str(c)) for c in long.columns]
    for c in FIELDS.values():
        if c not in long.columns:
            long[c] = float("nan")
    values = long[list(FIELDS.values())]
    long = long[values.notna().any(axis=1)]
    present = set(long["symbol"].astype(str).str.upper())
    missing = {t.upper() for t in tickers} - present
    long["symbol"] = long["symbol"].astype(str).str.upper()
    return long[["symbol", "date", *FIELDS.values()]].reset_index(drop=True), missing


# Where Yahoo's chart API lives: a TCP connection to it tells "offline" from "delisted".
YAHOO_HOST = ("query2.finance.yahoo.com", 443)


def probe_yahoo(timeout: float) -> str | None:
    """None when Yahoo's server accepts a connection, else why it does not (DNS, refused, timeout)."""
    import socket

    try:
        with socket.create_connection(YAHOO_HOST, timeout=min(timeout, 10.0)):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def unreachable_error(reason: str) -> DataSourceError:
    return DataSourceError(f"cannot reach Yahoo Finance ({reason[:120]}); nothing was changed. Check the network "
                           "(or a proxy or firewall) and run `turbomode ingest` again, or use "
                           "`turbomode ingest --source sample` to work offline")


class YFinanceSource:
    name = "yfinance"

    def __init__(self, ctx):
        self.cfg = ctx.config
        self.home = ctx.home

    def fetch(self, starts: dict[str, date], end: date, progress: Progress | None = None) -> FetchResult:
        import pandas as pd

        set_cache_dir(self.home)
        batch_size = int(self.cfg["data.batch_size"])
        retries = int(self.cfg["data.max_retries"])
        timeout = float(self.cfg["data.timeout_seconds"])
        # Symbols sharing a start date go in the same calls (an incremental run: nearly all).
        groups: dict[date, list[str]] = {}
        for sym, start in starts.items():
            groups.setdefault(start, []).append(sym)
        frames, failed = [], {}
        network_failures = 0
        for start, syms in sorted(groups.items()):
            for i in range(0, len(syms), batch_size):
                batch = syms[i : i + batch_size]
                got, errs = self._fetch_batch(batch, start, end, retries, timeout)
                frames.append(got)
                failed.update(errs)
                network_failures += sum(1 for r in errs.values() if classify(r) == "network")
                if progress:
                    progress(len(batch))
        if starts and network_failures == len(starts):
            raise unreachable_error(next(iter(failed.values())))
        if starts and len(failed) == len(starts) and any(classify(r) == "data" for r in failed.values()):
            # Offline, yfinance often reports every ticker as "possibly delisted; no timezone found"
            # (its time-zone lookup failed quietly). Every symbol failing is the sign: ask the network.
            why = probe_yahoo(timeout)
            if why is not None:
                raise unreachable_error(why)
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        return FetchResult(bars, failed)

    def _fetch_batch(self, batch: list[str], start: date, end: date, retries: int, timeout: float):
        import pandas as pd

        want = {s.upper(): s for s in batch}
        pending = list(want)
        frames, failed = [], {}
        for attempt in range(retries + 1):
            try:
                frame, errors = download(pending, start, end, timeout)
            except Exception as exc:  # yfinance raising as a whole (rare): treat every ticker alike
                frame, errors = None, {t: f"{type(exc).__name__}: {exc}" for t in pending}
            bars, missing = to_long(frame, pending)
            frames.append(bars)
            retry = []
            for t in sorted(missing):
                reason = errors.get(t) or "Yahoo returned no data (possibly delisted, or no bars in the range)"
                if classify(reason) in ("rate_limit", "network") and attempt < retries:
                    retry.append(t)
                else:
                    failed[want.get(t, t)] = reason
            if not retry:
                break
            delay = BACKOFF_BASE_S * (2 ** attempt)
            log.warning("yfinance: %d ticker(s) rate-limited or unreachable; retry %d/%d in %.0f s",
                        len(retry), attempt + 1, retries, delay)
            _sleep(delay)
            pending = retry
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        bars["symbol"] = bars["symbol"].map(lambda t: want.get(t, t))
        return bars, failed
