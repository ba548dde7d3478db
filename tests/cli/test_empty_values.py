"""An empty option value is a usage error (exit 2, one sentence), never a quiet "everything": an empty
--sector trained every sector, --models "" or ",," backtested every model type, --as-of "" scanned the
latest session, and --home "" used the working folder as the home."""

from __future__ import annotations

import json

import pytest

CASES = [
    (["train", "--sector", ""], "--sector is empty"),
    (["train", "--sector", "  "], "--sector is empty"),
    (["backtest", "--models", ""], "--models names no model type"),
    (["backtest", "--models", ",,"], "--models names no model type"),
    (["backtest", "--models", " , "], "--models names no model type"),
    (["scan", "--as-of", ""], "--as-of is empty"),
    (["scan", "--as-of", " "], "--as-of is empty"),
]


@pytest.mark.parametrize("args, says", CASES, ids=[" ".join(repr(a) for a in args) for args, _ in CASES])
def test_an_empty_job_option_is_a_usage_error_that_runs_nothing(cli, fresh_db, args, says):
    result = cli(args[0], "--no-deps", *args[1:])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {says}; "), result.output
    assert fresh_db.execute("SELECT count(*) FROM task_runs").fetchone()[0] == 0  # no ledger row, no alert


@pytest.mark.parametrize("command", [["status"], ["config", "init"], ["history"], ["ingest", "--source", "sample"]],
                         ids=" ".join)
@pytest.mark.parametrize("value", ["", " "], ids=["empty", "blank"])
def test_an_empty_home_is_a_usage_error_not_the_working_folder(runner, tmp_path, monkeypatch, command, value):
    from turbomode.cli.main import app

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--home", value, *command])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --home is empty; "), result.output
    assert list(tmp_path.iterdir()) == []  # nothing made in the working folder


def test_an_empty_home_under_json_is_a_json_error(runner, tmp_path, monkeypatch):
    from turbomode.cli.main import app

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--home", "", "status", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"].startswith("--home is empty")


def test_an_empty_demo_home_is_a_usage_error_not_the_working_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("demo", "--home", "")
    assert result.exit_code == 2, result.output
    assert "error: --home is empty; give a new or empty folder for the demo" in result.output
    assert not (tmp_path / ".turbomode-demo").exists() and not (tmp_path / "turbomode.toml").exists()


def test_a_dot_home_still_means_the_working_folder(runner, tmp_path, monkeypatch):
    from turbomode.cli.main import app

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--home", ".", "config", "init"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "turbomode.toml").is_file()
