"""The stock universe: symbol, name and GICS sector of every stock TurboMode follows.

Standard library only (``status`` and ``catchup`` may read it). The packaged ``universe.csv``
is used unless the config's ``general.universe`` names another file with the same columns.
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
_ALLOWED_SYMBOL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-^=")
_CLASS_DOT = re.compile(r"^([A-Z0-9]+)\.([A-Z])$")


def canonical_symbol(text: str) -> str:
    """Yahoo's spelling of a ticker: upper case, and a share class after a dash, not a dot
    (BRK.B -> BRK-B), so the two spellings of one stock are never stored as two stocks."""
    symbol = text.strip().upper()
    return _CLASS_DOT.sub(r"\1-\2", symbol)


@dataclass(frozen=True)
class Security:
    symbol: str
    name: str
    sector: str


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
        if not symbol or not set(symbol) <= _ALLOWED_SYMBOL_CHARS:
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
        out.append(Security(symbol, name or symbol, sector))
    if not out:
        raise BadInput(f"{where} lists no stocks; add lines of symbol,name,sector")
    return out


def sectors_of(securities: list[Security]) -> dict[str, str]:
    """symbol -> sector."""
    return {s.symbol: s.sector for s in securities}
