"""Daily bars (``price_data``), per-symbol bookkeeping (``symbols``), ``meta`` and ``market_sessions``.

Writes use raw ``sqlite3`` and never commit on their own: an ingest wraps all of its writes in one
``store.db.transaction`` (when called outside a transaction, each function opens one). Bars go in
100 to a statement: binding and stepping one statement per row cost more than SQLite's own work. Re-writing a bar replaces it (INSERT … ON CONFLICT(symbol, date) DO UPDATE), so re-running an
ingest adds no duplicates. ``latest_bar_date`` and ``get_meta`` use only the standard library:
``status`` calls them. NYSE sessions are written with ``store.sessions.write_sessions``.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from datetime import date, datetime
from typing import TYPE_CHECKING, Iterable, Iterator

from turbomode.clock import iso
from turbomode.store.db import transaction

if TYPE_CHECKING:
    import pandas as pd

BAR_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")

_COLUMNS = "symbol, date, open, high, low, close, adj_close, volume, source, ingested_at"
_ON_CONFLICT = (
    " ON CONFLICT(symbol, date) DO UPDATE SET "
    "open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, "
    "adj_close = excluded.adj_close, volume = excluded.volume, source = excluded.source, "
    "ingested_at = excluded.ingested_at"
)

# Bars per INSERT in write_bars. Each row binds its 8 own values; the source and the time are bound
# once per statement (?1, ?2). 100 rows use ?802 at most, under the 999 variables of the oldest
# SQLite builds Python ships with.
ROWS_PER_STATEMENT = 100
_VALUES_PER_ROW = 8


@functools.lru_cache(maxsize=None)  # at most ROWS_PER_STATEMENT texts
def _upsert_rows_sql(rows: int) -> str:
    """An upsert of ``rows`` bars: ?1 is the source, ?2 the time, then 8 values for each row."""
    values = ", ".join(
        "(" + ", ".join(f"?{3 + _VALUES_PER_ROW * i + j}" for j in range(_VALUES_PER_ROW)) + ", ?1, ?2)"
        for i in range(rows))
    return f"INSERT INTO price_data ({_COLUMNS}) VALUES {values}" + _ON_CONFLICT


@contextlib.contextmanager
def _tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Join the caller's transaction, or open one."""
    if conn.in_transaction:
        yield conn
    else:
        with transaction(conn):
            yield conn


def _date_strings(dates) -> list[str]:
    """'YYYY-MM-DD' for a datetime64 column, formatting each distinct date once."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(dates), sort=False)
    text = np.asarray(pd.DatetimeIndex(uniques).strftime("%Y-%m-%d"), dtype=object)
    return text[codes].tolist()


def _bar_columns(df: "pd.DataFrame") -> list[list]:
    """symbol, date ('YYYY-MM-DD') and the six bar values of ``df`` as Python lists; NaN becomes None."""
    import numpy as np

    cols = [df["symbol"].tolist(), _date_strings(df["date"])]
    for c in BAR_COLUMNS:
        a = df[c].to_numpy(dtype=float, na_value=np.nan)
        # NaN (a missing volume) becomes NULL
        cols.append([None if x != x else x for x in a.tolist()] if np.isnan(a).any() else a.tolist())
    return cols


def bar_rows(df: "pd.DataFrame", source: str, now: datetime) -> Iterable[tuple]:
    """The rows ``write_bars`` stores, as tuples (symbol, date, o, h, l, c, adj, volume, source, at)."""
    from itertools import repeat

    return zip(*_bar_columns(df), repeat(source), repeat(iso(now)))


def write_bars(conn: sqlite3.Connection, df: "pd.DataFrame", source: str, now: datetime) -> int:
    """Insert or replace the bars of ``df`` (symbol, date, open, high, low, close, adj_close, volume).

    Returns the number of rows written. Sort ``df`` by symbol, date for speed (key order). A bar
    that appears twice in ``df`` is stored once, with its last values.
    """
    from itertools import chain

    n = len(df)
    if n == 0:
        return 0
    flat = list(chain.from_iterable(zip(*_bar_columns(df))))  # row after row, 8 values each
    head = [source, iso(now)]
    step = _VALUES_PER_ROW * ROWS_PER_STATEMENT
    full, rest = divmod(n, ROWS_PER_STATEMENT)
    written = 0
    with _tx(conn):
        if full:
            cur = conn.executemany(_upsert_rows_sql(ROWS_PER_STATEMENT),
                                   (head + flat[i * step:(i + 1) * step] for i in range(full)))
            written += cur.rowcount if cur.rowcount >= 0 else full * ROWS_PER_STATEMENT
        if rest:
            cur = conn.execute(_upsert_rows_sql(rest), head + flat[full * step:])
            written += cur.rowcount if cur.rowcount >= 0 else rest
    return written


def delete_symbol(conn: sqlite3.Connection, symbol: str, keep: Iterable[str] | None = None) -> int:
    """Delete ``symbol``'s stored bars, except those on the dates in ``keep`` (YYYY-MM-DD)."""
    import json

    with _tx(conn):
        if keep:
            return conn.execute("DELETE FROM price_data WHERE symbol = ? AND date NOT IN"
                                " (SELECT value FROM json_each(?))", (symbol, json.dumps(sorted(keep)))).rowcount
        return conn.execute("DELETE FROM price_data WHERE symbol = ?", (symbol,)).rowcount


def count_stored(conn: sqlite3.Connection, symbol: str, days: Iterable[str]) -> int:
    """How many of ``days`` (YYYY-MM-DD) already hold a stored bar of ``symbol`` (index lookups)."""
    import json

    return int(conn.execute("SELECT count(*) FROM price_data WHERE symbol = ? AND date IN"
                            " (SELECT value FROM json_each(?))", (symbol, json.dumps(list(days)))).fetchone()[0])


def replace_symbol(conn: sqlite3.Connection, symbol: str, df: "pd.DataFrame", source: str, now: datetime) -> int:
    """Delete every stored bar of ``symbol`` and store ``df`` instead, in one transaction."""
    with _tx(conn):
        delete_symbol(conn, symbol)
        return write_bars(conn, df[df["symbol"] == symbol], source, now)


def count_bars(conn: sqlite3.Connection, symbol: str | None = None) -> int:
    if symbol is None:
        return int(conn.execute("SELECT count(*) FROM price_data").fetchone()[0])
    return int(conn.execute("SELECT count(*) FROM price_data WHERE symbol = ?", (symbol,)).fetchone()[0])


def last_dates(conn: sqlite3.Connection, symbols: Iterable[str] | None = None) -> dict[str, date]:
    """symbol -> date of its last stored bar.

    With ``symbols`` (or, without, the symbols the ``symbols`` table knows) each lookup is one
    index seek; a database no ingest has bookkept yet (adopted) is scanned once instead.
    """
    if symbols is None:
        try:
            symbols = [r[0] for r in conn.execute("SELECT symbol FROM symbols")]
        except sqlite3.OperationalError:
            symbols = []
        if not symbols:
            rows = conn.execute("SELECT symbol, max(date) FROM price_data GROUP BY symbol").fetchall()
            return {r[0]: date.fromisoformat(r[1][:10]) for r in rows if r[1]}
    out = {}
    for sym in symbols:
        d = conn.execute("SELECT max(date) FROM price_data WHERE symbol = ?", (sym,)).fetchone()[0]
        if d:
            out[sym] = date.fromisoformat(d[:10])
    return out


def count_in_range(conn: sqlite3.Connection, symbol: str, start: str | None = None, end: str | None = None) -> int:
    """Stored bars of ``symbol`` with start <= date <= end (an index range count)."""
    return int(conn.execute("SELECT count(*) FROM price_data WHERE symbol = ? AND date >= ? AND date <= ?",
                            (symbol, start or "", end or "9999")).fetchone()[0])


def bars_back(conn: sqlite3.Connection, symbols: Iterable[str], end: str, n: int) -> dict[str, str]:
    """symbol -> the date of its ``n``-th newest bar on or before ``end`` (its first bar when it has
    fewer); symbols without a bar by then are left out. One key-ordered seek per symbol."""
    out = {}
    for symbol in symbols:
        row = conn.execute("SELECT date FROM price_data WHERE symbol = ? AND date <= ? ORDER BY date DESC"
                           " LIMIT 1 OFFSET ?", (symbol, end, n - 1)).fetchone()
        if row is None:
            row = conn.execute("SELECT MIN(date) FROM price_data WHERE symbol = ? AND date <= ?",
                               (symbol, end)).fetchone()
        if row is not None and row[0] is not None:
            out[symbol] = row[0]
    return out


def first_dates(conn: sqlite3.Connection) -> dict[str, date]:
    rows = conn.execute("SELECT symbol, min(date) FROM price_data GROUP BY symbol").fetchall()
    return {r[0]: date.fromisoformat(r[1]) for r in rows if r[1]}


def latest_bar_date(conn: sqlite3.Connection) -> str | None:
    """Date ('YYYY-MM-DD') of the newest stored bar, or None. Standard library only.

    Reads the per-symbol ``symbols.last_date`` that every ingest keeps (240 rows) and falls back to
    scanning ``price_data`` for a database no ingest has written yet (an adopted seed database).
    """
    try:
        row = conn.execute("SELECT max(last_date) FROM symbols WHERE last_date IS NOT NULL").fetchone()
        if row and row[0]:
            return str(row[0])
    except sqlite3.OperationalError:
        pass
    try:
        row = conn.execute("SELECT max(date) FROM price_data").fetchone()
    except sqlite3.OperationalError:
        return None
    return str(row[0])[:10] if row and row[0] else None


def read_bars(conn: sqlite3.Connection, symbol: str, start: date | None = None) -> "pd.DataFrame":
    return read_panel(conn, [symbol], start=start, adjusted=False)


def read_panel(conn: sqlite3.Connection, symbols: Iterable[str] | None = None, start: date | str | None = None,
               end: date | str | None = None, adjusted: bool = True) -> "pd.DataFrame":
    """Stored bars as a DataFrame sorted by symbol, date.

    Columns: symbol, date (datetime64), open, high, low, close, adj_close, volume. With
    ``adjusted`` (the default, for features) open/high/low/close are scaled by adj_close/close,
    so every price is on the same split- and dividend-adjusted basis, and volume is divided by the
    same factor (shares on today's basis); adj_close is unchanged.
    """
    import json

    import numpy as np
    import pandas as pd

    where, params = [], []
    if symbols is not None:
        where.append("symbol IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(symbols)))
    if start is not None:
        where.append("date >= ?")
        params.append(str(start)[:10])
    if end is not None:
        where.append("date <= ?")
        params.append(str(end)[:10])
    sql = "SELECT symbol, date, open, high, low, close, adj_close, volume FROM price_data"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY symbol, date"
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: several times faster than sqlite3.Row here
    rows = cur.execute(sql, params).fetchall()
    cols = ["symbol", "date", *BAR_COLUMNS]
    if not rows:
        df = pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
        df["symbol"] = df["symbol"].astype(object)
        df["date"] = pd.to_datetime(df["date"])
        return df
    df = pd.DataFrame.from_records(rows, columns=cols, coerce_float=True)
    del rows
    codes, uniques = pd.factorize(df["date"])
    df["date"] = pd.DatetimeIndex(pd.to_datetime(uniques, format="%Y-%m-%d"))[codes].to_numpy()
    for c in BAR_COLUMNS:
        df[c] = df[c].astype(float)
    if adjusted:
        factor = (df["adj_close"] / df["close"]).where(lambda f: np.isfinite(f) & (f > 0), 1.0)
        for c in ("open", "high", "low", "close"):
            df[c] = df[c] * factor
        # shares on the same basis as the prices: before a 2:1 split each share is two of today's,
        # so a split leaves dollar volume (price x volume) and the volume features unchanged
        df["volume"] = df["volume"] / factor
    return df


# --- per-symbol bookkeeping and meta ---------------------------------------------------------

def upsert_symbol(conn: sqlite3.Connection, symbol: str, *, name: str | None, sector: str | None,
                  source: str, now: datetime, status: str, error: str | None = None) -> None:
    """Record the outcome of fetching ``symbol``; first/last date are read from price_data."""
    with _tx(conn):
        first, last = conn.execute("SELECT min(date), max(date) FROM price_data WHERE symbol = ?",
                                   (symbol,)).fetchone()
        conn.execute(
            "INSERT INTO symbols (symbol, name, sector, source, first_date, last_date, last_checked_at, status, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(symbol) DO UPDATE SET"
            " name = coalesce(excluded.name, symbols.name), sector = coalesce(excluded.sector, symbols.sector),"
            " source = excluded.source, first_date = excluded.first_date, last_date = excluded.last_date,"
            " last_checked_at = excluded.last_checked_at, status = excluded.status, error = excluded.error",
            (symbol, name, sector, source, first, last, iso(now), status, error),
        )


def symbol_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM symbols ORDER BY symbol").fetchall()


def set_meta(conn: sqlite3.Connection, key: str, value: str, now: datetime) -> None:
    with _tx(conn):
        conn.execute("INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                     " value = excluded.value, updated_at = excluded.updated_at", (key, value, iso(now)))


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def data_source(conn: sqlite3.Connection) -> str | None:
    """'sample', 'yfinance' or 'csv': where the stored prices came from (None before any ingest)."""
    return get_meta(conn, "data_source")
