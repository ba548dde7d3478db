"""BRK.B and BRK-B are one stock, stored once as BRK-B (issue 10 item 15)."""

from __future__ import annotations

import json
import sqlite3

from tests.cli.test_ingest_cmd import ingest, write_home

CSV = "Date,Open,High,Low,Close,Adj Close,Volume\n" + "".join(
    f"2026-01-{d:02d},400,402,398,401,401,1000\n" for d in (5, 6, 7, 8, 9, 12, 13, 14, 15, 16))


def test_a_dotted_symbol_and_its_file_are_stored_under_yahoos_dashed_spelling(cli, home, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "BRK.B.csv").write_text(CSV)
    write_home(home, source="csv", csv_dir=folder)
    uni = home / "universe.csv"
    uni.write_text(uni.read_text() + "BRK.B,Berkshire Hathaway,Financials\n")
    r = ingest(cli, "--source", "csv", "--symbols", "BRK.B", "--json")
    assert r.exit_code == 0, r.output
    r = ingest(cli, "--source", "csv", "--symbols", "brk-b", "--start", "2026-01-05", "--json")
    assert r.exit_code == 0, r.output
    conn = sqlite3.connect(home / "turbomode.db")
    assert conn.execute("SELECT DISTINCT symbol FROM price_data").fetchall() == [("BRK-B",)]
    assert conn.execute("SELECT count(*) FROM price_data").fetchone()[0] == 10
    assert json.loads(r.stdout)["summary"]["bars_added"] == 0
