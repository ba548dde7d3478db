"""The one progress bar on stderr for a job's steps, called as ``progress(label, done, total)``.

Nothing is drawn when stderr is not a terminal (cron, Task Scheduler, pipes, tests) or when
``enabled`` is false (``--json``). Jobs reporting a count of items use ``set_total`` and ``advance``.
"""

from __future__ import annotations

import sys
from typing import Any


class StepProgress:
    def __init__(self, title: str, enabled: bool = True):
        self.title = title
        self.enabled = enabled
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> "StepProgress":
        if self.enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from turbomode.cli._util import console

            self.bar = Progress(TextColumn(self.title), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=console(stderr=True), transient=True)
            self.bar.start()
        return self

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task(label, total=total)
        self.bar.update(self.task, completed=done, total=total, description=label)

    def set_total(self, total: int) -> None:
        """Start counting ``total`` items (ingest's symbols)."""
        self("", 0, total)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, n)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()
