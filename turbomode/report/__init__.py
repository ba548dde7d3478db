"""The self-contained HTML report (`turbomode report`, and after a scan when signals.refresh_report).

One file, stdlib only: ``string.Template`` fills ``template.html``; every value from the database is
HTML-escaped here; CSS, the sort/filter script and the SVG chart are inline, so the page needs no
network and no server. ``write_report`` writes it to a temporary name and renames it into place:
through a symbolic link to the file it names, and never over anything but a regular file.
"""

from __future__ import annotations

import errno
import os
import stat
from datetime import datetime
from pathlib import Path

REPORT_NAME = "report.html"


def default_path(ctx) -> Path:
    return ctx.home / REPORT_NAME


def write_report(ctx, now: datetime, path: Path | None = None) -> Path:
    """Build the report from the home's database and write it atomically; returns the file written."""
    from turbomode.report.build import collect, render
    from turbomode.store.db import atomic_write_text

    target = _real_file(Path(path) if path else default_path(ctx), given=path is not None)
    html = render(collect(ctx, now), now)
    if not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    elif not target.parent.is_dir():  # Windows says "not found" for a path under a file; say what it is
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(target.parent))
    try:
        atomic_write_text(target, html)
    except OSError as exc:
        from turbomode.store.db import storage_error

        if path is not None:
            raise
        exc.filename, exc.filename2 = str(target), None  # the page, not its temporary name
        named = storage_error(exc, target.parent)
        if named is None:
            raise
        # the home's own page: a monitor's account or a read-only home can still write one elsewhere
        raise type(named)(f"{named}, or write the page elsewhere with `turbomode report --out FILE`") from None
    return target


_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
          stat.S_IFSOCK: "a socket"}


def _real_file(target: Path, *, given: bool) -> Path:
    """The file the page replaces. A symbolic link is followed (the rename then replaces the file it
    names, in that file's folder, and the link stays); an existing path that is neither a regular file
    nor a folder (a FIFO, a device such as /dev/full) is refused: renaming over it would replace it."""
    from turbomode.errors import HomeNotWritable

    if target.is_symlink():
        target = Path(os.path.realpath(target))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target  # a new file (or a link to one not made yet)
    except OSError:  # no permission, a loop of links: writing says what is wrong
        return target
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):  # a folder is refused by the writer, as before
        return target
    kind = _KINDS.get(stat.S_IFMT(mode), "something other than a file")
    fix = "give --out the name of a new or regular file" if given else "move it away"
    raise HomeNotWritable(f"the report path {target} is {kind}, not a regular file, which the report would "
                          f"replace; {fix}")
