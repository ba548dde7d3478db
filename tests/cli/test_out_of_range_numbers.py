"""Numbers and times beyond what the product can use are a usage error (exit 2, one sentence), never an
OverflowError from SQLite, the operating system's semaphores or date arithmetic."""

from __future__ import annotations

import pytest

HUGE = "99999999999999999999"  # more than SQLite's and C's integers hold

CASES = [
    (["history", "-n", HUGE], "Invalid value for '--limit'"),
    (["history", "--limit", "1000001"], "Input should be less than or equal to 1000000"),
    (["signals", "--limit", HUGE], "--limit must be between 1 and 1,000,000"),
    (["signals", "--format", "json", "--limit", HUGE], "--limit must be between 1 and 1,000,000"),
    (["train", "--no-deps", "--workers", HUGE], "Invalid value for '--workers'"),
    (["train", "--no-deps", "--workers", "1025"], "less than or equal to 1024"),  # compute.workers' bound
    (["backtest", "--no-deps", "--workers", HUGE], "Invalid value for '--workers'"),
    (["drift", "--no-deps", "--workers", HUGE], "Invalid value for '--workers'"),
    (["catchup", "--dry-run", "--at", "9999-12-31"], "--at '9999-12-31' is out of range"),
    (["catchup", "--dry-run", "--at", "0001-01-01T00:00"], "give a time between 1900-01-01 and 2200-12-31"),
    (["catchup", "--dry-run", "--at", "2201-01-01T00:00Z"], "is out of range"),
]


@pytest.mark.parametrize("args, says", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_an_out_of_range_number_is_a_one_line_usage_error(cli, fresh_db, args, says):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    text = result.output
    assert "unexpected" not in text and "Traceback" not in text
    assert says in " ".join(text.split()), text
    if "json" not in args:
        assert len([line for line in text.splitlines() if line.strip()]) == 1, text


def test_a_refused_worker_count_enters_no_ledger_row(cli, fresh_db):
    cli("backtest", "--no-deps", "--workers", HUGE)
    assert fresh_db.execute("SELECT count(*) FROM task_runs").fetchone()[0] == 0


@pytest.mark.parametrize("at", ["1900-01-01T00:00Z", "2200-12-31T12:00"])
def test_catchup_plans_for_the_first_and_last_dates_it_accepts(cli, fresh_db, at):
    result = cli("catchup", "--dry-run", "--at", at, "--json")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("key, value", [("signals.min_confidence", "nan"), ("labels.target_multiple", "nan"),
                                        ("labels.stop_multiple", "-nan"), ("data.reload_tolerance", "+nan")])
def test_a_nan_in_the_config_file_is_a_one_line_usage_error(cli, home, key, value):
    # TOML has a nan literal, and every comparison with nan is False: a range check alone let it through
    # (nan targets and stops, or a confidence threshold no signal can ever meet)
    section, name = key.rsplit(".", 1)
    home.mkdir(parents=True, exist_ok=True)
    (home / "turbomode.toml").write_text(f"[{section}]\n{name} = {value}\n")
    result = cli("config", "validate")
    assert result.exit_code == 2, result.output
    assert f"config option {key} = nan must be a number" in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
