"""Every command has help, and every command's help shows an example (STYLE habit 7)."""

import pytest
import typer

from turbomode.cli.main import app


def _commands(group, prefix=()):
    # Typer vendors Click, so groups are recognised by behaviour, not by click.Group.
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)
        else:
            yield path


ALL = sorted(_commands(typer.main.get_command(app)))


def test_the_cli_registers_commands():
    assert ("config", "init") in ALL


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_every_command_has_help_with_an_example(runner, path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output, f"`turbomode {' '.join(path)} --help` shows no example"
