"""maintain: expiry, pruning, integrity, backup rotation and vacuum, on real SQLite files."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from tests.conftest import NOW
from turbomode.clock import iso
from turbomode.config import defaults
from turbomode.store import backup as backup_store
from turbomode.store import maintenance as store
from turbomode.tasks import maintain


CFG = defaults()
COST = 2 * (CFG["backtest.commission_bps"] + CFG["backtest.slippage_bps"]) / 1e4


def add_signal(conn, symbol, signal_type="BUY", *, expires_at, entry=100.0, sector="Energy", active=1):
    cur = conn.execute(
        "INSERT INTO active_signals (symbol, signal_type, confidence, entry_price, target_price, stop_loss,"
        " sector, created_at, expires_at, is_active, market_date, expiry_date, data_source)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (symbol, signal_type, 0.6, entry, entry * (1.1 if signal_type == "BUY" else 0.9),
         entry * (0.95 if signal_type == "BUY" else 1.05), sector, "2026-01-05T23:30:00Z", expires_at,
         active, "2026-01-05", expires_at[:10], "sample"),
    )
    return cur.lastrowid


def add_bar(conn, symbol, date, low, high, close):
    conn.execute("INSERT INTO price_data (symbol, date, open, high, low, close, adj_close, volume)"
                 " VALUES (?,?,?,?,?,?,?,?)", (symbol, date, close, high, low, close, close, 1000))


def test_signals_past_expiry_are_closed_by_the_scan_rule_and_archived(fresh_db):
    # entry 100 on 2026-01-05, target 110, stop 95, expiring 2026-01-16
    for sym in ("HIT", "FLAT", "SHORT"):
        add_bar(fresh_db, sym, "2026-01-05", 100, 100, 100)
    add_bar(fresh_db, "HIT", "2026-01-08", 101, 111, 108)  # touched the target before expiry
    add_bar(fresh_db, "FLAT", "2026-01-09", 99, 104, 103)  # never reached a barrier
    add_bar(fresh_db, "FLAT", "2026-01-20", 120, 130, 125)  # after expiry: not its exit
    add_bar(fresh_db, "SHORT", "2026-01-14", 96, 99, 97)
    hit = add_signal(fresh_db, "HIT", "BUY", expires_at="2026-01-16T21:00:00Z")
    flat = add_signal(fresh_db, "FLAT", "BUY", expires_at="2026-01-16T21:00:00Z")
    short = add_signal(fresh_db, "SHORT", "SELL", expires_at="2026-01-16T21:00:00Z", sector="Utilities")
    noprice = add_signal(fresh_db, "NOPX", "BUY", expires_at="2026-01-16T21:00:00Z")
    live = add_signal(fresh_db, "LIVE", "BUY", expires_at="2026-01-30T21:00:00Z")

    closed = maintain.expire_signals(fresh_db, NOW, CFG)

    assert sorted(c.signal_id for c in closed) == sorted([hit, flat, short, noprice])
    assert [r[0] for r in fresh_db.execute("SELECT id FROM active_signals")] == [live]
    hist = {r["symbol"]: r for r in fresh_db.execute("SELECT * FROM signal_history")}
    assert (hist["HIT"]["outcome"], hist["HIT"]["exit_price"]) == ("target", pytest.approx(110.0))
    assert (hist["FLAT"]["outcome"], hist["FLAT"]["exit_date"]) == ("expired", "2026-01-09")
    assert hist["FLAT"]["realized_return"] == pytest.approx(0.03 - COST)  # net of the round trip
    assert hist["SHORT"]["realized_return"] == pytest.approx(0.03 - COST)  # a SELL gains when the price falls
    assert (hist["NOPX"]["outcome"], hist["NOPX"]["exit_price"]) == ("expired", 100.0)
    assert all(r["closed_at"] == iso(NOW) for r in hist.values())
    stats = {(r["sector"], r["signal_type"]): r["total_signals"] for r in fresh_db.execute("SELECT * FROM sector_stats")}
    assert stats == {("Energy", "BUY"): 3, ("Utilities", "SELL"): 1}


def test_a_signal_never_filled_before_its_expiry_ends_unfilled_with_no_return(fresh_db):
    sid = add_signal(fresh_db, "GONE", "BUY", expires_at="2026-01-16T21:00:00Z")
    fresh_db.execute("UPDATE active_signals SET price_basis = 'close', reference_price = 100.0, sigma = 0.02"
                     " WHERE id = ?", (sid,))
    (closed,) = maintain.expire_signals(fresh_db, NOW, CFG)
    assert (closed.outcome, closed.realized_return) == ("unfilled", 0.0)


def test_expiring_twice_archives_nothing_twice(fresh_db):
    add_signal(fresh_db, "AAA", "BUY", expires_at="2026-01-16T21:00:00Z")
    assert len(maintain.expire_signals(fresh_db, NOW, CFG)) == 1
    assert maintain.expire_signals(fresh_db, NOW, CFG) == []
    assert fresh_db.execute("SELECT COUNT(*) FROM signal_history").fetchone()[0] == 1


def test_a_signal_whose_prices_stop_before_its_expiry_is_not_closed_on_the_wall_clock(fresh_db):
    # prices end 2026-01-09 (ingest has been failing), the expiry 2026-01-16 has passed on the clock:
    # what the signal did after 2026-01-09 is unknown, so it is not 'expired' at the 2026-01-09 close
    add_bar(fresh_db, "STALE", "2026-01-05", 100, 100, 100)
    add_bar(fresh_db, "STALE", "2026-01-09", 99, 104, 103)
    add_signal(fresh_db, "STALE", "BUY", expires_at="2026-01-16T21:00:00Z")
    assert maintain.expire_signals(fresh_db, NOW, CFG) == []
    assert fresh_db.execute("SELECT COUNT(*) FROM active_signals").fetchone()[0] == 1
    # once the prices reach past the expiry, it ends by the rule
    add_bar(fresh_db, "STALE", "2026-01-20", 101, 103, 102)
    (closed,) = maintain.expire_signals(fresh_db, NOW, CFG)
    assert (closed.outcome, closed.exit_date) == ("expired", "2026-01-09")


def test_after_expiry_settles_signals_a_scan_as_of_an_earlier_session_is_refused(fresh_db):
    # maintain closed the signal with the bars up to 2026-01-20: scanning 2026-01-08 now would see that
    # signal already gone (and could emit a second one for the symbol), a future it could not know
    from turbomode.errors import BadInput
    from turbomode.tasks import scan

    add_bar(fresh_db, "HIT", "2026-01-05", 100, 100, 100)
    add_bar(fresh_db, "HIT", "2026-01-08", 101, 111, 108)
    add_bar(fresh_db, "HIT", "2026-01-20", 101, 103, 102)
    add_signal(fresh_db, "HIT", "BUY", expires_at="2026-01-16T21:00:00Z")
    assert len(maintain.expire_signals(fresh_db, NOW, CFG)) == 1
    with pytest.raises(BadInput, match="settled the open signals with the bars of the later session 2026-01-20"):
        scan._check_inputs(fresh_db, CFG, NOW, {"as_of": "2026-01-08"})


def test_it_prunes_old_finished_runs_but_never_a_running_one(fresh_db):
    old = iso(NOW - timedelta(days=400))
    recent = iso(NOW - timedelta(days=3))
    for status, started in [("succeeded", old), ("failed", old), ("running", old), ("succeeded", recent)]:
        fresh_db.execute("INSERT INTO task_runs (task, trigger, started_at, status) VALUES ('scan','cron',?,?)",
                         (started, status))

    n = store.prune_task_runs(fresh_db, iso(NOW - timedelta(days=180)))

    assert n == 2
    left = fresh_db.execute("SELECT status, started_at FROM task_runs ORDER BY id").fetchall()
    assert [tuple(r) for r in left] == [("running", old), ("succeeded", recent)]


def add_version(conn, models_dir, version, created_at, status="retired"):
    folder = models_dir / version
    folder.mkdir(parents=True)
    (folder / "Energy-xgboost.joblib").write_bytes(b"model")
    for sector in ("Energy", "Utilities"):
        conn.execute("INSERT INTO model_metadata (version, sector, model_type, path, status, created_at)"
                     " VALUES (?,?,?,?,?,?)", (version, sector, "xgboost", str(folder / f"{sector}.joblib"),
                                               status, created_at))
    conn.execute("INSERT INTO training_runs (version, started_at, status) VALUES (?,?,?)",
                 (version, created_at, "succeeded"))


def test_it_prunes_versions_beyond_the_limit_but_never_the_champion(fresh_db, home):
    models = home / "models"
    add_version(fresh_db, models, "v1", "2026-01-01T00:00:00Z", status="champion")
    for i in range(2, 6):
        add_version(fresh_db, models, f"v{i}", f"2026-01-0{i}T00:00:00Z")

    pruned, kept = maintain.prune_model_versions(fresh_db, models, keep_versions=2)

    assert sorted(pruned) == ["v2", "v3"]
    assert sorted(kept) == ["v1", "v4", "v5"]
    assert sorted(p.name for p in models.iterdir()) == ["v1", "v4", "v5"]
    versions = {r[0] for r in fresh_db.execute("SELECT version FROM model_metadata UNION "
                                               "SELECT version FROM training_runs")}
    assert versions == {"v1", "v4", "v5"}


def test_it_keeps_every_version_scan_as_of_needs_within_the_configured_horizon(fresh_db, home):
    models = home / "models"
    ends = {"v1": "2024-01-10", "v2": "2025-02-10", "v3": "2025-06-10", "v4": "2025-10-10", "v5": "2025-12-10"}
    for i, (v, end) in enumerate(ends.items(), start=1):
        add_version(fresh_db, models, v, f"2026-01-0{i}T00:00:00Z", status="champion" if v == "v5" else "retired")
        fresh_db.execute("INSERT INTO model_metadata (version, sector, model_type, path, status, created_at,"
                         " data_end, decided_end) VALUES (?, 'Energy', 'ensemble', 'x', ?, 't', ?, ?)",
                         (v, "champion" if v == "v5" else "retired", end, end))
    # as-of dates from 2025-03-01 on need v2 (the newest fitted before it) and every later one
    pruned, kept = maintain.prune_model_versions(fresh_db, models, keep_versions=1, as_of_since="2025-03-01")
    assert pruned == ["v1"] and sorted(kept) == ["v2", "v3", "v4", "v5"]


def test_a_version_whose_rows_cannot_be_deleted_keeps_its_folder(fresh_db, home, monkeypatch):
    models = home / "models"
    add_version(fresh_db, models, "v1", "2026-01-01T00:00:00Z")
    add_version(fresh_db, models, "v2", "2026-01-02T00:00:00Z")

    def boom(conn, version):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "delete_model_version_rows", boom)
    with pytest.raises(sqlite3.OperationalError):
        maintain.prune_model_versions(fresh_db, models, keep_versions=1)

    assert (models / "v1" / "Energy-xgboost.joblib").exists()
    assert sorted(p.name for p in models.iterdir()) == ["v1", "v2"]
    assert fresh_db.execute("SELECT COUNT(*) FROM model_metadata WHERE version = 'v1'").fetchone()[0] == 2


def test_rotation_keeps_the_newest_backups_and_removes_leftover_temporaries(fresh_db, home):
    dest = home / "backups"
    made = [backup_store.backup_database(fresh_db, dest, NOW + timedelta(days=7 * i)) for i in range(5)]
    (dest / ".turbomode-20260101T000000Z.db.123.tmp").write_bytes(b"half")
    (dest / "notes.txt").write_text("mine")

    removed = backup_store.rotate_backups(dest, keep=3)

    assert removed == made[:2]
    assert sorted(p.name for p in dest.iterdir()) == sorted([p.name for p in made[2:]] + ["notes.txt"])


def test_a_backup_is_a_standalone_sound_copy(fresh_db, home):
    add_signal(fresh_db, "AAA", expires_at="2026-01-30T21:00:00Z")
    path = backup_store.backup_database(fresh_db, home / "backups", NOW)

    assert path.name == "turbomode-20260123T120000Z.db"
    assert not path.with_name(path.name + "-wal").exists()
    copy = sqlite3.connect(path)
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert copy.execute("SELECT symbol FROM active_signals").fetchall() == [("AAA",)]
    copy.close()


def test_vacuum_runs_only_when_enough_pages_are_free(fresh_db):
    fresh_db.execute("CREATE TABLE filler (x BLOB)")
    fresh_db.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(300)])
    untouched = maintain.vacuum_if_worthwhile(fresh_db, threshold=0.2)
    assert untouched["ran"] is False and untouched["free_ratio"] == 0

    fresh_db.execute("DELETE FROM filler")
    ran = maintain.vacuum_if_worthwhile(fresh_db, threshold=0.2)

    assert ran["ran"] is True and ran["free_ratio"] > 0.5
    assert ran["bytes_after"] < ran["bytes_before"] / 2
    assert store.page_stats(fresh_db).freelist_count == 0


def test_vacuum_is_skipped_below_the_threshold(fresh_db):
    fresh_db.execute("CREATE TABLE filler (x BLOB)")
    fresh_db.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(300)])
    fresh_db.execute("DELETE FROM filler WHERE rowid <= 30")
    out = maintain.vacuum_if_worthwhile(fresh_db, threshold=0.2)
    assert out["ran"] is False and 0 < out["free_ratio"] < 0.2


def test_the_run_reports_its_steps_in_order_to_a_progress_callback(home):
    from turbomode.context import Context

    ctx = Context.load(home)
    seen = []
    result = maintain.run(ctx, NOW, {"progress": lambda label, done, total: seen.append((label, done, total))})
    ctx.close()
    assert result.status == "succeeded"
    assert [s[0] for s in seen][:3] == ["integrity check", "expiring signals", "pruning"]
    assert seen[-1] == ("done", 5, 5)
    assert [s[1] for s in seen] == sorted(s[1] for s in seen)
