"""`turbomode demo` end to end through the real CLI, on a tiny sample market (3 symbols, 3 years)."""

from __future__ import annotations

import sqlite3

import pytest

from turbomode.tasks import demo


@pytest.mark.slow
def test_the_demo_runs_a_week_of_jobs_and_ends_healthy_in_its_own_home(cli, home, tmp_path, monkeypatch):
    # fewer boosting rounds than the demo's own 100: the test proves the pipeline, not the models
    monkeypatch.setitem(demo.DEMO_SETTINGS, "models__trees", 10)
    where = tmp_path / "demo"
    # the fewest years the demo accepts: they must be enough to train (a 2-year demo always stopped there)
    assert demo.MIN_YEARS == 3
    result = cli("demo", "--home", str(where), "--years", str(demo.MIN_YEARS), "--symbols", "3")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"demo home: {where}" in out and "3 symbols in 3 sectors, 3 years" in out
    jobs = ("ingest", "train", "scan", "maintain", "backtest", "drift")
    for i, job in enumerate(jobs, start=1):
        assert f"[{i}/6] {job} succeeded" in out or f"[{i}/6] {job} partial" in out, out
    assert "SAMPLE DATA" in out  # on the scan line, and as the banner when signals were emitted
    assert "next: turbomode --home" in out and "quality (" in out and "calibration error BUY" in out
    assert (where / "report.html").exists() and f"report: {where / 'report.html'}" in out
    conn = sqlite3.connect(where / "turbomode.db")
    runs = conn.execute("SELECT task, trigger, status, summary FROM task_runs ORDER BY id").fetchall()
    # the scan step scans the week's sessions oldest first, the earlier ones --as-of (as nightly scans would)
    week = demo.WEEK_SESSIONS
    assert [r[0] for r in runs] == ["ingest", "train", *["scan"] * week, "maintain", "backtest", "drift"]
    assert {r[1] for r in runs} == {"manual"} and {r[2] for r in runs} <= {"succeeded", "partial"}
    import json

    scans = [json.loads(r[3]) for r in runs if r[0] == "scan"]
    sessions = [s["session"] for s in scans]
    assert sessions == sorted(set(sessions)) and len(sessions) == week
    last_five = [r[0] for r in conn.execute("SELECT DISTINCT date FROM price_data ORDER BY date DESC LIMIT ?", (week,))]
    assert sessions == sorted(d[:10] for d in last_five)
    assert [s.get("scope") for s in scans] == ["subset"] * (week - 1) + [None]  # only the last stands for the job
    assert f"the {week - 1} sessions before it ({sessions[0]}..{sessions[-2]}) were scanned first" in out

    jobs_now = json.loads(cli("--home", str(where), "status", "--json").stdout)["jobs"]
    assert all(not j["overdue"] and j["missed"] == 0 for j in jobs_now), jobs_now  # a week of jobs: none late
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


@pytest.mark.parametrize("years", ["2", "0", "16"])
def test_too_few_or_too_many_years_are_refused_naming_years_before_anything_runs(cli, tmp_path, years):
    where = tmp_path / "demo"
    result = cli("demo", "--home", str(where), "--years", years, "--symbols", "3")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--years must be between 3 and 15" in lines[0] and f"not {years}" in lines[0]
    assert "data.start" not in result.output and not where.exists()


def test_the_help_gives_the_years_the_demo_accepts(cli):
    assert "3-15; default 5" in " ".join(cli("demo", "--help").output.split())


def test_the_demo_quotes_the_net_return_of_the_window_that_chose_nothing_not_the_validation_window():
    # validation chose the champion (its own score looks good); the test window fitted and chose nothing
    from turbomode.cli.demo_cmd import held_out_net

    run = {"metrics": {"sectors": {
        "Energy": {"mean_net_return": 0.02, "signals": 50, "test": {"mean_net_return": -0.01, "signals": 30}},
        "Utilities": {"mean_net_return": 0.03, "signals": 10, "test": {"mean_net_return": 0.01, "signals": 10}},
        "Materials": {"mean_net_return": 0.05, "signals": 5, "test": {}},  # no test window: not counted
        # stayed a challenger: emits no signals, so its test window is not the champions'
        "Financials": {"status": "challenger", "signals": 9, "test": {"mean_net_return": 0.09, "signals": 90}},
    }}}
    assert held_out_net(run) == pytest.approx((-0.01 * 30 + 0.01 * 10) / 40)
    assert held_out_net(None) is None and held_out_net({"metrics": {"sectors": {}}}) is None


@pytest.mark.slow
def test_the_demo_runs_again_in_an_earlier_demos_home(cli, tmp_path, monkeypatch):
    # --home accepts an earlier demo's folder, but its scan step re-scanned the week --as-of, which scan
    # refuses once a later session has signals: the second demo stopped at step 3 with exit 2
    monkeypatch.setitem(demo.DEMO_SETTINGS, "models__trees", 10)
    where = tmp_path / "demo"
    args = ("demo", "--home", str(where), "--years", str(demo.MIN_YEARS), "--symbols", "3")
    assert cli(*args).exit_code == 0
    conn = sqlite3.connect(where / "turbomode.db")
    signals_before = conn.execute("SELECT symbol, signal_type, market_date FROM active_signals ORDER BY 1, 3").fetchall()

    result = cli(*args)

    assert result.exit_code == 0, result.output
    assert "[3/6] scan succeeded" in result.output or "[3/6] scan partial" in result.output, result.output
    assert conn.execute("SELECT symbol, signal_type, market_date FROM active_signals ORDER BY 1, 3").fetchall() \
        == signals_before  # the same market: the same signals, none twice
