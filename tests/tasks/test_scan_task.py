"""`turbomode scan` end to end through the real CLI, with a champion double and bars written directly."""

from __future__ import annotations

import json
import sqlite3
import math
from datetime import date, datetime, timezone

import pandas as pd
import pytest
import time_machine

from tests.conftest import NOW
from tests.tasks import scan_doubles as d
from turbomode.errors import ModelMissing
from turbomode.tasks import scan as scan_task

DAYS = d.business_days(date(2025, 10, 1), date(2026, 1, 22))  # last completed session at NOW: 2026-01-22
FUTURE = d.business_days(date(2026, 1, 23), date(2026, 3, 31))
S = DAYS[-1]


@pytest.fixture
def market(home, monkeypatch):
    """A home with five symbols (NEW has only five bars) and a champion double; returns (conn, champ)."""
    d.write_home(home)
    champ = d.FakeChampions({"AAA": (0.70, 0.10, 0.20), "BBB": (0.10, 0.62, 0.28), "CCC": (0.50, 0.20, 0.30),
                             "NEW": (0.90, 0.05, 0.05)})
    monkeypatch.setattr(scan_task, "_load_champions", lambda ctx: champ)
    monkeypatch.setattr(scan_task, "_compute_features", d.fake_features)
    monkeypatch.setattr(scan_task, "_vol_last", d.fake_vol)
    monkeypatch.setattr(scan_task, "_load_point_in_time", lambda ctx, session: champ)
    from turbomode.store.db import connect

    conn = connect(home / "turbomode.db")
    for sym in ("AAA", "BBB", "CCC", "DDD"):
        d.add_bars(conn, sym, DAYS)
    d.add_bars(conn, "NEW", DAYS[-5:])
    d.add_sessions(conn, DAYS + FUTURE)
    d.set_meta(conn, "data_source", "sample")
    yield conn, champ
    conn.close()


def scan(cli, *args, at=NOW):
    with time_machine.travel(at, tick=False):
        return cli("scan", "--no-deps", *args)


def active(conn):
    conn.row_factory = sqlite3.Row
    return {r["symbol"]: dict(r) for r in conn.execute("SELECT * FROM active_signals")}


def history(conn):
    return [dict(r) for r in conn.execute("SELECT * FROM signal_history ORDER BY id")]


def lvl(k, base=100.0):
    return base * math.exp(k * d.SIGMA)


COST = 2 * (1.0 + 5.0) / 1e4  # the default commission and slippage, both sides


def test_it_emits_the_sessions_signals_with_the_reference_close_target_stop_and_expiry(cli, market):
    conn, _ = market
    result = scan(cli)
    assert result.exit_code == 0, result.output
    sig = active(conn)
    assert set(sig) == {"AAA", "BBB"}  # CCC is below 0.55, DDD holds, NEW lacks history
    a, b = sig["AAA"], sig["BBB"]
    # not filled yet: the reference close, and the levels it would have if filled there
    assert (a["signal_type"], a["confidence"], a["entry_price"], a["price_basis"], a["fill_date"]) == \
        ("BUY", 0.7, 100.0, "close", None)
    assert (a["target_price"], a["stop_loss"], a["sigma"]) == pytest.approx((lvl(2), lvl(-1), 0.02))
    assert b["signal_type"] == "SELL" and (b["target_price"], b["stop_loss"]) == pytest.approx((lvl(-2), lvl(1)))
    assert a["market_date"] == S and a["expiry_date"] == FUTURE[4]  # 5 sessions later
    assert a["expires_at"] == f"{FUTURE[4]}T21:00:00Z"
    assert (a["sector"], a["model_version"], a["data_source"], a["is_active"]) == ("Energy", "test-v1", "sample", 1)
    assert a["created_at"] == "2026-01-23T12:00:00Z"
    assert "2 new signal(s)" in result.output and "SAMPLE DATA" in result.output


def test_a_re_run_keeps_the_sessions_decided_signals_even_under_a_new_model(cli, market):
    conn, champ = market
    scan(cli)
    first = active(conn)
    champ.probs["AAA"] = (0.1, 0.9, 0.0)  # would reverse AAA on a later session, not on this one
    champ.probs["CCC"] = (0.1, 0.9, 0.0)  # a symbol without a signal is still decided afresh
    again = scan(cli, "--json")
    assert again.exit_code == 0, again.output
    now = active(conn)
    assert now["AAA"] == first["AAA"] and now["BBB"] == first["BBB"] and set(now) == {"AAA", "BBB", "CCC"}
    assert history(conn) == []
    assert conn.execute("SELECT COUNT(*) FROM active_signals").fetchone()[0] == 3


def test_an_identical_re_run_leaves_identical_rows(cli, market):
    conn, _ = market
    scan(cli)
    first = active(conn)
    scan(cli)
    assert active(conn) == first and history(conn) == []


def next_day(conn, day, **bars):
    """Append ``day``'s bar for every symbol: default flat at 100, or (low, high, close[, open]) given."""
    for sym in ("AAA", "BBB", "CCC", "DDD", "NEW"):
        low, high, close, *opn = bars.get(sym, (99.5, 100.5, 100.0))
        conn.execute("INSERT INTO price_data (symbol, date, open, high, low, close, adj_close, volume)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, 1e6)", (sym, day, opn[0] if opn else 100.0, high, low, close,
                                                             close))


def test_the_next_sessions_open_fills_a_signal_and_its_levels_follow_the_fill(cli, market):
    conn, champ = market
    scan(cli)
    champ.probs.clear()
    next_day(conn, FUTURE[0], AAA=(100.5, 101.5, 101.0, 101.0))  # opens 1% above the reference close
    result = scan(cli, at=datetime(2026, 1, 24, 12, tzinfo=timezone.utc))
    assert result.exit_code == 0, result.output
    a = active(conn)["AAA"]
    assert (a["price_basis"], a["fill_date"], a["entry_price"], a["reference_price"]) == ("fill", FUTURE[0], 101.0, 100.0)
    assert (a["target_price"], a["stop_loss"]) == pytest.approx((lvl(2, 101.0), lvl(-1, 101.0)))
    assert "filled: 2" in result.output


def test_signals_that_touch_target_or_stop_move_to_history_and_update_sector_stats(cli, market):
    conn, champ = market
    scan(cli)
    next_day(conn, FUTURE[0], AAA=(99.0, 104.5, 104.0), BBB=(99.0, 102.5, 101.0))
    champ.probs.clear()
    later = datetime(2026, 1, 24, 12, tzinfo=timezone.utc)
    result = scan(cli, at=later)
    assert result.exit_code == 0, result.output
    h = {r["symbol"]: r for r in history(conn)}
    assert (h["AAA"]["outcome"], h["AAA"]["exit_date"]) == ("target", FUTURE[0])
    assert (h["AAA"]["exit_price"], h["AAA"]["entry_price"], h["AAA"]["price_basis"]) == pytest.approx(
        (lvl(2), 100.0, "fill"))
    assert h["AAA"]["realized_return"] == pytest.approx(math.exp(0.04) - 1 - COST)  # net of the round trip
    assert (h["BBB"]["outcome"], h["BBB"]["exit_price"]) == pytest.approx(("stop", lvl(1)))
    assert h["BBB"]["realized_return"] == pytest.approx(1 - math.exp(0.02) - COST)  # a SELL loses on a rise
    assert active(conn) == {}
    stats = {(r[0], r[1]): r[2:] for r in conn.execute(
        "SELECT sector, signal_type, total_signals, wins, losses, hit_rate FROM sector_stats")}
    assert stats == {("Energy", "BUY"): (1, 1, 0, 1.0), ("Energy", "SELL"): (1, 0, 1, 0.0)}
    assert "1 stop" in result.output and "1 target" in result.output


def test_a_signal_expires_after_its_horizon_at_the_last_close(cli, market):
    conn, champ = market
    scan(cli)
    champ.probs.clear()
    for i, day in enumerate(FUTURE[:5]):
        next_day(conn, day, AAA=(99.5, 100.5 + i / 10, 100.0 + i / 10))
    result = scan(cli, at=datetime(2026, 1, 29, 22, tzinfo=timezone.utc))
    assert result.exit_code == 0, result.output
    h = {r["symbol"]: r for r in history(conn)}
    assert (h["AAA"]["outcome"], h["AAA"]["exit_date"], h["AAA"]["exit_price"]) == ("expired", FUTURE[4], 100.4)
    assert h["AAA"]["realized_return"] == pytest.approx(0.004 - COST)


def test_an_opposite_view_leaves_the_open_position_alone_as_the_backtest_does(cli, market):
    conn, champ = market
    scan(cli)
    next_day(conn, FUTURE[0], AAA=(99.0, 101.0, 101.0))
    champ.probs["AAA"] = (0.1, 0.8, 0.1)
    result = scan(cli, "--json", at=datetime(2026, 1, 24, 12, tzinfo=timezone.utc))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["held"] == ["AAA"]
    assert [r for r in history(conn) if r["symbol"] == "AAA"] == []
    a = active(conn)["AAA"]
    assert (a["signal_type"], a["market_date"], a["price_basis"]) == ("BUY", S, "fill")


def test_a_same_direction_view_keeps_the_old_signal(cli, market):
    conn, _ = market
    scan(cli)
    old = active(conn)["AAA"]
    next_day(conn, FUTURE[0])
    scan(cli, at=datetime(2026, 1, 24, 12, tzinfo=timezone.utc))
    now = active(conn)["AAA"]
    assert (now["id"], now["market_date"], now["confidence"]) == (old["id"], old["market_date"], old["confidence"])
    assert conn.execute("SELECT COUNT(*) FROM active_signals WHERE symbol = 'AAA'").fetchone()[0] == 1


def test_stale_prices_are_refused_with_exit_4_unless_allowed(cli, market):
    conn, _ = market
    later = datetime(2026, 1, 27, 12, tzinfo=timezone.utc)  # sessions 23rd and 26th have closed
    result = scan(cli, at=later)
    assert result.exit_code == 4
    assert f"prices end {S}" in result.output and "turbomode ingest" in result.output
    assert "Traceback" not in result.output and active(conn) == {}
    run = conn.execute("SELECT status, exit_code FROM task_runs ORDER BY id DESC").fetchone()
    assert tuple(run) == ("failed", 4)
    assert scan(cli, "--allow-stale", at=later).exit_code == 0
    assert active(conn)


def test_a_refused_scan_leaves_every_table_as_it_was(cli, market):
    from tests.helpers_tables import snapshot

    conn, champ = market
    scan(cli)  # some open signals to leave alone
    next_day(conn, FUTURE[0], AAA=(99.0, 104.5, 104.0))  # would fill and close AAA...
    later = datetime(2026, 1, 28, 12, tzinfo=timezone.utc)  # ...but prices are stale by then
    before = snapshot(conn.execute("PRAGMA database_list").fetchone()[2])
    result = scan(cli, at=later)
    assert result.exit_code == 4, result.output
    assert snapshot(conn.execute("PRAGMA database_list").fetchone()[2]) == before


def test_no_champion_is_refused_with_exit_4_and_says_to_train(cli, market, monkeypatch):
    conn, _ = market

    def missing(ctx):
        raise ModelMissing("no champion models yet; run `turbomode train` first")

    monkeypatch.setattr(scan_task, "_load_champions", missing)
    result = scan(cli)
    assert result.exit_code == 4 and "turbomode train" in result.output


def test_no_prices_at_all_is_a_clear_refusal(cli, home, monkeypatch):
    d.write_home(home)
    result = scan(cli)
    assert result.exit_code == 4 and "turbomode ingest" in result.output


@pytest.mark.parametrize("as_of, code, words", [
    ("2026-01-17", 4, "no prices for --as-of 2026-01-17"),  # a Saturday
    ("2024-01-02", 4, "no prices for --as-of 2024-01-02"),
    ("2026-13-01", 2, "not a date"),
    ("yesterday", 2, "not a date"),
])
def test_an_as_of_date_without_prices_is_a_clear_error(cli, market, as_of, code, words):
    result = scan(cli, "--as-of", as_of)
    assert result.exit_code == code, result.output
    assert words in result.output and "Traceback" not in result.output


def test_as_of_scans_a_past_session_and_may_not_go_back_behind_emitted_signals(cli, market):
    conn, _ = market
    d.register_version(conn, "v1", "Energy", data_end=DAYS[-30])
    result = scan(cli, "--as-of", DAYS[-3])
    assert result.exit_code == 0, result.output
    assert {s["market_date"] for s in active(conn).values()} == {DAYS[-3]}
    back = scan(cli, "--as-of", DAYS[-4])
    assert back.exit_code == 2 and "later session" in back.output


def test_symbols_with_too_little_history_are_skipped_and_listed(cli, market):
    conn, _ = market
    result = scan(cli, "--json")
    summary = json.loads(result.stdout)["summary"]
    assert summary["skipped_history"] == ["NEW"] and "NEW" not in active(conn)
    run = json.loads(conn.execute("SELECT summary FROM task_runs ORDER BY id DESC").fetchone()[0])
    assert run["skipped_history"] == ["NEW"]


def test_a_one_sided_session_warns_in_the_output_and_the_run_summary(cli, home, monkeypatch, market):
    conn, champ = market
    many = {f"B{i:02d}": "Energy" for i in range(12)}
    d.write_home(home, sectors=many)
    for sym in many:
        d.add_bars(conn, sym, DAYS)
        champ.probs[sym] = (0.8, 0.1, 0.1)
    result = scan(cli)
    assert result.exit_code == 0
    assert "12 of the session's 12 signals (100%) are BUY" in result.output
    run = json.loads(conn.execute("SELECT summary FROM task_runs ORDER BY id DESC").fetchone()[0])
    assert run["one_sided"] is True and any("are BUY" in w for w in run["warnings"])


def test_open_signals_that_pile_up_one_way_warn_though_no_session_has_ten(cli, home, market):
    # twelve stocks, four new SELL signals a session: no session reaches the ten a mix needs, but
    # after three the user holds twelve open signals, all SELL
    conn, champ = market
    many = {f"S{i:02d}": "Energy" for i in range(12)}
    d.write_home(home, sectors=many)
    for sym in many:
        d.add_bars(conn, sym, DAYS)
    champ.probs.clear()
    nights = [(None, NOW), (FUTURE[0], datetime(2026, 1, 24, 12, tzinfo=timezone.utc)),
              (FUTURE[1], datetime(2026, 1, 27, 12, tzinfo=timezone.utc))]
    seen = []
    for k, (day, at) in enumerate(nights):
        if day:
            for sym in many:
                d.add_bars(conn, sym, [day])
        for sym in list(many)[4 * k:4 * k + 4]:
            champ.probs[sym] = (0.1, 0.8, 0.1)
        result = scan(cli, "--json", at=at)
        assert result.exit_code == 0, result.output
        seen.append(json.loads(result.stdout)["summary"])
    assert [s["session_signals"]["SELL"] for s in seen] == [4, 4, 4]
    assert [s["one_sided"] for s in seen] == [False, False, True]  # 4 and 8 signals are too few to judge
    assert any("12 of the 12 open signals (100%) are SELL" in w for w in seen[-1]["warnings"])
    assert [s["open_signals"]["SELL"] for s in seen] == [4, 8, 12]


def test_closing_and_emitting_are_one_transaction(cli, market, monkeypatch):
    conn, champ = market
    scan(cli)
    before = active(conn)
    next_day(conn, FUTURE[0], AAA=(99.0, 104.5, 104.0))
    champ.probs["CCC"] = (0.9, 0.05, 0.05)
    from turbomode.store import signals as store

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "insert_signals", boom)
    result = scan(cli, at=datetime(2026, 1, 24, 12, tzinfo=timezone.utc))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert active(conn) == before and history(conn) == []  # AAA's target close was rolled back too


def test_as_of_refuses_with_exit_4_when_every_kept_version_had_seen_that_date(cli, market):
    conn, _ = market
    d.register_version(conn, "v2", "Energy", data_end=DAYS[-10])
    d.register_version(conn, "v1", "Energy", data_end=DAYS[-40], status="retired")
    result = scan(cli, "--as-of", DAYS[-45])
    assert result.exit_code == 4, result.output
    assert f"fitted and chosen on data up to {DAYS[-40]}" in result.output and "Traceback" not in result.output
    assert active(conn) == {}
    assert conn.execute("SELECT COUNT(*) FROM task_runs").fetchone()[0] <= 1


def test_as_of_picks_per_sector_the_newest_former_champion_fitted_before_the_date(market):
    from turbomode.store.models import earliest_point_in_time, point_in_time_files

    conn, _ = market
    d.register_version(conn, "v3", "Energy", data_end="2026-01-10")
    d.register_version(conn, "v2", "Energy", data_end="2025-12-01", status="retired")
    d.register_version(conn, "v1", "Energy", data_end="2025-06-01", status="retired")
    d.register_version(conn, "v9", "Energy", data_end="2025-01-01", status="challenger")  # never a champion
    d.register_version(conn, "u1", "Utilities", data_end="2025-11-01")
    pick = lambda day: {s: v for s, (v, _) in point_in_time_files(conn, day).items()}  # noqa: E731
    assert pick("2026-01-20") == {"Energy": "v3", "Utilities": "u1"}
    assert pick("2026-01-10") == {"Energy": "v2", "Utilities": "u1"}  # v3 had seen Jan 10 itself
    assert pick("2025-11-01") == {"Energy": "v1"}
    assert pick("2025-06-01") == {}
    assert earliest_point_in_time(conn) == "2025-06-01"


def test_as_of_uses_no_version_whose_promotion_was_decided_on_later_prices(market):
    """Fitted on data up to Nov 2025, but made champion on validation labels up to Jan 2026: whether it
    became champion was not known in December, so a December as-of scan must not use it."""
    from turbomode.store.models import point_in_time_files, point_in_time_firsts

    conn, _ = market
    d.register_version(conn, "v2", "Energy", data_end="2025-11-01", decided_end="2026-01-10")
    d.register_version(conn, "v1", "Energy", data_end="2025-06-01", decided_end="2025-09-01", status="retired")
    # recorded before decided_end was: known only from the day it was created
    d.register_version(conn, "u1", "Utilities", data_end="2025-01-01", decided_end="",
                       created_at="2025-12-15T03:00:00Z")
    pick = lambda day: {s: v for s, (v, _) in point_in_time_files(conn, day).items()}  # noqa: E731
    assert pick("2025-12-10") == {"Energy": "v1"}
    assert pick("2026-01-11") == {"Energy": "v2", "Utilities": "u1"}
    assert pick("2025-12-15") == {"Energy": "v1"}
    assert point_in_time_firsts(conn) == {"Energy": "2025-09-01", "Utilities": "2025-12-15"}


def test_as_of_is_partial_and_says_so_when_a_sector_has_no_version_known_before_the_date(cli, market):
    conn, _ = market
    d.register_version(conn, "v1", "Energy", data_end=DAYS[-30])
    d.register_version(conn, "u1", "Utilities", data_end=DAYS[-2])
    result = scan(cli, "--as-of", DAYS[-3])
    assert result.exit_code == 3, result.output
    assert "Utilities: no kept version was fitted and chosen on data before" in result.output
    assert "run `turbomode train" not in result.output


def test_as_of_is_refused_once_a_later_scan_settled_the_open_signals_even_if_it_emitted_nothing(cli, market):
    conn, _ = market
    d.register_version(conn, "v1", "Energy", data_end=DAYS[-30])
    assert scan(cli, "--as-of", DAYS[-5]).exit_code == 0
    conn.execute("DELETE FROM active_signals")  # as if the later session had closed them all and emitted none
    conn.execute("DELETE FROM signal_history")
    conn.commit()
    assert scan(cli, "--as-of", DAYS[-2]).exit_code == 0
    conn.execute("DELETE FROM active_signals")
    conn.execute("DELETE FROM task_runs")  # the meta record alone must be enough (the ledger is pruned)
    conn.commit()
    back = scan(cli, "--as-of", DAYS[-4])
    assert back.exit_code == 2, back.output
    assert f"settled the open signals with the bars of the later session {DAYS[-2]}" in back.output


def test_on_ingested_sample_bars_the_real_features_and_label_rule_set_the_levels(cli, home, monkeypatch):
    """Real ingest, features, volatility and levels; only the champion is a double."""
    from turbomode.ml.features import atr, log_atr, prepare_panel
    from turbomode.store.db import connect
    from turbomode.store.prices import read_panel

    d.write_home(home, sectors={"AAA": "Energy", "BBB": "Energy", "CCC": "Utilities"}, horizon=10,
                 start="2024-06-03")
    champ = d.FakeChampions({"AAA": (0.7, 0.1, 0.2), "BBB": (0.1, 0.65, 0.25)})
    monkeypatch.setattr(scan_task, "_load_champions", lambda ctx: champ)
    with time_machine.travel(NOW, tick=False):
        assert cli("ingest").exit_code == 0
    result = scan(cli, "--json")
    assert result.exit_code == 0, result.output
    conn = connect(home / "turbomode.db")
    sig = active(conn)
    assert set(sig) == {"AAA", "BBB"} and sig["AAA"]["market_date"] == "2026-01-22"
    panel = prepare_panel(read_panel(conn, ["AAA", "BBB"]))
    last = panel.assign(a=atr(panel, 14).to_numpy(), g=log_atr(panel, 14).to_numpy())
    last = last.groupby("symbol").tail(1).set_index("symbol")
    for sym, (t, s) in {"AAA": (2.0, -1.0), "BBB": (-2.0, 1.0)}.items():
        close, a, g = last.loc[sym, "close"], last.loc[sym, "a"], last.loc[sym, "g"]
        assert sig[sym]["entry_price"] == pytest.approx(close) and sig[sym]["atr"] == pytest.approx(a)
        assert sig[sym]["sigma"] == pytest.approx(g)
        assert sig[sym]["target_price"] == pytest.approx(close * math.exp(t * g))
        assert sig[sym]["stop_loss"] == pytest.approx(close * math.exp(s * g))
    seen = champ.seen[-1]
    assert list(seen.index.get_level_values("date").unique().strftime("%Y-%m-%d")) == ["2026-01-22"]
    assert seen.drop(columns="sector").notna().all().all()  # every feature known at the session
    conn.close()


def test_a_symbol_with_gaps_in_its_last_year_is_scanned_from_its_own_bars_as_train_sees_it(cli, home, monkeypatch):
    """Warm-up counts a symbol's own bars: 30 missing days in its last year leave it scanned (train,
    on the whole history, uses it), and the features of the others do not change because of it."""
    from turbomode.ml.features import WARMUP_BARS, compute_features
    from turbomode.store.db import connect
    from turbomode.store.prices import read_panel

    sectors = {"AAA": "Energy", "BBB": "Energy", "CCC": "Utilities"}
    d.write_home(home, sectors=sectors, horizon=10, start="2023-06-01")
    champ = d.FakeChampions({"AAA": (0.7, 0.1, 0.2), "BBB": (0.1, 0.65, 0.25), "CCC": (0.2, 0.2, 0.6)})
    monkeypatch.setattr(scan_task, "_load_champions", lambda ctx: champ)
    with time_machine.travel(NOW, tick=False):
        assert cli("ingest").exit_code == 0
    conn = connect(home / "turbomode.db")
    assert scan(cli, "--json").exit_code == 0
    before = champ.seen[-1].copy()
    days = [r[0] for r in conn.execute("SELECT date FROM price_data WHERE symbol = 'BBB' ORDER BY date DESC"
                                       " LIMIT 30 OFFSET 100")]
    conn.executemany("DELETE FROM price_data WHERE symbol = 'BBB' AND date = ?", [(x,) for x in days])
    conn.execute("DELETE FROM active_signals")
    conn.commit()
    result = scan(cli, "--json")
    assert result.exit_code == 0, result.output
    seen = champ.seen[-1]
    assert set(seen.index.get_level_values("symbol")) == {"AAA", "BBB", "CCC"}
    # what train computes for BBB on the session, from its whole history
    full = compute_features(read_panel(conn, ["BBB", "AAA", "CCC"]), sectors)
    session = seen.index.get_level_values("date")[0]
    assert full.loc[("BBB", session)].notna().all()
    # CCC (another sector) reads its own last WARMUP_BARS + 5 bars, as before BBB lost some
    pd.testing.assert_series_equal(seen.xs("CCC", level="symbol").iloc[0], before.xs("CCC", level="symbol").iloc[0],
                                   check_exact=True)
    assert WARMUP_BARS + 5 > 100 + 30  # the missing days were inside the bars a scan reads
    conn.close()


def test_an_open_signal_adopted_from_the_old_system_is_closed_by_its_bars(cli, market):
    conn, champ = market
    champ.probs.clear()
    # the seed's columns only: no market_date, expiry_date, model_version or data_source
    conn.execute("INSERT INTO active_signals (symbol, signal_type, confidence, entry_price, target_price,"
                 " stop_loss, sector, created_at, expires_at, is_active) VALUES"
                 " ('DDD', 'SELL', 0.9356, 100.0, 97.0, 100.3, 'Utilities', '2026-01-20T18:45:45',"
                 " '2026-02-03T18:45:45', 1)")
    result = scan(cli)
    assert result.exit_code == 0, result.output
    (h,) = history(conn)
    assert (h["symbol"], h["outcome"], h["exit_date"], h["exit_price"]) == ("DDD", "stop", DAYS[-2], 100.3)
    assert h["realized_return"] == pytest.approx(-0.003 - COST) and active(conn) == {}


def test_open_rows_edited_into_nonsense_are_named_and_left_alone_while_the_rest_are_scanned(cli, market):
    conn, champ = market
    champ.probs.clear()
    cols = ("INSERT INTO active_signals (symbol, signal_type, confidence, entry_price, target_price, stop_loss,"
            " sector, created_at, expires_at, is_active) VALUES ")
    conn.execute(cols + "('DDD', 'SELL', 0.9356, 100.0, 97.0, 100.3, 'Utilities', '2026-01-20T18:45:45',"
                 " '2026-02-03T18:45:45', 1)")
    conn.execute(cols + "('AAA', 'BUY', 0.6, 'abc', 97.0, 100.3, 'Energy', '2026-01-20T18:45:45', NULL, 1)")
    conn.execute(cols + "('BBB', 'BUY', 0.6, 100.0, 103.0, 99.0, 'Energy', 'yesterday', NULL, 1)")
    conn.execute(cols + "(NULL, 'BUY', 0.6, 100.0, 103.0, 99.0, 'Energy', '2026-01-20T18:45:45', NULL, 1)")
    conn.execute(cols + "('CCC', 'HOLD', 0.6, 100.0, 103.0, 99.0, 'Energy', '2026-01-20T18:45:45', NULL, 1)")
    before = conn.execute("SELECT * FROM active_signals WHERE symbol IS NOT 'DDD' ORDER BY id").fetchall()
    result = scan(cli)
    assert result.exit_code == 0, result.output
    assert "4 open signal row(s) in active_signals cannot be read and were left as they are (id 2 (AAA): " \
           "entry_price is not a number; id 3 (BBB): created_at is not a date; id 4 (no symbol): no symbol; " \
           "id 5 (CCC): signal_type is not BUY or SELL)" in " ".join(result.output.split())
    (h,) = history(conn)  # the readable one was scanned as ever
    assert h["symbol"] == "DDD" and h["outcome"] == "stop"
    assert conn.execute("SELECT * FROM active_signals WHERE symbol IS NOT 'DDD' ORDER BY id").fetchall() == before


def test_a_sector_served_by_its_previous_champion_is_partial_with_a_warning(cli, market):
    conn, champ = market
    champ.problems = {"Energy": "Energy: champion v2 is unusable (sha256 mismatch); using the previous champion v1"}
    result = scan(cli, "--json")
    assert result.exit_code == 3  # its champion's files are broken: someone must retrain (issue 10 item 8)
    assert "using the previous champion v1" in result.stderr
    run = json.loads(conn.execute("SELECT summary FROM task_runs ORDER BY id DESC").fetchone()[0])
    assert any("previous champion" in w for w in run["warnings"])


def test_nightly_cycles_on_ingested_bars_keep_one_signal_per_symbol_and_consistent_stats(cli, home, monkeypatch):
    """Ingest and scan on consecutive sessions with the real price path: fills, holds, closes, stats."""
    from datetime import timedelta

    from turbomode.store.db import connect

    syms = {f"S{i}": ("Energy" if i % 2 else "Utilities") for i in range(8)}
    d.write_home(home, sectors=syms, horizon=3, start="2024-06-03")
    champ = d.FakeChampions({s: (0.7, 0.1, 0.2) for s in syms})
    monkeypatch.setattr(scan_task, "_load_champions", lambda ctx: champ)
    day = NOW
    for n in range(6):
        with time_machine.travel(day, tick=False):
            assert cli("ingest").exit_code == 0
            result = cli("scan", "--no-deps")
            assert result.exit_code == 0, result.output
        # flip the view every other night: an open signal stays until its own rule closes it
        champ.probs = {s: ((0.1, 0.7, 0.2) if n % 2 == 0 else (0.7, 0.1, 0.2)) for s in syms}
        day += timedelta(days=1)
    conn = connect(home / "turbomode.db")
    per_symbol = conn.execute("SELECT symbol, COUNT(*) FROM active_signals GROUP BY symbol HAVING COUNT(*) > 1")
    assert per_symbol.fetchall() == []
    hist = history(conn)
    assert hist and {h["outcome"] for h in hist} <= {"target", "stop", "expired"}
    assert all(h["exit_date"] > h["market_date"] and h["fill_date"] > h["market_date"] for h in hist)
    stats = conn.execute("SELECT SUM(total_signals), SUM(wins) FROM sector_stats").fetchone()
    assert stats[0] == len(hist) and stats[1] == sum(h["realized_return"] > 0 for h in hist)
    conn.close()
