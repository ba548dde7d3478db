"""Relative paths in turbomode.toml (general.universe, data.csv_dir) are read from the home folder, not
from the folder the command was started in: cron starts jobs in /, a shell usually inside the home."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import time_machine

from tests.conftest import NOW

REAL = Path(__file__).parent.parent / "data" / "yahoo-real"


def write_home(home: Path, *, source: str = "sample", universe: str = "universe.csv", csv_dir: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "universe.csv").write_text("symbol,name,sector\nCALM,Cal-Maine,Consumer Staples\n"
                                       "EWG,iShares Germany,Financials\n")
    (home / "turbomode.toml").write_text(
        f'[general]\nuniverse = "{universe}"\n'
        f'[data]\nsource = "{source}"\nstart = "2020-01-01"\ncsv_dir = "{csv_dir}"\n'
        '[data.sample]\nstart = "2025-09-01"\n')


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """The command runs from another folder (as under cron), one holding decoys of the same names."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "universe.csv").write_text("symbol,name,sector\nXOM,Exxon,Energy\n")
    monkeypatch.chdir(folder)
    return folder


def ingest(cli, *args):
    with time_machine.travel(NOW, tick=False):
        return cli("ingest", "--no-deps", "--json", *args)


def test_a_relative_universe_is_read_from_the_home_folder(cli, home, elsewhere):
    write_home(home)
    result = ingest(cli)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert summary["symbols_updated"] == 2  # CALM and EWG from the home's file, not XOM from the decoy


def test_a_relative_csv_dir_is_read_from_the_home_folder(cli, home, elsewhere):
    write_home(home, source="csv", csv_dir="prices")
    (home / "prices").mkdir()
    shutil.copy(REAL / "CALM-1d-no-bad-divs.csv", home / "prices" / "CALM.csv")
    result = ingest(cli, "--symbols", "CALM")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["bars_added"] == 662


def test_config_show_prints_the_resolved_paths(cli, home, elsewhere):
    write_home(home, source="csv", csv_dir="prices")
    options = json.loads(cli("config", "show", "--json").stdout)["options"]
    assert options["general.universe"] == str(home / "universe.csv")
    assert options["data.csv_dir"] == str(home / "prices")


def test_config_validate_passes_for_relative_paths_that_exist_in_the_home(cli, home, elsewhere):
    write_home(home, source="csv", csv_dir="prices")
    (home / "prices").mkdir()
    result = cli("config", "validate")
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


@pytest.mark.parametrize("universe, csv_dir, says", [
    ("missing.csv", "", "universe file {} does not exist"),
    ("universe.csv", "prices", "data.csv_dir names {}, which is not a folder"),
], ids=["universe missing from the home", "csv folder missing from the home"])
def test_config_validate_checks_the_path_resolved_against_the_home(cli, home, elsewhere, universe, csv_dir, says):
    write_home(home, source="csv" if csv_dir else "sample", universe=universe, csv_dir=csv_dir)
    (elsewhere / "missing.csv").write_text("symbol,name,sector\nXOM,Exxon,Energy\n")  # decoys in the cwd
    (elsewhere / "prices").mkdir()
    result = cli("config", "validate")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and says.format(home / (csv_dir or universe)) in lines[0], result.output


def test_a_home_relative_to_the_user_folder_still_expands(tmp_path, monkeypatch):
    from turbomode import config

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    values = {"general.universe": "~/u.csv", "data.csv_dir": ""}
    config.anchor_paths(values, tmp_path / "home")
    assert values == {"general.universe": str(tmp_path / "u.csv"), "data.csv_dir": ""}
