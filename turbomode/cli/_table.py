"""A plain-text table for the fast commands, styled with the CLI library's own ``typer.style``.

`status` must start within 1.2x of a bare Typer app (SPEC §11). Importing rich and laying out a rich
``Table`` costs about 60 ms here, more than that whole margin, so `status` draws its table with this
instead: rich's SIMPLE_HEAD look (a bold header, a rule under it, no borders, columns two spaces
apart), cells of one or more lines, and wrappable lines re-flowed when the table is wider than the
terminal. ``typer.echo`` drops the colours when the output is not a terminal; NO_COLOR drops them too.
Other commands keep rich.
"""

from __future__ import annotations

import os
import shutil
from typing import NamedTuple, Sequence

import typer

# Style names as rich spells them -> typer.style keywords.
STYLES: dict[str, dict] = {
    "bold": {"bold": True},
    "dim": {"dim": True},
    "red": {"fg": "red"},
    "bold red": {"fg": "red", "bold": True},
    "green": {"fg": "green"},
    "bold green": {"fg": "green", "bold": True},
    "yellow": {"fg": "yellow"},
    "cyan": {"fg": "cyan"},
}
GAP = "  "


class Line(NamedTuple):
    text: str
    style: str = ""
    wrap: bool = False  # may be re-flowed onto several lines when the table is too wide


Cell = Sequence[Line]


def styled(text: str, style: str = "") -> str:
    return typer.style(text, **STYLES[style]) if style else text


def echo(text: str = "") -> None:
    """One line to stdout; colours only on a terminal and without NO_COLOR."""
    typer.echo(text, color=False if os.environ.get("NO_COLOR") else None)


def width() -> int:
    """The terminal's width (COLUMNS when set; 80 when the output is not a terminal)."""
    return shutil.get_terminal_size().columns


def paragraph(spans: Sequence[tuple[str, str]], width: int, indent: int = 0) -> list[str]:
    """Styled text, given as (text, style) spans, wrapped at spaces into lines of at most ``width``
    columns; continuation lines are indented ``indent`` spaces, and a word too long for a line is cut."""
    import re

    lines: list[list[str]] = [[]]
    used = 0
    for text, style in spans:
        for token in re.findall(r"\S+|\s+", text):
            if token.isspace():
                if used + len(token) <= width:
                    lines[-1].append(token)
                    used += len(token)
                continue
            while token:
                room = width - used
                if len(token) > room and used > indent:  # to the next line
                    while lines[-1] and lines[-1][-1].isspace():
                        used -= len(lines[-1].pop())
                    lines.append([" " * indent])
                    used = indent
                    continue
                piece, token = token[:max(room, 1)], token[max(room, 1):]
                lines[-1].append(styled(piece, style))
                used += len(piece)
    return ["".join(ln).rstrip() for ln in lines]


def _reflow(cell: Cell, width: int) -> list[Line]:
    import textwrap

    out: list[Line] = []
    for ln in cell:
        if ln.wrap and len(ln.text) > width:
            out += [Line(t, ln.style) for t in textwrap.wrap(ln.text, width, break_long_words=False,
                                                              break_on_hyphens=False)]
        else:
            out.append(ln)
    return out


def _min_width(cells: list[Cell], header: str) -> int:
    words = [len(w) for c in cells for ln in c if ln.wrap for w in ln.text.split()]
    whole = [len(ln.text) for c in cells for ln in c if not ln.wrap]
    return max([len(header), *words, *whole])


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], width: int | None = None) -> list[str]:
    """The table as lines of text (with style codes), fitted to ``width`` (default: the terminal's)."""
    width = width or shutil.get_terminal_size().columns
    cols = list(zip(*rows)) if rows else [() for _ in headers]
    widths = [max([len(h), *(len(ln.text) for c in col for ln in c)]) for h, col in zip(headers, cols)]
    over = sum(widths) + len(GAP) * (len(widths) - 1) - width
    for i in sorted(range(len(widths)), key=lambda i: -widths[i]):  # shrink the widest wrappable first
        if over <= 0:
            break
        floor = _min_width(list(cols[i]), headers[i])
        cut = min(over, widths[i] - floor)
        if cut > 0:
            widths[i] -= cut
            over -= cut
    out = [GAP.join(styled(h, "bold") + " " * (w - len(h)) for h, w in zip(headers, widths)).rstrip(),
           "─" * (sum(widths) + len(GAP) * (len(widths) - 1))]
    for row in rows:
        cells = [_reflow(c, w) for c, w in zip(row, widths)]
        for k in range(max(len(c) for c in cells)):
            parts = []
            for c, w in zip(cells, widths):
                ln = c[k] if k < len(c) else Line("")
                parts.append(styled(ln.text, ln.style) + " " * (w - len(ln.text)))
            out.append(GAP.join(parts).rstrip())
    return out
