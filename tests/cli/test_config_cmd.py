import json

import pytest


def test_init_writes_a_commented_file_that_validates(cli, home):
    result = cli("config", "init", "--source", "sample")
    assert result.exit_code == 0, result.output
    text = (home / "turbomode.toml").read_text()
    assert text.count("# ") > 40 and 'source = "sample"' in text
    assert cli("config", "validate").exit_code == 0


def test_init_refuses_to_overwrite_without_force(cli, home):
    cli("config", "init")
    again = cli("config", "init")
    assert again.exit_code == 2
    assert "--force" in again.output
    forced = cli("config", "init", "--force")
    assert forced.exit_code == 0 and (home / "turbomode.toml.bak").exists()


def test_validate_reports_a_file_that_is_not_toml_in_one_line(cli, home):
    home.mkdir(parents=True)
    (home / "turbomode.toml").write_text("this is = = not toml")
    result = cli("config", "validate")
    assert result.exit_code == 2
    assert "not valid TOML" in result.output
    assert "Traceback" not in result.output


def test_show_json_lists_every_option(cli):
    result = cli("config", "show", "--json")
    data = json.loads(result.output)
    assert data["options"]["jobs.scan.schedule"] == "30 23 * * *"


def test_init_into_a_read_only_folder_is_a_clear_error(cli, home, tmp_path):
    import os

    if os.name == "nt" or os.geteuid() == 0:  # no geteuid on Windows, where a read-only folder takes new files
        # root ignores permission bits; make the "folder" a file instead, which no one can write into
        home.parent.mkdir(parents=True, exist_ok=True)
        home.write_text("not a folder")
    else:
        home.mkdir(parents=True)
        home.chmod(0o500)
    result = cli("config", "init")
    assert result.exit_code == 2
    assert "writable --home" in result.output or "point --home (or TURBOMODE_HOME) at a folder" in result.output


def test_init_with_source_csv_writes_a_config_that_validates_and_makes_the_csv_folder(cli, home):
    result = cli("config", "init", "--source", "csv")
    assert result.exit_code == 0, result.output
    assert (home / "csv").is_dir()
    assert f"into {home / 'csv'}, then run `turbomode ingest`" in result.output  # where to put the files
    assert 'csv_dir = "csv"' in (home / "turbomode.toml").read_text()  # relative: the home can move
    assert cli("config", "validate").exit_code == 0
    shown = cli("config", "show", "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["options"]["data.csv_dir"] == str(home / "csv")


def test_init_with_a_csv_dir_uses_that_folder_read_from_the_working_folder(cli, home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("config", "init", "--source", "csv", "--csv-dir", "prices")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "prices").is_dir() and not (home / "csv").exists()
    assert str(tmp_path / "prices") in result.output
    assert json.loads(cli("config", "show", "--json").stdout)["options"]["data.csv_dir"] == str(tmp_path / "prices")
    assert cli("config", "validate").exit_code == 0


def _a_file(tmp_path):
    (tmp_path / "a-file").write_text("x")
    return str(tmp_path / "a-file")


@pytest.mark.parametrize("make, says", [
    (_a_file, "is a file, not a folder"),
    (lambda tmp_path: "", "--csv-dir is empty"),
], ids=["a file", "empty"])
def test_init_refuses_an_unusable_csv_dir_in_one_line(cli, home, tmp_path, make, says):
    result = cli("config", "init", "--source", "csv", "--csv-dir", make(tmp_path))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0]
    assert not (home / "turbomode.toml").exists()


@pytest.mark.parametrize("types, says", [
    ('["logistic", "logistic"]', "lists 'logistic' twice; list each type once"),
    ('["xgboost", "deep_net"]', "has unknown type(s) deep_net; choose from xgboost, lightgbm"),
    ("[]", "is empty; list at least one of xgboost, lightgbm"),
])
def test_validate_refuses_model_types_that_train_cannot_use(cli, home, types, says):
    # train refused an unknown or empty list only when it ran, and a repeated type made it fail every
    # sector with "no sector could be trained ()"; `config validate` called all three valid
    home.mkdir(parents=True, exist_ok=True)
    (home / "turbomode.toml").write_text(f"[models]\ntypes = {types}\n")
    result = cli("config", "validate")
    assert result.exit_code == 2, result.output
    assert f"config option models.types " in result.output and says in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output
