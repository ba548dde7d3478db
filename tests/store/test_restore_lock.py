"""The restore lock in the ledger: while it is held no job or catch-up claims the database; a stale one
(its process gone) is dropped by the claim that meets it; restore takes it only when no run is live."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import NOW
from turbomode.store import ledger
from turbomode.store.db import transaction

LOCK = ledger.RestoreLock(pid=4242, host="here", acquired_at="2026-01-23T11:59:00Z", proc_started=1.5)
ALIVE, DEAD = (lambda row: True), (lambda row: False)


def restoring(conn, lock=LOCK):
    with transaction(conn):
        assert ledger.put_restore_lock(conn, lock)


def locks(conn):
    return [tuple(r) for r in conn.execute("SELECT name, run_id, pid FROM locks ORDER BY name")]


def test_a_job_claimed_while_a_restore_holds_the_database_is_skipped_naming_the_restore(fresh_db):
    restoring(fresh_db)

    claim = ledger.claim_run(fresh_db, "scan", "cron", NOW, lock_alive=ALIVE,
                             skipped_message=lambda holder: f"held by {holder['name']}")

    assert not claim.claimed and claim.holder["name"] == "restore" and claim.holder["pid"] == 4242
    run = ledger.get_run(fresh_db, claim.run_id)
    assert (run["status"], run["error"]) == ("skipped", "held by restore")
    assert locks(fresh_db) == [("restore", None, 4242)]


def test_without_a_judge_any_restore_lock_counts_as_held(fresh_db):
    restoring(fresh_db)
    assert not ledger.claim_run(fresh_db, "scan", "cron", NOW).claimed
    assert ledger.claim_lock(fresh_db, "catchup", NOW)["name"] == "restore"


def test_a_claim_drops_a_restore_lock_whose_process_is_gone_and_takes_the_job(fresh_db):
    restoring(fresh_db)

    claim = ledger.claim_run(fresh_db, "scan", "cron", NOW, lock_alive=DEAD)

    assert claim.claimed
    assert locks(fresh_db) == [("scan", claim.run_id, ledger.restore_lock(NOW, None).pid)]


def test_a_catchup_is_refused_while_a_restore_holds_the_database_and_not_after_it_died(fresh_db):
    restoring(fresh_db)
    assert ledger.claim_lock(fresh_db, "catchup", NOW, lock_alive=ALIVE)["name"] == "restore"
    assert ledger.claim_lock(fresh_db, "catchup", NOW, lock_alive=DEAD) is None
    assert [name for name, *_ in locks(fresh_db)] == ["catchup"]


def test_restore_takes_the_lock_only_when_no_run_is_live(fresh_db):
    assert ledger.claim_restore(fresh_db, LOCK, lambda conn: ["scan run 1"]) == ["scan run 1"]
    assert locks(fresh_db) == []
    assert ledger.claim_restore(fresh_db, LOCK, lambda conn: []) == []
    assert locks(fresh_db) == [("restore", None, 4242)]


def test_restore_replaces_a_stale_restore_lock(fresh_db):
    restoring(fresh_db, LOCK._replace(pid=1, acquired_at="2026-01-01T00:00:00Z"))
    assert ledger.claim_restore(fresh_db, LOCK, lambda conn: []) == []
    row = fresh_db.execute("SELECT * FROM locks").fetchone()
    assert (row["pid"], row["acquired_at"], row["proc_started"]) == (4242, LOCK.acquired_at, 1.5)


def test_the_restore_lock_is_released_only_by_its_own_restore(fresh_db):
    restoring(fresh_db)
    assert not ledger.release_restore_lock(fresh_db, LOCK._replace(acquired_at="2026-01-23T12:00:00Z"))
    assert ledger.release_restore_lock(fresh_db, LOCK)
    assert locks(fresh_db) == []


@pytest.mark.parametrize("schema, written", [
    ("CREATE TABLE locks (name TEXT PRIMARY KEY, run_id INTEGER, pid INTEGER, host TEXT,"
     " acquired_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL)", True),  # before proc_started
    ("CREATE TABLE active_signals (symbol TEXT)", False),  # the old system's: no ledger
])
def test_a_backup_older_than_the_lock_columns_still_takes_the_lock_when_it_has_a_ledger(tmp_path, schema, written):
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute(schema)
    with transaction(conn):
        assert ledger.put_restore_lock(conn, LOCK) is written
    if written:
        assert conn.execute("SELECT name, pid, acquired_at FROM locks").fetchall() == [
            ("restore", 4242, LOCK.acquired_at)]
    conn.close()
