"""`turbomode signals`: filters, sorting, formats, freshness and sample-data banners."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine

from tests.conftest import NOW
from turbomode.store import signals as store
from turbomode.store.db import transaction


def row(symbol, direction="BUY", confidence=0.6, sector="Energy", created="2026-01-23T04:30:00Z",
        expiry="2026-02-06", source="sample"):
    return {"symbol": symbol, "signal_type": direction, "confidence": confidence, "entry_price": 100.0,
            "target_price": 104.0 if direction == "BUY" else 96.0, "stop_loss": 98.0 if direction == "BUY" else 102.0,
            "sector": sector, "created_at": created, "expires_at": f"{expiry}T21:00:00Z",
            "market_date": "2026-01-22", "expiry_date": expiry, "model_version": "v1", "data_source": source,
            "prob_buy": confidence, "prob_sell": 0.1, "prob_hold": 0.3, "atr": 2.0}


@pytest.fixture
def stored(fresh_db):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [
            row("AAA", confidence=0.61, expiry="2026-02-06"),
            row("BBB", "SELL", 0.72, "Utilities", expiry="2026-02-04"),
            row("CCC", confidence=0.58, sector="Financials", expiry="2026-02-05"),
        ])
    return fresh_db


def signals(cli, *args, at=NOW):
    with time_machine.travel(at, tick=False):
        return cli("signals", *args)


def symbols_in(output: str) -> list[str]:
    return [w for w in output.split() if w in ("AAA", "BBB", "CCC")]


def test_the_table_has_a_header_with_the_update_time_and_age(cli, stored):
    result = signals(cli)
    assert result.exit_code == 0, result.output
    assert "3 open signal(s) (2 BUY, 1 SELL)" in result.output
    assert "updated 2026-01-23T04:30:00Z (7h 30m ago)" in result.output
    assert symbols_in(result.output) == ["BBB", "AAA", "CCC"]  # highest confidence first
    assert "STALE" not in result.output


def test_signals_from_the_sample_market_carry_a_sample_data_banner(cli, stored):
    assert "SAMPLE DATA" in signals(cli).output


def test_real_data_has_no_sample_banner(cli, fresh_db):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row("AAA", source="yfinance")])
    assert "SAMPLE DATA" not in signals(cli).output


def test_signals_older_than_the_freshness_limit_get_a_stale_banner(cli, stored):
    result = signals(cli, at=NOW + timedelta(hours=20))  # 27h 30m after the scan; limit 24h
    assert "STALE: the newest signal is 27h 30m old (limit 24h)" in result.output
    assert "turbomode scan" in result.output


def test_the_freshness_limit_comes_from_the_config(cli, stored, home):
    (home / "turbomode.toml").write_text("[signals]\nfreshness_hours = 48\n")
    assert "STALE" not in signals(cli, at=NOW + timedelta(hours=20)).output


@pytest.mark.parametrize("args, expected", [
    (("--type", "BUY"), ["AAA", "CCC"]),
    (("--type", "sell"), ["BBB"]),
    (("--sector", "financials"), ["CCC"]),
    (("--symbol", "aaa"), ["AAA"]),
    (("--min-confidence", "0.6"), ["BBB", "AAA"]),
    (("--sort", "symbol"), ["AAA", "BBB", "CCC"]),
    (("--sort", "symbol", "--desc"), ["CCC", "BBB", "AAA"]),
    (("--sort", "confidence", "--asc"), ["CCC", "AAA", "BBB"]),
    (("--sort", "expires"), ["BBB", "CCC", "AAA"]),
    (("--sort", "sector"), ["AAA", "CCC", "BBB"]),
    (("--sort", "Expires"), ["BBB", "CCC", "AAA"]),  # spelled as a person might, like --type sell
    (("--limit", "1"), ["BBB"]),
])
def test_filters_and_sorting(cli, stored, args, expected):
    result = signals(cli, *args, "--format", "JSON" if "Expires" in args else "json")
    assert result.exit_code == 0, result.output
    assert [r["symbol"] for r in json.loads(result.stdout)] == expected


def test_json_is_the_list_of_active_signals_columns(cli, stored):
    result = signals(cli, "--json")
    data = json.loads(result.stdout)  # banners go to stderr, stdout is only JSON
    assert len(data) == 3 and all(tuple(r) == store.ACTIVE_COLUMNS for r in data)
    assert data[0]["symbol"] == "BBB" and data[0]["stop_loss"] == 102.0
    assert "SAMPLE DATA" in result.stderr and "updated 2026-01-23T04:30:00Z (7h 30m ago)" in result.stderr


def test_csv_has_a_header_and_one_line_per_signal(cli, stored):
    result = signals(cli, "--format", "csv", "--sort", "symbol")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == store.ACTIVE_COLUMNS
    assert [r[1] for r in rows[1:]] == ["AAA", "BBB", "CCC"]


@pytest.mark.parametrize("args, words", [
    (("--sort", "price"), "unknown --sort key 'price'; use one of confidence, symbol, sector, created, expires"),
    (("--type", "HOLD"), "unknown --type 'HOLD'"),
    (("--format", "xml"), "unknown --format 'xml'"),
    (("--limit", "0"), "--limit must be between 1 and 1,000,000, not 0"),
    (("--min-confidence", "1.5"), "--min-confidence must be between 0 and 1"),
])
def test_bad_options_are_a_clear_usage_error(cli, stored, args, words):
    result = signals(cli, *args)
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output


# "\udcff" is how Python hands over a byte that is not UTF-8 in the command line ($'\xff' in bash).
@pytest.mark.parametrize("value", ["\udcff", "AA\udcffPL", "", "  ", "AAPL;--"], ids=["undecodable byte",
                         "undecodable byte inside", "empty", "blank", "punctuation"])
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_symbol_that_is_not_a_ticker_is_a_one_line_usage_error(cli, stored, value, fmt):
    result = signals(cli, "--symbol", value, "--format", fmt)
    assert result.exit_code == 2, result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
    if fmt == "json":
        assert "is not a ticker symbol" in json.loads(result.stdout)["error"]
    else:
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "is not a ticker symbol; use Yahoo's spelling such as BRK-B" in lines[0]


def test_an_undecodable_symbol_from_a_real_command_line_is_a_usage_error(stored, home):
    import os

    if os.name != "posix":
        pytest.skip("POSIX passes command-line bytes through; Windows arguments are always text")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOMODE_")}
    proc = subprocess.run([sys.executable, "-m", "turbomode", "--home", str(home), "signals", "--symbol", b"\xff",
                           "--format", "json"], capture_output=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is not a ticker symbol" in json.loads(proc.stdout)["error"]


SECTORS_SAID = "the universe's sectors are: Communication Services, Consumer Discretionary"


@pytest.mark.parametrize("value, says", [
    ("Nope", "error: unknown --sector 'Nope'; " + SECTORS_SAID),
    ("Energi", "error: unknown --sector 'Energi'; " + SECTORS_SAID),
    ("\udcff", "error: unknown --sector '\\udcff'; " + SECTORS_SAID),  # a byte that is not UTF-8
    ("", "error: --sector is empty; give one of the universe's sectors"),
], ids=["unknown", "misspelt", "undecodable byte", "empty"])
def test_a_sector_the_universe_lacks_is_named_as_unknown_not_no_signals_match(cli, stored, value, says):
    result = signals(cli, "--sector", value)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(says), result.output
    assert "no signals match" not in result.output


def test_an_error_under_format_json_in_capitals_is_a_json_error(cli, stored):
    result = signals(cli, "--sector", "Nope", "--format", "JSON")
    assert result.exit_code == 2 and "error" in json.loads(result.stdout)


def test_an_unknown_sector_under_json_is_a_json_error(cli, stored):
    result = signals(cli, "--sector", "Nope", "--format", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"].startswith("unknown --sector 'Nope'")


def test_the_sectors_come_from_the_configured_universe(cli, stored, home):
    (home / "universe.csv").write_text("symbol,name,sector\nAAA,A Inc,Energy\nCCC,C Inc,Financials\n")
    (home / "turbomode.toml").write_text('[general]\nuniverse = "universe.csv"\n')
    assert symbols_in(signals(cli, "--sector", "energy").output) == ["AAA"]
    refused = signals(cli, "--sector", "Utilities")  # a GICS sector, but not this universe's
    assert refused.exit_code == 2
    assert "unknown --sector 'Utilities'; the universe's sectors are: Energy, Financials" in refused.output


def test_a_known_sector_without_signals_is_not_an_error(cli, stored):
    result = signals(cli, "--sector", "Health Care")
    assert result.exit_code == 0 and "no signals match" in result.output


def test_without_a_database_it_says_what_to_run_and_creates_nothing(cli, home):
    result = signals(cli)
    assert result.exit_code == 2 and "turbomode demo" in result.output  # a mistyped --home, or nothing yet
    assert not home.exists()


def test_no_matching_signals_is_not_an_error(cli, stored):
    result = signals(cli, "--symbol", "ZZZ")
    assert result.exit_code == 0 and "no signals match" in result.output


def test_reading_signals_does_not_import_pandas(stored, home):
    from turbomode.store.state import last_completed_session

    last_completed_session(stored, NOW)  # the NYSE sessions are cached (ingest writes them)
    code = ("import sys, time_machine; from typer.testing import CliRunner; from turbomode.cli.main import app; "
            f"time_machine.travel({NOW.isoformat()!r}, tick=False).start(); "
            f"r = CliRunner().invoke(app, ['--home', {str(home)!r}, 'signals']); "
            "assert r.exit_code == 0, r.output; print(sorted(m for m in ('pandas', 'numpy', 'sqlite_utils') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_open_signals_nearly_all_one_way_carry_a_warning_above_the_table(cli, fresh_db):
    with transaction(fresh_db):
        store.insert_signals(fresh_db, [row(f"S{i:02d}", "SELL", 0.45) for i in range(11)] + [row("AAA")])
    result = signals(cli, "--type", "BUY")  # the warning is about every open signal, whatever the filter
    assert result.exit_code == 0, result.output
    assert "WARNING: 11 of the 12 open signals (92%) are SELL" in " ".join(result.output.split())


def test_a_few_open_signals_one_way_carry_no_warning(cli, stored):
    assert "WARNING" not in signals(cli).output  # 2 BUY, 1 SELL
