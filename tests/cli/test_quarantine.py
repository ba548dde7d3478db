"""Suspect bars are quarantined, never overwrite a good bar, and leave quarantine when the source
corrects them or an explicit reload confirms them; a rejected row never removes a good bar; bars
added is never negative (issue 10 items 6, 7 and 15). Real CLI, real CSV folders, a real webhook."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import pytest

from tests.cli.test_ingest_cmd import ingest, write_home
from tests.ops.test_alerts import http_server  # noqa: F401 - the real HTTP server fixture

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
DAYS = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09", "2026-01-12", "2026-01-13",
        "2026-01-14", "2026-01-15", "2026-01-16", "2026-01-20", "2026-01-21", "2026-01-22"]
NOW = datetime(2026, 1, 23, 12, 0, tzinfo=timezone.utc)


def csv_text(prices: dict[str, float]) -> str:
    return HEADER + "".join(f"{d},{c},{c * 1.01:.4f},{c * 0.99:.4f},{c},{c},1000\n" for d, c in prices.items())


def normal() -> dict[str, float]:
    return {d: 100.0 + i for i, d in enumerate(DAYS)}


@pytest.fixture
def csv_home(home, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    write_home(home, source="csv", csv_dir=folder)

    def write(prices: dict[str, float]) -> None:
        (folder / "AAPL.csv").write_text(csv_text(prices))

    return write


def db(home):
    return sqlite3.connect(home / "turbomode.db")


def stored(home, day: str):
    return db(home).execute("SELECT close FROM price_data WHERE symbol = 'AAPL' AND date = ?", (day,)).fetchone()


def held(home):
    return db(home).execute("SELECT date, close, status FROM price_quarantine ORDER BY date").fetchall()


def test_a_100x_bar_is_quarantined_the_run_is_partial_and_alerts(cli, home, csv_home, http_server, monkeypatch):
    monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
    prices = normal()
    prices["2026-01-14"] = 10700.0  # quoted in cents for one day
    csv_home(prices)
    r = ingest(cli, "--source", "csv", "--symbols", "AAPL", "--json")
    assert r.exit_code == 3, r.output
    out = json.loads(r.stdout)
    assert out["status"] == "partial" and out["summary"]["quarantined_new"] == 1
    assert "1 suspect bar(s) quarantined (AAPL 2026-01-14)" in out["message"]
    assert stored(home, "2026-01-14") is None  # not in price_data: features, labels and fills never see it
    assert stored(home, "2026-01-15") == (108.0,)  # the day after, back on its level, is a good bar
    assert held(home) == [("2026-01-14", 10700.0, "quarantined")]
    alerts = [json.loads(b) for m, p, h, b in http_server.requests if m == "POST"]
    assert [(a["job"], a["kind"]) for a in alerts] == [("ingest", "partial")]
    assert "quarantined" in alerts[0]["message"]
    status = json.loads(cli("status", "--json").stdout)
    assert status["data"]["quarantined"] == 1
    assert any("1 suspect bar(s) of AAPL are quarantined" in w for w in status["warnings"])


def test_a_suspect_refetch_never_overwrites_a_good_bar_nor_triggers_a_reload(cli, home, csv_home):
    csv_home(normal())
    assert ingest(cli, "--source", "csv", "--symbols", "AAPL").exit_code == 0
    prices = normal()
    prices["2026-01-20"] = 111.0 * 100  # the same day, now 100x, inside the re-fetched overlap
    csv_home(prices)
    r = ingest(cli, "--source", "csv", "--symbols", "AAPL", "--json")
    s = json.loads(r.stdout)["summary"]
    assert r.exit_code == 3 and s["reloaded"] == [] and s["bars_added"] == 0
    assert stored(home, "2026-01-20") == (110.0,)  # the good bar stays
    assert held(home) == [("2026-01-20", 11100.0, "quarantined")]


def test_a_corrected_source_releases_the_bar_and_an_explicit_reload_confirms_it(cli, home, csv_home):
    bad = normal()
    bad["2026-01-14"] = 10700.0
    csv_home(bad)
    assert ingest(cli, "--source", "csv", "--symbols", "AAPL").exit_code == 3
    # the next ingest sees the same bad value: still held, nothing new (exit 0)
    assert ingest(cli, "--source", "csv", "--symbols", "AAPL").exit_code == 0
    assert held(home) == [("2026-01-14", 10700.0, "quarantined")]
    # the user looks and decides the value is right: an explicit reload confirms it
    r = ingest(cli, "--source", "csv", "--symbols", "AAPL", "--full", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["summary"]["confirmed"] == ["AAPL 2026-01-14"]
    assert stored(home, "2026-01-14") == (10700.0,) and held(home) == [("2026-01-14", 10700.0, "confirmed")]


def test_the_source_correcting_a_held_bar_releases_it(cli, home, csv_home):
    bad = normal()
    bad["2026-01-14"] = 10700.0
    csv_home(bad)
    assert ingest(cli, "--source", "csv", "--symbols", "AAPL").exit_code == 3
    csv_home(normal())  # the provider fixed its data
    r = ingest(cli, "--source", "csv", "--symbols", "AAPL", "--start", "2026-01-05", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["summary"]["corrected"] == ["AAPL 2026-01-14"]
    assert stored(home, "2026-01-14") == (107.0,) and held(home) == [("2026-01-14", 10700.0, "corrected")]
    assert json.loads(cli("status", "--json").stdout)["data"]["quarantined"] == 0


def test_rejected_rows_after_a_source_switch_never_remove_the_good_stored_bars(cli, home, csv_home):
    write_home(home)  # sample source first
    assert ingest(cli, "--symbols", "AAPL").exit_code == 0
    before = dict(db(home).execute("SELECT date, close FROM price_data WHERE symbol = 'AAPL'").fetchall())
    # the CSV has two broken rows (high below low) on days the sample market had good bars
    text = csv_text(normal()).replace("2026-01-08,103.0,104.0300,101.9700", "2026-01-08,103.0,90.0,101.9700") \
                             .replace("2026-01-13,106.0,107.0600,104.9400", "2026-01-13,106.0,90.0,104.9400")
    (home.parent / "csv").mkdir(exist_ok=True)
    (home.parent / "csv" / "AAPL.csv").write_text(text)
    toml = home / "turbomode.toml"
    toml.write_text(toml.read_text().replace(f'csv_dir = "{home.as_posix()}"', f'csv_dir = "{(home.parent / "csv").as_posix()}"'))
    r = ingest(cli, "--source", "csv", "--symbols", "AAPL", "--json")
    s = json.loads(r.stdout)["summary"]
    assert s["rejected_count"] == 2
    for day in ("2026-01-08", "2026-01-13"):
        assert stored(home, day) == (pytest.approx(before[day]),), f"the good bar of {day} was removed"
    assert stored(home, "2026-01-09") == (104.0,)  # the rest is the CSV's now


def test_bars_added_is_never_negative_when_a_reload_brings_fewer_days(cli, home, csv_home):
    write_home(home)  # sample: 104 weekdays of AAPL
    assert ingest(cli, "--symbols", "AAPL").exit_code == 0
    (home.parent / "csv").mkdir(exist_ok=True)
    (home.parent / "csv" / "AAPL.csv").write_text(csv_text(normal()))
    toml = home / "turbomode.toml"
    toml.write_text(toml.read_text().replace(f'csv_dir = "{home.as_posix()}"', f'csv_dir = "{(home.parent / "csv").as_posix()}"'))
    r = ingest(cli, "--source", "csv", "--symbols", "AAPL", "--json")
    out = json.loads(r.stdout)
    assert out["summary"]["bars_added"] == 0 and out["summary"]["bars_removed"] == 104 - len(DAYS)
    assert "-" not in out["message"].split("bar(s) added")[0].split(",")[-1]
    assert f"{104 - len(DAYS)} stored bar(s) not in the new history removed" in out["message"]
