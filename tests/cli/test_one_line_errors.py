"""Bad input ends in one line (or, under --json, one JSON error object) and a documented exit code.

Issue 10 items 2, 13 (Typer's usage errors) and 20. Each case runs the real CLI in-process.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.cli.unprivileged import posix_only
from turbomode.cli.main import app


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    assert "Traceback" not in text and "╭" not in text and "│" not in text
    return lines[0]


# Typer/Click's own usage errors: unknown option, bad value, missing argument, unknown command.
USAGE_CASES = [
    (["status", "--bogus"], "No such option: --bogus", "turbomode status --help"),
    (["history", "--limit", "many"], "Invalid value for '--limit'", "turbomode history --help"),
    (["history", "--limit", "0"], "Invalid value for '--limit'", "turbomode history --help"),
    (["restore"], "Missing argument", "turbomode restore --help"),
    (["histroy"], "No such command 'histroy'", "turbomode --help"),
    (["backtest", "--folds", "99"], "Invalid value for '--folds'", "turbomode backtest --help"),
    (["schedule", "install", "--target", "launchd"], "Invalid value for '--target'",
     "turbomode schedule install --help"),
    (["drift", "--trigger", "boot"], "Invalid value for '--trigger'", "turbomode drift --help"),
]


@pytest.mark.parametrize("args,says,help_hint", USAGE_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_usage_error_is_one_line_naming_the_help_and_exits_2(runner, home, args, says, help_hint):
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 2
    line = one_line(result.output)
    assert line.startswith("error: ") and says in line and f"`{help_hint}`" in line
    assert not home.exists(), "a usage error must not create the home folder"


@pytest.mark.parametrize("args", [["status", "--json", "--bogus"], ["history", "--json", "--limit", "x"],
                                  ["signals", "--format", "json", "--limit", "many"]])
def test_a_usage_error_under_json_is_a_json_error_object_on_stdout(runner, home, args):
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert set(data) == {"error", "exit_code", "hint"}
    assert data["exit_code"] == 2 and data["hint"].startswith("see `turbomode ")


def _home_is_a_file(tmp_path, monkeypatch):
    f = tmp_path / "not-a-folder"
    f.write_text("hello")
    return ["--home", str(f)], str(f)


def _env_home_is_a_file(tmp_path, monkeypatch):
    f = tmp_path / "env-file"
    f.write_text("hello")
    monkeypatch.setenv("TURBOMODE_HOME", str(f))
    return [], str(f)


def _home_inside_a_file(tmp_path, monkeypatch):
    f = tmp_path / "a-file"
    f.write_text("hello")
    return ["--home", str(f / "home")], str(f)


@pytest.mark.parametrize("make", [_home_is_a_file, _env_home_is_a_file, _home_inside_a_file],
                         ids=["--home is a file", "TURBOMODE_HOME is a file", "--home inside a file"])
@pytest.mark.parametrize("command", [["status"], ["ingest", "--source", "sample"], ["config", "init"],
                                     ["catchup"], ["signals", "--format", "json"]])
def test_a_home_that_is_a_file_is_one_line_exit_2(runner, tmp_path, monkeypatch, make, command):
    prefix, path = make(tmp_path, monkeypatch)
    result = runner.invoke(app, [*prefix, *command])
    assert result.exit_code == 2, result.output
    if "json" in command:
        data = json.loads(result.stdout)
        assert path in data["error"] and "not a folder" in data["error"] and data["exit_code"] == 2
    else:
        line = one_line(result.output)
        assert path in line and "not a folder" in line


def test_a_json_refusal_prints_an_error_object_with_the_same_exit_code(cli, home):
    # scan before any ingest is refused (exit 4): --json callers get the reason on stdout
    result = cli("scan", "--json", "--no-deps")
    assert result.exit_code == 4
    data = json.loads(result.stdout)
    assert data == {"error": "no prices are stored yet; run `turbomode ingest` first", "exit_code": 4,
                    "hint": "run `turbomode ingest` first"}


@pytest.mark.parametrize("args", [["status", "--json"], ["history", "--json"], ["signals", "--json"],
                                  ["signals", "--format", "json"], ["catchup", "--dry-run", "--json"]])
def test_every_json_command_answers_an_error_with_a_json_object(cli, args):
    result = cli(*args)  # no database in this home: a read-only command refuses (exit 2)
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["exit_code"] == 2 and "no TurboMode database" in data["error"]
    assert data["hint"].startswith("check --home")
    assert result.stderr == ""  # the object is the whole answer


@pytest.fixture
def open_home():
    import shutil

    from tests.cli.unprivileged import open_folder

    folder = open_folder()
    yield folder / "home"
    shutil.rmtree(folder, ignore_errors=True)


@posix_only
def test_a_read_only_database_is_one_line_exit_2(runner, open_home):
    from tests.cli.unprivileged import run_as_nobody
    from turbomode.store.db import connect

    open_home.mkdir()
    open_home.chmod(0o777)  # the folder is writable: only the database file is read-only
    connect(open_home / "turbomode.db").close()
    (open_home / "turbomode.db").chmod(0o444)
    proc = run_as_nobody(["--home", str(open_home), "ingest", "--source", "sample", "--symbols", "AAPL"],
                         open_home.parent)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc.stderr)
    assert f"the database {open_home / 'turbomode.db'} is read-only" in line, line
