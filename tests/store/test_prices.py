from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from tests.conftest import NOW
from turbomode.store import prices
from turbomode.store.db import transaction


def bars(symbol, days, close=100.0, adj=None, volume=1e6):
    closes = np.asarray(close if np.ndim(close) else [close] * len(days), dtype=float)
    adjs = closes if adj is None else np.asarray(adj if np.ndim(adj) else [adj] * len(days), dtype=float)
    return pd.DataFrame({"symbol": symbol, "date": pd.to_datetime(days), "open": closes, "high": closes + 1,
                         "low": closes - 1, "close": closes, "adj_close": adjs, "volume": volume})


DAYS = ["2026-01-20", "2026-01-21", "2026-01-22"]


def test_rewriting_the_same_bars_adds_no_duplicates_and_updates_values(fresh_db):
    assert prices.write_bars(fresh_db, bars("AAA", DAYS), "sample", NOW) == 3
    prices.write_bars(fresh_db, bars("AAA", DAYS[1:], close=50.0), "csv", NOW)
    rows = fresh_db.execute("SELECT date, close, source FROM price_data ORDER BY date").fetchall()
    assert [tuple(r) for r in rows] == [("2026-01-20", 100.0, "sample"), ("2026-01-21", 50.0, "csv"),
                                        ("2026-01-22", 50.0, "csv")]
    assert fresh_db.execute("SELECT ingested_at FROM price_data LIMIT 1").fetchone()[0] == "2026-01-23T12:00:00Z"


def test_a_missing_volume_is_stored_as_null(fresh_db):
    df = bars("AAA", DAYS)
    df.loc[1, "volume"] = np.nan
    prices.write_bars(fresh_db, df, "csv", NOW)
    vols = [r[0] for r in fresh_db.execute("SELECT volume FROM price_data ORDER BY date")]
    assert vols == [1e6, None, 1e6]


def test_bars_spread_over_several_statements_are_stored_exactly_and_a_repeated_bar_keeps_its_last_values(fresh_db):
    # more rows than one statement takes, and not a multiple of it, across symbols
    n = 2 * prices.ROWS_PER_STATEMENT + 37
    days = pd.bdate_range("2020-01-01", periods=n)
    rng = np.random.default_rng(7)
    df = pd.concat([bars(s, days, close=rng.uniform(1, 500, n)) for s in ("AAA", "BBB")], ignore_index=True)
    df["volume"] = rng.uniform(0, 1e7, len(df))
    df.loc[[0, prices.ROWS_PER_STATEMENT, len(df) - 1], "volume"] = np.nan
    assert prices.write_bars(fresh_db, df, "csv", NOW) == len(df)
    stored = fresh_db.execute("SELECT symbol, date, open, high, low, close, adj_close, volume, source, ingested_at"
                              " FROM price_data ORDER BY symbol, date").fetchall()
    assert [tuple(r) for r in stored] == list(prices.bar_rows(df, "csv", NOW))  # every float bit for bit

    again = bars("AAA", [days[5], days[5], days[6]], close=[1.0, 2.0, 3.0])  # day 5 twice, in one statement
    assert prices.write_bars(fresh_db, again, "sample", NOW) == 3
    rows = fresh_db.execute("SELECT date, close, source FROM price_data WHERE symbol = 'AAA' AND date IN (?, ?)"
                            " ORDER BY date", (f"{days[5]:%Y-%m-%d}", f"{days[6]:%Y-%m-%d}")).fetchall()
    assert [tuple(r) for r in rows] == [(f"{days[5]:%Y-%m-%d}", 2.0, "sample"), (f"{days[6]:%Y-%m-%d}", 3.0, "sample")]
    assert prices.count_bars(fresh_db) == len(df)


def test_writes_join_the_callers_transaction_and_roll_back_with_it(fresh_db):
    prices.write_bars(fresh_db, bars("AAA", DAYS[:1]), "sample", NOW)
    with pytest.raises(RuntimeError):
        with transaction(fresh_db):
            prices.write_bars(fresh_db, bars("BBB", DAYS), "sample", NOW)
            prices.delete_symbol(fresh_db, "AAA")
            raise RuntimeError("crash before commit")
    assert prices.last_dates(fresh_db) == {"AAA": date(2026, 1, 20)}


def test_read_panel_adjusts_prices_by_adj_close_over_close(fresh_db):
    prices.write_bars(fresh_db, bars("AAA", DAYS, close=[100, 100, 50], adj=[49, 49.5, 50]), "csv", NOW)
    prices.write_bars(fresh_db, bars("BBB", DAYS[:2]), "csv", NOW)
    adj = prices.read_panel(fresh_db)
    raw = prices.read_panel(fresh_db, adjusted=False)
    assert list(adj.columns) == ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]
    assert list(adj.symbol) == ["AAA"] * 3 + ["BBB"] * 2
    assert adj.date.dtype.kind == "M" and adj.date.iloc[0] == pd.Timestamp("2026-01-20")
    np.testing.assert_allclose(adj.close[:3], [49, 49.5, 50])
    np.testing.assert_allclose(adj.high[:3], [101 * 0.49, 101 * 0.495, 51])
    np.testing.assert_allclose(raw.close[:3], [100, 100, 50])


@pytest.mark.parametrize("kwargs, expect", [
    ({"symbols": ["BBB"]}, [("BBB", "2026-01-20"), ("BBB", "2026-01-21")]),
    ({"start": "2026-01-21", "end": date(2026, 1, 21)}, [("AAA", "2026-01-21"), ("BBB", "2026-01-21")]),
    ({"symbols": []}, []),
])
def test_read_panel_filters_symbols_and_dates(fresh_db, kwargs, expect):
    prices.write_bars(fresh_db, bars("AAA", DAYS), "csv", NOW)
    prices.write_bars(fresh_db, bars("BBB", DAYS[:2]), "csv", NOW)
    got = prices.read_panel(fresh_db, **kwargs)
    assert [(s, d.strftime("%Y-%m-%d")) for s, d in zip(got.symbol, got.date)] == expect


def test_replace_symbol_deletes_dates_the_new_history_lacks(fresh_db):
    prices.write_bars(fresh_db, bars("AAA", DAYS), "csv", NOW)
    prices.write_bars(fresh_db, bars("BBB", DAYS), "csv", NOW)
    prices.replace_symbol(fresh_db, "AAA", bars("AAA", DAYS[1:], close=7.0), "csv", NOW)
    assert prices.count_bars(fresh_db, "AAA") == 2 and prices.count_bars(fresh_db, "BBB") == 3
    assert prices.first_dates(fresh_db)["AAA"] == date(2026, 1, 21)


def test_latest_bar_date_uses_symbols_bookkeeping_and_falls_back_to_the_bars(fresh_db):
    assert prices.latest_bar_date(fresh_db) is None
    prices.write_bars(fresh_db, bars("AAA", DAYS[:2]), "csv", NOW)
    assert prices.latest_bar_date(fresh_db) == "2026-01-21"  # no symbols rows yet: scans the bars
    prices.upsert_symbol(fresh_db, "AAA", name="A", sector="Energy", source="csv", now=NOW, status="ok")
    row = fresh_db.execute("SELECT first_date, last_date, status, sector FROM symbols").fetchone()
    assert tuple(row) == ("2026-01-20", "2026-01-21", "ok", "Energy")
    assert prices.latest_bar_date(fresh_db) == "2026-01-21"


def test_meta_data_source_round_trips(fresh_db):
    assert prices.data_source(fresh_db) is None
    prices.set_meta(fresh_db, "data_source", "sample", NOW)
    prices.set_meta(fresh_db, "data_source", "yfinance", NOW)
    assert prices.data_source(fresh_db) == "yfinance"


def test_sessions_are_written_and_read_back_for_freshness(fresh_db):
    from turbomode.store import sessions

    utc = timezone.utc
    rows = [(date(2026, 1, d), datetime(2026, 1, d, 14, 30, tzinfo=utc), datetime(2026, 1, d, 21, 0, tzinfo=utc))
            for d in (21, 22, 23)]
    sessions.write_sessions(fresh_db, rows)
    sessions.write_sessions(fresh_db, rows)  # idempotent
    assert fresh_db.execute("SELECT count(*) FROM market_sessions").fetchone()[0] == 3
    from turbomode.store import state  # the one last-completed-session rule (status, scan, catchup)

    assert state.last_completed_session(fresh_db, NOW) == "2026-01-22"


def test_adjusted_volume_follows_the_same_factor_as_prices_so_a_split_does_not_jump(fresh_db):
    import pandas as pd

    from turbomode.store.prices import read_panel, write_bars

    # a 2:1 split on 2024-01-04 that the raw closes show (100 -> 50) and adj_close has applied
    bars = pd.DataFrame({"symbol": "X", "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04",
                                                                "2024-01-05"]),
                         "open": [100.0, 100.0, 50.0, 50.0], "high": [101.0, 101.0, 51.0, 51.0],
                         "low": [99.0, 99.0, 49.0, 49.0], "close": [100.0, 100.0, 50.0, 50.0],
                         "adj_close": [50.0, 50.0, 50.0, 50.0], "volume": [1e6, 1e6, 2e6, 2e6]})
    write_bars(fresh_db, bars, "csv", NOW)
    adj = read_panel(fresh_db, ["X"])
    assert adj["close"].tolist() == [50.0] * 4 and adj["volume"].tolist() == [2e6] * 4
    raw = read_panel(fresh_db, ["X"], adjusted=False)
    assert raw["volume"].tolist() == [1e6, 1e6, 2e6, 2e6]
