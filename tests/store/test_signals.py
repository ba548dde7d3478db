"""Open signals, their history and the per-sector statistics."""

import pytest

from turbomode.store import signals as store
from turbomode.store.db import transaction


def row(symbol, direction="BUY", confidence=0.6, sector="Energy", market_date="2026-01-20", **kw):
    r = {"symbol": symbol, "signal_type": direction, "confidence": confidence, "entry_price": 100.0,
         "target_price": 104.0, "stop_loss": 98.0, "sector": sector, "created_at": "2026-01-21T04:30:00Z",
         "expires_at": "2026-02-03T21:00:00Z", "market_date": market_date, "expiry_date": "2026-02-03",
         "model_version": "v1", "data_source": "sample", "prob_buy": confidence, "prob_sell": 0.1,
         "prob_hold": 0.3, "atr": 2.0}
    r.update(kw)
    return r


def test_inserted_signals_are_open_with_every_documented_column(fresh_db):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("AAA")])
    (got,) = store.active_signals(fresh_db)
    assert tuple(got) == store.ACTIVE_COLUMNS
    assert got["is_active"] == 1 and got["symbol"] == "AAA" and got["data_source"] == "sample"


def test_closing_moves_a_signal_to_history_with_its_outcome(fresh_db):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("AAA"), row("BBB")])
    sid = store.active_signals(fresh_db)[0]["id"]
    with transaction(fresh_db):
        pairs = store.close_signals(fresh_db, [store.Closure(sid, "target", "2026-01-22", 104.0, 0.04)],
                                    "2026-01-23T04:30:00Z")
    assert pairs == [("Energy", "BUY")]
    assert [s["symbol"] for s in store.active_signals(fresh_db)] == ["BBB"]
    (h,) = store.history(fresh_db)
    assert (h["signal_id"], h["outcome"], h["exit_price"], h["realized_return"], h["market_date"]) == \
        (sid, "target", 104.0, 0.04, "2026-01-20")


def test_closing_twice_records_the_signal_once(fresh_db):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("AAA")])
    sid = store.active_signals(fresh_db)[0]["id"]
    c = store.Closure(sid, "stop", "2026-01-22", 98.0, -0.02)
    for _ in range(2):
        with transaction(fresh_db):
            store.close_signals(fresh_db, [c], "2026-01-23T04:30:00Z")
    assert len(store.history(fresh_db)) == 1


def test_an_unknown_outcome_is_refused(fresh_db):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("AAA")])
    with pytest.raises(ValueError):
        store.close_signals(fresh_db, [store.Closure(1, "lucky", "2026-01-22", 1.0, 0.0)], "x")


def test_sector_stats_count_wins_losses_hit_rate_and_mean_return_per_direction(fresh_db):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("A"), row("B"), row("C"), row("D", "SELL")])
    ids = [s["id"] for s in store.active_signals(fresh_db)]
    closures = [store.Closure(ids[0], "target", "d", 104, 0.04), store.Closure(ids[1], "stop", "d", 98, -0.02),
                store.Closure(ids[2], "expired", "d", 101, 0.01), store.Closure(ids[3], "stop", "d", 102, -0.02)]
    with transaction(fresh_db):
        pairs = store.close_signals(fresh_db, closures, "2026-01-23T04:30:00Z")
        store.refresh_sector_stats(fresh_db, pairs, "2026-01-23T04:30:00Z")
        store.refresh_sector_stats(fresh_db, pairs, "2026-01-23T04:30:00Z")  # recomputing adds no rows
    stats = {s["signal_type"]: s for s in store.sector_stats(fresh_db)}
    assert set(stats) == {"BUY", "SELL"}
    b = stats["BUY"]
    assert (b["total_signals"], b["wins"], b["losses"]) == (3, 2, 1)
    assert b["hit_rate"] == pytest.approx(2 / 3) and b["avg_return"] == pytest.approx(0.01)
    assert (stats["SELL"]["wins"], stats["SELL"]["losses"], stats["SELL"]["hit_rate"]) == (0, 1, 0.0)


def test_a_signal_that_was_never_filled_is_not_a_trade_in_the_sector_stats(fresh_db):
    # 'unfilled': the symbol never traded after the signal, so no position existed to win or lose
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("A"), row("GONE")])
    ids = [s["id"] for s in store.active_signals(fresh_db)]
    closures = [store.Closure(ids[0], "target", "d", 104, 0.04), store.Closure(ids[1], "unfilled", "d", 100, 0.0)]
    with transaction(fresh_db):
        pairs = store.close_signals(fresh_db, closures, "2026-01-23T04:30:00Z")
        store.refresh_sector_stats(fresh_db, pairs, "2026-01-23T04:30:00Z")
    (b,) = store.sector_stats(fresh_db)
    assert (b["total_signals"], b["wins"], b["losses"], b["hit_rate"]) == (1, 1, 0, 1.0)
    assert b["avg_return"] == pytest.approx(0.04)


def test_sector_stats_rows_adopted_from_the_old_system_are_left_alone(fresh_db):
    fresh_db.execute("INSERT INTO sector_stats (sector, total_signals) VALUES ('Energy', 12)")
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("A")])
        pairs = store.close_signals(fresh_db, [store.Closure(1, "target", "d", 104, 0.04)], "t")
        store.refresh_sector_stats(fresh_db, pairs, "t")
    legacy = fresh_db.execute("SELECT total_signals FROM sector_stats WHERE signal_type IS NULL").fetchall()
    assert [r[0] for r in legacy] == [12]


@pytest.mark.parametrize("kwargs, expected", [
    ({}, ["C", "A", "B"]),
    ({"sort": "confidence", "descending": False}, ["B", "A", "C"]),
    ({"sort": "symbol"}, ["A", "B", "C"]),
    ({"sort": "symbol", "descending": True}, ["C", "B", "A"]),
    ({"sort": "sector"}, ["A", "C", "B"]),
    ({"signal_type": "sell"}, ["B"]),
    ({"sector": "energy"}, ["C", "A"]),
    ({"symbol": "b"}, ["B"]),
    ({"min_confidence": 0.6}, ["C", "A"]),
    ({"limit": 2}, ["C", "A"]),
])
def test_query_filters_and_sorts(fresh_db, kwargs, expected):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("A", confidence=0.6), row("B", "SELL", 0.56, "Utilities"),
                                        row("C", confidence=0.7)])
    assert [r["symbol"] for r in store.query_active(fresh_db, **kwargs)] == expected


def test_summary_and_latest_session(fresh_db):
    assert store.summary(fresh_db)["total"] == 0 and store.latest_session(fresh_db) is None
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("A"), row("B", "SELL", market_date="2026-01-21")])
    s = store.summary(fresh_db)
    assert (s["total"], s["buy"], s["sell"], s["newest_market_date"], s["sample_rows"]) == \
        (2, 1, 1, "2026-01-21", 2)
    assert store.latest_session(fresh_db) == "2026-01-21"


def test_drift_compares_the_backtest_hit_rate_with_filled_signals_only(fresh_db):
    from turbomode.store import drift as drift_store

    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("A"), row("GONE")])
    ids = [s["id"] for s in store.active_signals(fresh_db)]
    with transaction(fresh_db):
        store.close_signals(fresh_db, [store.Closure(ids[0], "stop", "d", 98, -0.02),
                                       store.Closure(ids[1], "unfilled", "d", 100, 0.0)], "2026-01-23T04:30:00Z")
    assert [c["outcome"] for c in drift_store.closed_signals(fresh_db, "2026-01-01T00:00:00Z")] == ["stop"]
