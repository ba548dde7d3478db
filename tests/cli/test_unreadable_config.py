"""A turbomode.toml that exists but cannot be read (a folder, a FIFO, no permission) is one sentence
naming the file, exit 2 — for every command, since every command reads the config first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.cli.unprivileged import posix_only

COMMANDS = [["status"], ["config", "validate"], ["config", "show"], ["catchup", "--dry-run"], ["history"]]


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    assert "Traceback" not in text and "unexpected" not in text
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_config_file_that_is_a_folder_is_one_line_exit_2(cli, home, command):
    (home / "turbomode.toml").mkdir(parents=True)
    result = cli(*command)
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert f"the config file {home / 'turbomode.toml'} is a folder, not a file" in line


def test_a_config_file_that_is_a_folder_is_a_json_error_under_json(cli, home):
    import json

    (home / "turbomode.toml").mkdir(parents=True)
    result = cli("status", "--json")
    assert result.exit_code == 2
    assert "is a folder, not a file" in json.loads(result.stdout)["error"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_config_file_that_is_a_fifo_is_refused_instead_of_blocking(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    os.mkfifo(home / "turbomode.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOMODE_")}
    proc = subprocess.run([sys.executable, "-m", "turbomode", "--home", str(home), "config", "validate"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "is not a regular file" in one_line(proc.stderr)


@pytest.fixture
def open_home():
    from tests.cli.unprivileged import open_folder

    folder = open_folder()
    yield folder / "home"
    shutil.rmtree(folder, ignore_errors=True)


@posix_only
def test_a_config_file_without_read_permission_is_one_line_exit_2(open_home):
    from tests.cli.unprivileged import run_as_nobody

    open_home.mkdir()
    open_home.chmod(0o777)
    config = open_home / "turbomode.toml"
    config.write_text("[general]\nlog_level = \"INFO\"\n")
    config.chmod(0o200)  # its owner (not nobody) may write it; nobody may not read it
    proc = run_as_nobody(["--home", str(open_home), "config", "validate"], open_home.parent)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc.stderr)
    assert f"cannot read the config file {config} (permission denied)" in line, line


@posix_only
def test_a_home_folder_that_cannot_be_entered_is_one_line_exit_2(open_home):
    from tests.cli.unprivileged import run_as_nobody

    open_home.mkdir()
    open_home.chmod(0o700)  # only its owner may look inside
    # through the environment: --home itself is checked by the option parser first
    proc = run_as_nobody(["status"], open_home.parent, env={"TURBOMODE_HOME": str(open_home)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc.stderr)
    assert "permission denied" in line and str(open_home / "turbomode.toml") in line, line


def test_a_config_file_saved_with_a_byte_order_mark_is_read(cli, home):
    # Windows Notepad (before 2019) saves UTF-8 with a BOM; the file is valid TOML all the same
    home.mkdir(parents=True, exist_ok=True)
    (home / "turbomode.toml").write_bytes(b'\xef\xbb\xbf[general]\r\ntimezone = "UTC"\r\n')
    result = cli("config", "validate")
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
