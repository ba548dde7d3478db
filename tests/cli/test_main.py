"""The root command: subcommands are built on first use, listed in COMMANDS order, and typos are caught."""

import re

import typer

from turbomode.cli import main


def test_help_lists_the_commands_in_the_order_a_user_meets_them(runner):
    result = runner.invoke(main.app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [n for n in re.findall(r"^[│ ]\s*([a-z]+)\s{2,}", result.output, re.M) if n in main.COMMANDS]
    assert listed == list(main.COMMANDS)


def test_a_command_is_built_only_when_asked_for():
    group = typer.main.get_command(main.app)
    assert group.commands._built == {}
    status = group.commands["status"]
    assert status.name == "status" and set(group.commands._built) == {"status"}
    assert "catchup" in group.commands and "nope" not in group.commands


def test_a_misspelt_command_gets_a_suggestion_and_exit_2(runner):
    result = runner.invoke(main.app, ["stauts"])
    assert result.exit_code == 2 and "status" in result.output


def test_subcommand_groups_keep_their_own_commands(runner):
    result = runner.invoke(main.app, ["config", "--help"])
    assert result.exit_code == 0 and "validate" in result.output and "--install-completion" not in result.output
