"""The trades table is replaced whole (or per sector) from rows staged outside the database."""

import os

import pytest

from turbomode.store import trades


def _row(symbol, sector, day, outcome="BUY"):
    return (symbol, sector, day, 10.0, 11.0, 9.5, 10, day, 11.0, outcome, 0.1, "{}", "2026-01-01T00:00:00Z", day)


def test_staged_rows_replace_the_stored_ones_and_the_scratch_file_is_deleted(fresh_db):
    trades.replace_trades(fresh_db, [_row("OLD", "Energy", "2020-01-02")])
    with trades.stage(lambda: [_row("AAA", "Energy", "2020-01-03"), _row("BBB", "Utilities", "2020-01-03", "SELL")]) \
            as staged:
        assert trades.replace_trades(fresh_db, staged) == 2
        path = staged.path
    assert not os.path.exists(path)
    assert sorted(r[0] for r in fresh_db.execute("SELECT symbol FROM trades")) == ["AAA", "BBB"]
    assert fresh_db.execute("PRAGMA database_list").fetchall()[-1][1] != "staged_trades"  # detached


def test_per_sector_replacement_keeps_the_other_sectors(fresh_db):
    trades.replace_trades(fresh_db, [_row("AAA", "Energy", "2020-01-02"), _row("UUU", "Utilities", "2020-01-02")])
    trades.replace_trades(fresh_db, [_row("EEE", "Energy", "2020-01-03")], sectors=["Energy"])
    assert sorted(r[0] for r in fresh_db.execute("SELECT symbol FROM trades")) == ["EEE", "UUU"]


def test_rows_that_fail_while_staging_leave_the_stored_trades_as_they_were(fresh_db):
    trades.replace_trades(fresh_db, [_row("OLD", "Energy", "2020-01-02")])

    def broken():
        yield _row("NEW", "Energy", "2020-01-03")
        raise ValueError("the labels could not be turned into rows")

    with trades.stage(broken) as staged:
        with pytest.raises(ValueError, match="could not be turned"):
            trades.replace_trades(fresh_db, staged)
    assert [r[0] for r in fresh_db.execute("SELECT symbol FROM trades")] == ["OLD"]
    assert not os.path.exists(staged.path)


def test_a_job_that_fails_before_writing_stops_the_staging_and_deletes_its_file(fresh_db):
    produced = []

    def endless():
        i = 0
        while True:
            i += 1
            produced.append(i)
            yield _row(f"S{i}", "Energy", "2020-01-03")

    with pytest.raises(RuntimeError):
        with trades.stage(endless) as staged:
            raise RuntimeError("the fit failed")
    assert not os.path.exists(staged.path)
    assert fresh_db.execute("SELECT COUNT(*) FROM trades").fetchone()[0] == 0
