import json


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
