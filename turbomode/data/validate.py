"""Validation of daily bars before anything is stored (SPEC §6).

``validate`` drops and reports rows that cannot be right (missing, non-numeric or non-positive
prices, high < low, close outside [low, high], an open far outside it, negative volume, duplicate
dates, unreadable dates) and flags, without dropping, one-day moves that look like data errors: a
100x jump (prices quoted in cents), a jump by a split-like ratio (a split not applied to older bars), an
Adj Close that jumps against Close, and a dividend that Adj Close does not reflect. Flagged bars
are stored, and the flags are named in the ingest summary so the user can look.

Dates: a timestamp with an offset is read on its own calendar day (Yahoo writes each exchange's
local midnight, e.g. ``2022-01-03 00:00:00-05:00``); UTC timestamps are converted to New York.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
OUTPUT_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume")
EXCHANGE_TZ = "America/New_York"

# How far outside [low, high] an open may be and still be kept (real Yahoo bars are up to 1% out).
OPEN_SLACK = 1.1
# A one-day close ratio beyond this (either way) is flagged.
JUMP_RATIO = 1.8
SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 15.0, 20.0, 25.0, 50.0)


@dataclass(frozen=True)
class Issue:
    symbol: str
    date: str | None  # YYYY-MM-DD, None when unreadable
    reason: str
    line: int | None = None  # line in the source file, when there is one

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{self.symbol} {where}{self.date or 'no date'}: {self.reason}"


@dataclass
class ValidationResult:
    bars: "pd.DataFrame"
    rejected: list[Issue] = field(default_factory=list)
    flagged: list[Issue] = field(default_factory=list)


def exchange_dates(values: "pd.Series") -> "pd.Series":
    """Exchange calendar dates (datetime64 at midnight, tz-naive) for dates in any accepted form.

    Unreadable values become NaT.
    """
    import pandas as pd

    s = pd.Series(values)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        if str(s.dt.tz) in ("UTC", "utc", "Etc/UTC"):
            s = s.dt.tz_convert(EXCHANGE_TZ)
        return s.dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.normalize().astype("datetime64[ns]")
    text = s.astype("string").str.strip()
    # 'YYYY-MM-DD' possibly followed by a time and an offset: the calendar day as written,
    # unless the offset is UTC ('Z' or +00:00 on a time that is not midnight).
    head = text.str.slice(0, 10)
    parsed = pd.to_datetime(head, format="%Y-%m-%d", errors="coerce")
    utc_like = text.str.contains(r"(?:Z|[+-]00:?00)$", regex=True, na=False) & ~text.str.contains(
        r"[ T]00:00(?::00)?", regex=True, na=False)
    if utc_like.any():
        full = pd.to_datetime(text[utc_like], utc=True, errors="coerce", format="mixed")
        parsed[utc_like] = full.dt.tz_convert(EXCHANGE_TZ).dt.tz_localize(None).dt.normalize()
    missing = parsed.isna() & text.notna() & (text != "")
    if missing.any():  # other layouts (e.g. 01/03/2022): let pandas try, one by one
        # the calendar day as written here too: without the offset, which pandas refuses to mix in one
        # column (it changes at daylight saving: 01/03/2022 00:00:00-05:00, 03/14/2022 00:00:00-04:00)
        bare = text[missing].str.replace(r"\s*(?:Z|[+-]\d{2}:?\d{2})$", "", regex=True)
        parsed[missing] = _each_date(bare)
    # A year a price table cannot hold (0001, 9999) is as unusable as an unreadable date.
    parsed = parsed.where((parsed >= pd.Timestamp(FIRST_DAY)) & (parsed <= pd.Timestamp(LAST_DAY)))
    return parsed.astype("datetime64[ns]")


# The span of dates a price can have (pandas' nanosecond timestamps end in 1677 and 2262).
FIRST_DAY, LAST_DAY = "1700-01-01", "2261-12-31"


def _each_date(text: "pd.Series") -> "pd.Series":
    """Dates in layouts pandas recognises, tz-naive at midnight; NaT for what it cannot read."""
    import pandas as pd

    def one(value):
        try:
            day = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            return pd.NaT
        if pd.isna(day) or not FIRST_DAY <= day.strftime("%Y-%m-%d") <= LAST_DAY:
            return pd.NaT
        return day.tz_localize(None).normalize() if day.tzinfo else day.normalize()

    try:
        other = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError, OverflowError):  # e.g. zone names that differ row to row: one at a time
        return pd.Series([one(v) for v in text], index=text.index, dtype="datetime64[ns]")
    if isinstance(other.dtype, pd.DatetimeTZDtype):
        other = other.dt.tz_localize(None)
    return other.dt.normalize()


def _fmt_date(d) -> str | None:
    import pandas as pd

    return None if pd.isna(d) else pd.Timestamp(d).strftime("%Y-%m-%d")


def validate(df: "pd.DataFrame", today: "date | None" = None) -> ValidationResult:
    """Clean ``df`` (symbol, date, open, high, low, close, adj_close, volume; optional dividends,
    splits, line). Returns the valid bars (OUTPUT_COLUMNS, sorted by symbol, date), rejected rows
    and flags. Rows with no price and no volume at all (no trading that day) are dropped silently.
    ``today`` (the exchange's date now): rows dated after it are rejected, as no source can have them
    (a typo, or day and month read the wrong way round).
    """
    import numpy as np
    import pandas as pd

    df = df.reset_index(drop=True)
    n = len(df)
    reason = np.full(n, None, dtype=object)

    def reject(mask, text) -> None:
        mask = np.asarray(mask, dtype=bool) & (reason == None)  # noqa: E711 - elementwise
        if mask.any():
            reason[mask] = text if isinstance(text, str) else np.asarray(text, dtype=object)[mask]

    dates = exchange_dates(df["date"]) if n else pd.Series([], dtype="datetime64[ns]")
    values: dict[str, np.ndarray] = {}
    for col in (*PRICE_COLUMNS, "volume"):
        raw = df[col] if col in df.columns else pd.Series(np.nan, index=df.index)
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        values[col] = num
    prices = np.column_stack([values[c] for c in PRICE_COLUMNS]) if n else np.empty((0, 5))
    empty_row = np.isnan(prices).all(axis=1) & np.isnan(values["volume"])
    reject(dates.isna().to_numpy(), "missing or unreadable date")
    if today is not None:
        reject((dates > pd.Timestamp(today)).to_numpy(), f"dated after today ({today.isoformat()})")
    for col in (*PRICE_COLUMNS, "volume"):
        if col not in df.columns:
            continue
        raw = df[col]
        if raw.dtype == object or pd.api.types.is_string_dtype(raw):
            bad = np.isnan(values[col]) & raw.notna().to_numpy() & (raw.astype("string").str.strip() != "").fillna(False).to_numpy()
            if bad.any():
                reject(bad, np.array([f"non-numeric {col} {v!r}" for v in raw.to_numpy()], dtype=object))
    for i, col in enumerate(PRICE_COLUMNS):
        v = prices[:, i]
        reject(np.isnan(v) & ~empty_row, f"missing {col}")
        reject(~np.isfinite(v) & ~np.isnan(v), f"non-finite {col}")
        reject(v <= 0, f"non-positive {col}")
    o, h, low, c = (prices[:, i] for i in range(4))
    reject(h < low, "high below low")
    reject((c > h) | (c < low), "close outside [low, high]")
    # The open is the fill price of signals and labels. Yahoo's can sit a little outside the day's range
    # (an opening print the official high or low leaves out); far outside it, it is a wrong number.
    reject((o > h * OPEN_SLACK) | (o < low / OPEN_SLACK), "open far outside [low, high]")
    reject(values["volume"] < 0, "negative volume")

    symbols = df["symbol"].astype(str).to_numpy(dtype=object) if n else np.array([], dtype=object)
    lines = df["line"].to_numpy() if "line" in df.columns else None
    rejected: list[Issue] = []
    keep = (reason == None) & ~empty_row  # noqa: E711

    # Duplicate dates among otherwise valid rows: identical copies keep one, differing ones keep none.
    frame = pd.DataFrame({"symbol": symbols, "date": dates.to_numpy()})
    for col in (*PRICE_COLUMNS, "volume"):
        frame[col] = values[col]
    frame = frame[keep]
    dup_any = frame.duplicated(["symbol", "date"], keep=False)
    if dup_any.any():
        exact_extra = frame.duplicated(keep="first") & dup_any
        groups = frame[dup_any].groupby(["symbol", "date"])
        differing = groups[list(PRICE_COLUMNS) + ["volume"]].nunique(dropna=False).gt(1).any(axis=1)
        differing_keys = set(differing[differing].index)
        for idx in frame.index[dup_any]:
            key = (frame.at[idx, "symbol"], frame.at[idx, "date"])
            if key in differing_keys:
                reason[idx] = "duplicate date with different values"
            elif exact_extra.loc[idx]:
                reason[idx] = "duplicate date (identical copy dropped)"
        keep = (reason == None) & ~empty_row  # noqa: E711

    for idx in np.flatnonzero(reason != None):  # noqa: E711
        rejected.append(Issue(str(symbols[idx]), _fmt_date(dates.iloc[idx]), str(reason[idx]),
                              int(lines[idx]) if lines is not None else None))

    bars = pd.DataFrame({"symbol": symbols[keep], "date": dates.to_numpy()[keep]})
    for col in (*PRICE_COLUMNS, "volume"):
        bars[col] = values[col][keep]
    order = np.lexsort((bars["date"].to_numpy(), bars["symbol"].to_numpy()))
    bars = bars.iloc[order].reset_index(drop=True)
    extras = {}
    for col in ("dividends", "splits"):
        if col in df.columns:
            extras[col] = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=0.0)[keep][order]
    line_kept = lines[keep][order] if lines is not None else None
    flagged = _flags(bars, extras, line_kept)
    return ValidationResult(bars[list(OUTPUT_COLUMNS)], rejected, flagged)


def _split_like(ratio: float) -> float | None:
    big = ratio if ratio >= 1 else 1.0 / ratio
    for k in SPLIT_RATIOS:
        if abs(big / k - 1.0) < 0.08:
            return k
    return None


def _unit_or_split(ratio: float) -> bool:
    """A one-day close ratio that is a 100x unit change or a split ratio (not any large move)."""
    return abs(math.log10(ratio if ratio >= 1 else 1 / ratio) - 2.0) < 0.15 or _split_like(ratio) is not None


# A jump that a later jump undoes within this many rows marks the rows between as suspect too
# (a stretch of prices quoted in cents); beyond it, two jumps are two separate events.
MAX_RUN = 20


def _runs(ratio, level, same, *, persistent: Any = None) -> tuple[list[int], dict[int, int]]:
    """(rows whose one-day ratio jumps, {row inside a run: the row that starts it}).

    A jump that a later jump within MAX_RUN rows brings back to the level before it is a bad run
    (a one-day spike, or days quoted in cents): its first row and every row up to the undoing one
    are suspect; the undoing row itself, back on the right level, is not.

    ``persistent(ratio)``: whether a jump that nothing undoes shifts the level of every row after it
    (a unit change to cents, or a split the older bars lack: one side of it is on the wrong scale).
    Those rows are inside its run too, to the symbol's last row, so that what is stored stays on one
    scale (the one before the jump) until a reload confirms the new one or the source corrects it.
    """
    import numpy as np

    jumps = np.flatnonzero((ratio >= JUMP_RATIO) | (ratio <= 1.0 / JUMP_RATIO)).tolist()
    starts: list[int] = []
    inside: dict[int, int] = {}
    undone: set[int] = set()
    shifted: set[int] = set()  # rows after a persistent jump
    n_rows = len(level)
    for n, i in enumerate(jumps):
        if i in undone or i in shifted:
            continue
        starts.append(i)
        back = False
        for j in jumps[n + 1:]:
            if j - i > MAX_RUN or not same[i + 1 : j + 1].all():
                break
            if 1.0 / JUMP_RATIO < level[j] / level[i - 1] < JUMP_RATIO:
                inside.update({k: i for k in range(i + 1, j)})
                undone.add(j)
                back = True
                break
        if not back and persistent is not None and persistent(ratio[i]):
            k = i + 1
            while k < n_rows and same[k]:
                if 1.0 / JUMP_RATIO < level[k] / level[i - 1] < JUMP_RATIO:
                    break  # back on the level before the jump, later than MAX_RUN: the rest is good
                inside.setdefault(k, i)
                shifted.add(k)
                k += 1
    return starts, inside


def _flags(bars: "pd.DataFrame", extras: dict, lines) -> list[Issue]:
    """One-day moves that look like unit or split errors, on valid bars sorted by symbol, date."""
    import numpy as np

    if len(bars) < 2:
        return []
    sym = bars["symbol"].to_numpy()
    same = np.r_[False, sym[1:] == sym[:-1]]
    close = bars["close"].to_numpy()
    adj = bars["adj_close"].to_numpy()
    ratio = np.ones(len(bars))
    ratio[same] = close[same] / np.roll(close, 1)[same]
    factor = adj / close
    fratio = np.ones(len(bars))
    fratio[same] = factor[same] / np.roll(factor, 1)[same]
    out: list[Issue] = []

    def add(i: int, text: str) -> None:
        out.append(Issue(str(sym[i]), bars["date"].iloc[i].strftime("%Y-%m-%d"), text,
                         int(lines[i]) if lines is not None else None))

    starts, inside = _runs(ratio, close, same, persistent=_unit_or_split)
    for i in starts:
        r = ratio[i]
        prev = close[i - 1]
        if abs(math.log10(r if r >= 1 else 1 / r) - 2.0) < 0.15:
            add(i, f"close {prev:g} -> {close[i]:g} ({r:.3g}x in one day) looks like a 100x unit error "
                   "(prices quoted in cents)")
        else:
            k = _split_like(r)
            what = f"an unapplied {k:g}-for-1 split" if k and r < 1 else (
                f"an unapplied 1-for-{k:g} reverse split" if k else "an unapplied split or a unit error")
            add(i, f"close {prev:g} -> {close[i]:g} ({r:.3g}x in one day) looks like {what}")
    for k, i in inside.items():
        add(k, f"close {close[k]:g} is inside the run that starts with the jump on "
               f"{bars['date'].iloc[i].strftime('%Y-%m-%d')} and ends when prices return to their level before it")
    fstarts, finside = _runs(fratio, factor, same)
    for i in fstarts:
        add(i, f"Adj Close / Close changes {fratio[i]:.3g}x in one day: a bad dividend or split adjustment")
    for k, i in finside.items():
        add(k, f"Adj Close / Close is inside the run that starts with the jump on "
               f"{bars['date'].iloc[i].strftime('%Y-%m-%d')} and ends when it returns to its level before it")
    div = extras.get("dividends")
    if div is not None:
        for i in np.flatnonzero(same & (div > 0)):
            expected = 1.0 - div[i] / close[i - 1]
            if 0 < expected < 0.999 and abs(1.0 / fratio[i] - 1.0) < 1e-4:
                add(i, f"dividend {div[i]:g} is not reflected in Adj Close (adjustment factor unchanged)")
    return out
