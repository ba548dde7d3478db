"""`turbomode demo` end to end through the real CLI, on a tiny sample market (3 symbols, 3 years)."""

from __future__ import annotations

import sqlite3

import pytest

from turbomode.tasks import demo


@pytest.mark.slow
def test_the_demo_ingests_trains_scans_and_shows_signals_and_status_in_its_own_home(cli, home, tmp_path,
                                                                                      monkeypatch):
    # fewer boosting rounds than the demo's own 100: the test proves the pipeline, not the models
    monkeypatch.setitem(demo.DEMO_SETTINGS, "models__trees", 10)
    where = tmp_path / "demo"
    result = cli("demo", "--home", str(where), "--years", "3", "--symbols", "3")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"demo home: {where}" in out and "3 symbols in 3 sectors, 3 years" in out
    for step in ("[1/3] ingest succeeded", "[2/3] train succeeded", "[3/3] scan succeeded"):
        assert step in out
    assert "SAMPLE DATA" in out  # on the scan line, and as the banner when signals were emitted
    assert "ingest" in out and "train" in out and "scan" in out and "next: turbomode --home" in out
    conn = sqlite3.connect(where / "turbomode.db")
    runs = conn.execute("SELECT task, trigger, status FROM task_runs ORDER BY id").fetchall()
    assert runs == [("ingest", "manual", "succeeded"), ("train", "manual", "succeeded"),
                    ("scan", "manual", "succeeded")]
    assert conn.execute("SELECT value FROM meta WHERE key = 'data_source'").fetchone()[0] == "sample"
    assert conn.execute("SELECT COUNT(DISTINCT symbol) FROM price_data").fetchone()[0] == 3
    sources = {r[0] for r in conn.execute("SELECT data_source FROM active_signals")}
    assert sources <= {"sample"}
    assert not (home / "turbomode.db").exists()  # the user's home is never touched


def test_the_demo_refuses_a_folder_that_is_not_its_own(cli, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = cli("demo", "--home", str(tmp_path / "mine"))
    assert result.exit_code == 2 and "not made by `turbomode demo`" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
