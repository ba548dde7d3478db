"""Per-symbol CSV files in Yahoo's layout: ``<data.csv_dir>/<SYMBOL>.csv``.

Columns (case-insensitive): Date (or Datetime), Open, High, Low, Close, Adj Close, Volume, and
optionally Dividends, Stock Splits; extra columns are ignored. Rows may be ascending or
descending, dates with or without a time and tz offset. Adj Close may be absent (then it is Close).
A file that cannot be used at all (empty, missing columns) fails its symbol with the reason; bad
rows are left to validation, which drops and names them with their line numbers.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from turbomode.data.sources import FetchResult, Progress, empty_bars
from turbomode.errors import ConfigError, DataSourceError

REQUIRED = ("date", "open", "high", "low", "close", "volume")
ALIASES = {
    "date": "date", "datetime": "date",
    "open": "open", "high": "high", "low": "low", "close": "close",
    "adj close": "adj_close", "adj_close": "adj_close", "adjclose": "adj_close",
    "volume": "volume", "dividends": "dividends", "stock splits": "splits", "splits": "splits",
}
HEADER_HELP = "the header must be Date,Open,High,Low,Close,Adj Close,Volume"


class CsvSource:
    name = "csv"

    def __init__(self, ctx, folder: str | Path | None = None):
        folder = folder or ctx.config["data.csv_dir"]
        if not str(folder).strip():
            raise ConfigError("data.csv_dir is not set; set it in turbomode.toml to a folder of per-symbol "
                              "CSV files (AAPL.csv, ...) or use another --source")
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise DataSourceError(f"the CSV folder {self.folder} does not exist; fix data.csv_dir in "
                                  "turbomode.toml")
        from turbomode.data.universe import canonical_symbol

        # BRK.B.csv and BRK-B.csv are the same stock's file (BRK-B, Yahoo's spelling)
        self.files = {canonical_symbol(p.stem): p for p in self.folder.iterdir() if p.suffix.lower() == ".csv"}

    def fetch(self, starts: dict[str, date], end: date, progress: Progress | None = None) -> FetchResult:
        import pandas as pd

        from turbomode.data.universe import canonical_symbol

        frames, failed, skipped = [], {}, {}
        for symbol in starts:
            path = self.files.get(canonical_symbol(symbol))
            if path is None:
                skipped[symbol] = f"no file {symbol}.csv in {self.folder}"
            else:
                try:
                    frames.append(read_yahoo_csv(path, symbol))
                except ValueError as exc:
                    failed[symbol] = str(exc)
            if progress:
                progress(1)
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        return FetchResult(bars, failed, skipped=skipped)


def read_yahoo_csv(path: Path, symbol: str):
    """One symbol's raw rows (all text values kept for validation), with their file line numbers.

    Raises ValueError with a one-sentence reason when the file cannot be used at all.
    """
    import pandas as pd

    if path.is_dir():  # Windows refuses to open a folder with "permission denied", POSIX with EISDIR
        raise ValueError(f"{path} is a folder, not a CSV file; move it out of the CSV folder")
    if path.exists() and not path.is_file():  # a FIFO would block the ingest until something writes to it
        raise ValueError(f"{path} is not a regular file (a named pipe, a device or a socket); replace it with a "
                         "CSV file or move it out of the CSV folder")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True,
                          skip_blank_lines=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty; it needs a header line ({HEADER_HELP}) and one line per day") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a readable CSV ({str(exc).splitlines()[0]}); {HEADER_HELP}") from None
    except FileNotFoundError:  # a dangling symbolic link, or the file went away after the folder was listed
        raise ValueError(f"{path} cannot be opened (no such file: a broken link?); fix or remove it") from None
    except PermissionError:
        raise ValueError(f"{path} cannot be read (permission denied); make it readable by this user") from None
    except OSError as exc:
        raise ValueError(f"{path} cannot be read ({exc.strerror or exc}); fix or remove it") from None
    cols = {}
    for c in raw.columns:
        key = ALIASES.get(str(c).strip().lower())
        if key and key not in cols.values():
            cols[c] = key
    missing = [r for r in REQUIRED if r not in cols.values()]
    if missing:
        names = ", ".join(m.capitalize() for m in missing)
        raise ValueError(f"{path} line 1: missing column(s) {names}; {HEADER_HELP}")
    df = raw[list(cols)].rename(columns=cols)
    df["line"] = range(2, len(df) + 2)
    blank = (df.drop(columns="line") == "").all(axis=1)
    df = df[~blank]
    if df.empty:
        raise ValueError(f"{path} has a header but no rows; add one line per day")
    df = df.where(df != "", None)
    if "adj_close" not in df.columns:
        df["adj_close"] = df["close"]
    df.insert(0, "symbol", symbol)
    return df.reset_index(drop=True)
