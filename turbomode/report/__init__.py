"""The self-contained HTML report (`turbomode report`, and after a scan when signals.refresh_report).

One file, stdlib only: ``string.Template`` fills ``template.html``; every value from the database is
HTML-escaped here; CSS, the sort/filter script and the SVG chart are inline, so the page needs no
network and no server. ``write_report`` writes it to a temporary name and renames it into place.
"""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path

REPORT_NAME = "report.html"


def default_path(ctx) -> Path:
    return ctx.home / REPORT_NAME


def write_report(ctx, now: datetime, path: Path | None = None) -> Path:
    """Build the report from the home's database and write it atomically; returns the file written."""
    from turbomode.report.build import collect, render
    from turbomode.store.db import atomic_write_text

    target = Path(path) if path else default_path(ctx)
    html = render(collect(ctx, now), now)
    if not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    elif not target.parent.is_dir():  # Windows says "not found" for a path under a file; say what it is
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(target.parent))
    atomic_write_text(target, html)
    return target
