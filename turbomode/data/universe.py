"""The stock universe: symbol, name and GICS sector of every stock TurboMode follows, and when.

Standard library only (``status`` and ``catchup`` may read it). The packaged ``universe.csv``
is used unless the config's ``general.universe`` names another file with the same columns.

Membership dates (optional columns ``added`` and ``removed``, YYYY-MM-DD, blank = always): a stock
counts on a date from ``added`` (inclusive) until ``removed`` (exclusive). ``train``, ``backtest``,
``drift`` and ``scan`` use a stock only on the dates it was a member, and its bars are kept after it
leaves, so a universe that lists today's members *and* the ones that left (delisted, acquired, dropped
from an index) is point in time. The packaged universe is a fixed list of today's large caps: a
backtest on it carries survivorship bias, and every backtest result says so
(``survivorship_note``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from turbomode.errors import BadInput

# The 11 GICS sectors, spelled exactly as the models, reports and CSV files use them.
SECTORS: tuple[str, ...] = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)

REQUIRED_COLUMNS = ("symbol", "name", "sector")
DATE_COLUMNS = ("added", "removed")
FIXED_UNIVERSE_NOTE = ("survivorship bias: fixed universe (today's members over the whole history, no stock that "
                       "left it); give general.universe a file with added/removed dates for a point-in-time test")
_ALLOWED_SYMBOL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-^=")
_CLASS_DOT = re.compile(r"^([A-Z0-9]+)\.([A-Z])$")


def canonical_symbol(text: str) -> str:
    """Yahoo's spelling of a ticker: upper case, and a share class after a dash, not a dot
    (BRK.B -> BRK-B), so the two spellings of one stock are never stored as two stocks."""
    symbol = text.strip().upper()
    return _CLASS_DOT.sub(r"\1-\2", symbol)


def is_ticker(symbol: str) -> bool:
    """Whether ``symbol`` (canonical) is spelled as a stored ticker can be: A-Z, digits and . - ^ =."""
    return bool(symbol) and set(symbol) <= _ALLOWED_SYMBOL_CHARS


@dataclass(frozen=True)
class Security:
    symbol: str
    name: str
    sector: str
    added: str | None = None  # first date it is a member (YYYY-MM-DD); None: always was
    removed: str | None = None  # first date it is no longer a member; None: still is

    def member_on(self, day: str) -> bool:
        return (self.added is None or day >= self.added) and (self.removed is None or day < self.removed)


def _packaged_text() -> str:
    from importlib.resources import files

    return files("turbomode.data").joinpath("universe.csv").read_text(encoding="utf-8")


def load_universe(path: str | Path | None = None) -> list[Security]:
    """The securities in ``path`` (None or "" = the built-in universe), in file order.

    A malformed user file raises BadInput naming the file, the line and what is wrong.
    """
    if path is None or str(path).strip() == "":
        return _parse(_packaged_text(), "the built-in universe.csv")
    p = Path(path).expanduser()
    if p.exists() and not p.is_file() and not p.is_dir():  # a FIFO would block every command that reads it
        raise BadInput(f"the universe file {p} is not a regular file (a named pipe, a device or a socket); point "
                       "general.universe at a CSV file of symbol,name,sector")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput(f"universe file {p} does not exist; fix general.universe in turbomode.toml "
                       "or leave it empty for the built-in universe") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the universe file {p} ({exc}); give a UTF-8 CSV of "
                       "symbol,name,sector") from None
    return _parse(text, str(p))


def _parse(text: str, where: str) -> list[Security]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise BadInput(f"{where} is empty; it needs a header line symbol,name,sector and one line per stock") from None
    cols = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise BadInput(f"{where} line 1: missing column(s) {', '.join(missing)}; the header must be "
                       "symbol,name,sector")
    idx = {c: cols.index(c) for c in REQUIRED_COLUMNS}
    dated = {c: cols.index(c) for c in DATE_COLUMNS if c in cols}
    by_lower = {s.lower(): s for s in SECTORS}
    out: list[Security] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(cols):
            raise BadInput(f"{where} line {line}: expected {len(cols)} fields, found {len(row)}; "
                           "each line must be symbol,name,sector")
        symbol = canonical_symbol(row[idx["symbol"]])
        name = row[idx["name"]].strip()
        sector_raw = row[idx["sector"]].strip()
        if not is_ticker(symbol):
            raise BadInput(f"{where} line {line}: {symbol or 'an empty value'!r} is not a ticker symbol; "
                           "use Yahoo's spelling such as BRK-B")
        sector = by_lower.get(sector_raw.lower())
        if sector is None:
            raise BadInput(f"{where} line {line}: unknown sector {sector_raw!r}; use one of the 11 GICS "
                           "sectors: " + ", ".join(SECTORS))
        if symbol in seen:
            written = row[idx["symbol"]].strip().upper()
            what = f"{symbol} is listed again" if written == symbol else \
                f"{written} is {symbol} in Yahoo's spelling, listed again"
            raise BadInput(f"{where} line {line}: {what} (first on line {seen[symbol]}); list each symbol once")
        seen[symbol] = line
        when = {c: _member_date(row[i].strip() if i < len(row) else "", c, where, line) for c, i in dated.items()}
        if when.get("added") and when.get("removed") and when["removed"] <= when["added"]:
            raise BadInput(f"{where} line {line}: {symbol} is removed ({when['removed']}) before it is added "
                           f"({when['added']}); removed must be after added")
        out.append(Security(symbol, name or symbol, sector, when.get("added"), when.get("removed")))
    if not out:
        raise BadInput(f"{where} lists no stocks; add lines of symbol,name,sector")
    return out


def pick_sector(requested: str, available: list[str]) -> str:
    """The sector of ``available`` that ``requested`` (--sector) names, in its stored spelling; any case.

    BadInput naming the choices for an empty or unknown name: neither may quietly select every
    sector or none.
    """
    choices = ", ".join(available)
    if not requested.strip():
        raise BadInput(f"--sector is empty; give one of the universe's sectors ({choices}), or leave --sector "
                       "out for all of them")
    hit = {s.lower(): s for s in available}.get(requested.strip().lower())
    if hit is None:
        raise BadInput(f"unknown --sector {requested!r}; the universe's sectors are: {choices}")
    return hit


def universe_sectors(path: str | Path | None) -> list[str]:
    """The sectors of the universe at ``path`` (general.universe; None or "" = the built-in one), sorted."""
    return sorted({s.sector for s in load_universe(path or None)})


def _member_date(text: str, column: str, where: str, line: int) -> str | None:
    if not text:
        return None
    from datetime import date

    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise BadInput(f"{where} line {line}: {column} {text!r} is not a date; use YYYY-MM-DD or leave it "
                       "blank") from None


def is_point_in_time(securities: list[Security]) -> bool:
    """Whether the list says when its stocks joined or left (else: a fixed list, with survivorship bias)."""
    return any(s.added or s.removed for s in securities)


def survivorship_note(securities: list[Security]) -> str | None:
    """The note every backtest result carries when its universe is a fixed list."""
    return None if is_point_in_time(securities) else FIXED_UNIVERSE_NOTE


def membership(securities: list[Security]) -> dict[str, tuple[str | None, str | None]]:
    """symbol -> (added, removed) for the stocks that have membership dates."""
    return {s.symbol: (s.added, s.removed) for s in securities if s.added or s.removed}


def member_mask(symbols, dates, members: dict[str, tuple[str | None, str | None]]):
    """Per row (symbol, date): was the symbol a member on that date? ``dates`` datetime64 or text."""
    import numpy as np
    import pandas as pd

    symbols = np.asarray(symbols, dtype=object)
    out = np.ones(len(symbols), dtype=bool)
    if not members:
        return out
    d = pd.to_datetime(pd.Series(dates)).to_numpy()
    for sym, (added, removed) in members.items():
        rows = symbols == sym
        if not rows.any():
            continue
        ok = np.ones(int(rows.sum()), dtype=bool)
        if added:
            ok &= d[rows] >= np.datetime64(added)
        if removed:
            ok &= d[rows] < np.datetime64(removed)
        out[rows] = ok
    return out


def sectors_of(securities: list[Security]) -> dict[str, str]:
    """symbol -> sector."""
    return {s.symbol: s.sector for s in securities}
