from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from turbomode.data.sources.csv import read_yahoo_csv
from turbomode.data.validate import exchange_dates, validate

REAL = Path(__file__).parent / "yahoo-real"
GOOD = {"symbol": "AAA", "date": "2024-01-02", "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5,
        "adj_close": 10.4, "volume": 1000.0}


def frame(*changes):
    rows = []
    for i, ch in enumerate(changes):
        row = dict(GOOD, date=f"2024-01-{i + 2:02d}")
        row.update(ch)
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("change, reason", [
    ({"open": None}, "missing open"),
    ({"close": np.nan}, "missing close"),
    ({"adj_close": None}, "missing adj_close"),
    ({"low": 0.0}, "non-positive low"),
    ({"close": -1.0, "low": -2.0}, "non-positive low"),
    ({"adj_close": float("-inf")}, "non-finite adj_close"),
    ({"high": 8.0, "low": 9.0, "close": 8.5, "open": 8.5}, "high below low"),
    ({"close": 11.5}, "close outside [low, high]"),
    ({"close": 8.5}, "close outside [low, high]"),
    ({"volume": -5.0}, "negative volume"),
    ({"close": "abc"}, "non-numeric close 'abc'"),
    ({"date": "not a date"}, "missing or unreadable date"),
])
def test_it_drops_and_names_an_invalid_row(change, reason):
    res = validate(frame({}, change, {}))
    assert len(res.bars) == 2
    assert [(i.symbol, i.reason) for i in res.rejected] == [("AAA", reason)]
    assert res.flagged == []


def test_identical_duplicate_dates_keep_one_copy_and_differing_ones_keep_none():
    df = frame({}, {}, {})
    df.loc[1, "date"] = df.loc[0, "date"]  # exact copy of row 0 except... make it identical
    df.loc[1, list(GOOD)[2:]] = df.loc[0, list(GOOD)[2:]]
    dup_diff = pd.DataFrame([dict(GOOD, date="2024-02-01"), dict(GOOD, date="2024-02-01", close=10.0)])
    res = validate(pd.concat([df, dup_diff], ignore_index=True))
    assert sorted(d.strftime("%Y-%m-%d") for d in res.bars.date) == ["2024-01-02", "2024-01-04"]
    reasons = sorted((i.date, i.reason) for i in res.rejected)
    assert reasons == [("2024-01-02", "duplicate date (identical copy dropped)"),
                       ("2024-02-01", "duplicate date with different values"),
                       ("2024-02-01", "duplicate date with different values")]


def test_rows_without_any_value_are_not_bars_and_not_reported():
    res = validate(frame({}, {k: None for k in ("open", "high", "low", "close", "adj_close", "volume")}))
    assert len(res.bars) == 1 and res.rejected == []


def test_output_is_sorted_by_symbol_and_date_whatever_the_input_order():
    df = pd.concat([frame({}, {}, {}).assign(symbol="BBB"), frame({}, {})], ignore_index=True).iloc[::-1]
    res = validate(df)
    assert list(res.bars.symbol) == ["AAA", "AAA", "BBB", "BBB", "BBB"]
    assert res.bars.groupby("symbol").date.apply(lambda d: d.is_monotonic_increasing).all()


@pytest.mark.parametrize("raw, expected", [
    ("2022-01-03 00:00:00-05:00", "2022-01-03"),
    ("2022-06-01 00:00:00+01:00", "2022-06-01"),  # London midnight stays its own day
    ("2022-01-03", "2022-01-03"),
    ("2022-01-03T21:00:00Z", "2022-01-03"),  # a UTC close is 16:00 in New York
    ("2022-01-04T02:00:00+00:00", "2022-01-03"),  # 21:00 New York the day before
    ("01/03/2022", "2022-01-03"),
])
def test_timestamps_become_exchange_dates(raw, expected):
    assert exchange_dates(pd.Series([raw])).iloc[0] == pd.Timestamp(expected)


def test_tz_aware_datetimes_become_exchange_dates():
    utc = pd.Series(pd.to_datetime(["2022-01-04 02:00"]).tz_localize("UTC"))
    ny = pd.Series(pd.to_datetime(["2022-01-03 00:00"]).tz_localize("America/New_York"))
    assert exchange_dates(utc).iloc[0] == pd.Timestamp("2022-01-03")
    assert exchange_dates(ny).iloc[0] == pd.Timestamp("2022-01-03")


@pytest.mark.parametrize("name, rows", [("CALM-1d-no-bad-divs.csv", 662), ("EWG-1d-no-bad-divs.csv", 662)])
def test_clean_real_yahoo_files_are_accepted_with_nothing_flagged(name, rows):
    res = validate(read_yahoo_csv(REAL / name, name.split("-")[0]))
    assert len(res.bars) == rows and res.rejected == [] and res.flagged == []
    assert res.bars.date.min() == pd.Timestamp("2022-01-03") and res.bars.date.max() == pd.Timestamp("2024-08-21")
    assert res.bars.close.iloc[0] == pytest.approx(37.70000076293945 if name.startswith("CALM") else 33.15999984741211)


@pytest.mark.parametrize("name, date, needle", [
    ("AET-L-1d-100x-error.csv", "2022-05-09", "100x unit error"),
    ("AET-L-1d-100x-error.csv", "2022-05-19", "inside the run that starts with the jump on 2022-05-09"),
    ("SSW-JO-1d-100x-error.csv", "2023-06-01", "100x unit error"),
    ("MOB-ST-1d-bad-stock-split.csv", "2023-05-22", "unapplied 10-for-1 split"),
    ("CNE-L-1d-bad-stock-split.csv", "2023-05-16", "unapplied split"),
    ("8TRA-DE-1d-missing-div-adjust.csv", "2023-06-02", "dividend 0.7 is not reflected"),
])
def test_real_yahoo_defects_are_flagged_and_kept(name, date, needle):
    raw = read_yahoo_csv(REAL / name, name.split("-1d")[0])
    res = validate(raw)
    assert len(res.bars) == len(raw)  # flagged, not dropped
    hits = [f for f in res.flagged if f.date == date and needle in f.reason]
    assert hits, [str(f) for f in res.flagged]
    assert hits[0].line is not None


def test_a_run_quoted_in_cents_is_suspect_from_its_first_day_to_its_last_but_not_the_day_it_ends():
    # Yahoo served AET.L in pence from 2022-05-09 to 2022-05-19, in pounds before and after
    res = validate(read_yahoo_csv(REAL / "AET-L-1d-100x-error.csv", "AET.L"))
    days = sorted(f.date for f in res.flagged)
    assert days == ["2022-05-09", "2022-05-10", "2022-05-11", "2022-05-12", "2022-05-13", "2022-05-16",
                    "2022-05-17", "2022-05-18", "2022-05-19"]
    assert "2022-05-20" not in days  # back to its right level: a good bar


def test_a_one_day_spike_flags_only_the_spike():
    days = pd.bdate_range("2024-01-01", periods=6)
    closes = [10.0, 10.1, 1010.0, 10.2, 10.3, 10.2]
    df = pd.DataFrame({"symbol": "X", "date": days, "open": closes, "high": closes, "low": closes,
                       "close": closes, "adj_close": closes, "volume": 100})
    assert [f.date for f in validate(df).flagged] == ["2024-01-03"]


def test_a_large_sample_panel_validates_clean():
    from datetime import date

    from turbomode.data import sample
    from turbomode.data.universe import load_universe

    df = sample.generate(load_universe()[:60], date(2011, 1, 3), date(2020, 12, 31), seed=1, strength=0.6)
    res = validate(df)
    assert len(res.bars) == len(df) and res.rejected == [] and res.flagged == []
