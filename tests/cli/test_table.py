"""The plain-text table `status` draws (cli/_table.py): layout, wrapping, and colours only where wanted."""

import re

from turbomode.cli import _table
from turbomode.cli._table import Line, table

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(lines):
    return [ANSI.sub("", ln) for ln in lines]


ROWS = [
    [[Line("scan", "bold")], [Line("At 23:30 every day", wrap=True), Line("30 23 * * *", "dim")], [Line("ok", "green")]],
    [[Line("train")], [Line("At 00:00 on Sunday", wrap=True), Line("0 0 * * 0", "dim")], [Line("OVERDUE", "bold red")]],
]


class TestLayout:
    def test_a_header_a_rule_and_multi_line_cells_in_columns_two_spaces_apart(self):
        out = plain(table(("job", "schedule", "state"), ROWS, width=100))
        assert out == [
            "job    schedule            state",
            "─" * 34,
            "scan   At 23:30 every day  ok",
            "       30 23 * * *",
            "train  At 00:00 on Sunday  OVERDUE",
            "       0 0 * * 0",
        ]

    def test_a_table_too_wide_wraps_its_wrappable_lines_at_spaces(self):
        out = plain(table(("job", "schedule", "state"), ROWS, width=28))
        assert max(len(ln) for ln in out) <= 28
        assert out[2:4] == ["scan   At 23:30      ok", "       every day"]

    def test_a_cron_expression_is_never_wrapped(self):
        out = plain(table(("job", "schedule", "state"), ROWS, width=10))
        assert "       30 23 * * *" in out and "       0 0 * * 0" in out

    def test_no_rows_is_just_the_header(self):
        assert plain(table(("a", "b"), [], width=80)) == ["a  b", "────"]


class TestColour:
    def test_styles_are_ansi_codes_in_the_lines(self):
        assert "\x1b[" in "".join(table(("job",), [[[Line("x", "bold red")]]], width=80))

    def test_echo_drops_them_when_the_output_is_not_a_terminal(self, capsys):
        _table.echo(_table.styled("HEALTHY", "bold green"))
        assert capsys.readouterr().out == "HEALTHY\n"

    def test_no_color_drops_them_on_a_terminal_too(self, monkeypatch):
        seen = {}
        monkeypatch.setattr(_table.typer, "echo", lambda text, color=None: seen.update(text=text, color=color))
        monkeypatch.setenv("NO_COLOR", "1")
        _table.echo("x")
        assert seen["color"] is False
        monkeypatch.delenv("NO_COLOR")
        _table.echo("x")
        assert seen["color"] is None  # typer decides: colours on a terminal only
