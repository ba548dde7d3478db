"""The rotating log file under <home>/logs/: cron and Task Scheduler swallow stdout, so it lands here.

A log file that cannot be written (a full disk, a folder without write permission) must never
make things worse: the handler then goes quiet for the rest of the process instead of printing
Python's "--- Logging error ---" with a traceback for every record. What the user needs is on
stderr already: the CLI's one-line error.
"""

from __future__ import annotations

import logging
from pathlib import Path

LOG_NAME = "turbomode.log"
MAX_BYTES = 5_000_000
BACKUPS = 5
_installed: dict[str, logging.Handler] = {}


def _rotating_handler(path: Path, errors_only_until_there: bool) -> logging.Handler:
    """The rotating file handler, which stops silently at its first write error. With
    ``errors_only_until_there`` (read-only commands) the logs folder is made only when an error must
    be written (a crash's traceback has to go somewhere); until then records are dropped."""
    import logging.handlers

    class _QuietRotatingHandler(logging.handlers.RotatingFileHandler):
        broken = False

        def emit(self, record: logging.LogRecord) -> None:
            if self.broken:
                return
            super().emit(record)

        def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
            self.broken = True
            try:
                if self.stream is not None:
                    self.stream.close()
            except OSError:
                pass
            self.stream = None  # type: ignore[assignment]

    class _ErrorsOnlyUntilThereHandler(_QuietRotatingHandler):
        def emit(self, record: logging.LogRecord) -> None:
            folder = Path(self.baseFilename).parent
            if not folder.is_dir():
                if record.levelno < logging.ERROR or not record.exc_info:
                    return  # only a crash's traceback is worth a new folder
                try:
                    folder.mkdir(exist_ok=True)
                except OSError:
                    self.broken = True
                    return
            super().emit(record)

    kind = _ErrorsOnlyUntilThereHandler if errors_only_until_there else _QuietRotatingHandler
    return kind(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)


class _LazyRotatingFile(logging.Handler):
    """The rotating file handler, made on the first record: a `status` that logs nothing never imports
    logging.handlers (with pickle, socket and queue, ~4 ms of its start-up budget, SPEC §11)."""

    def __init__(self, path: Path, errors_only_until_there: bool = False):
        super().__init__()
        self.path = path
        self.errors_only_until_there = errors_only_until_there
        self.target: logging.Handler | None = None

    @property
    def broken(self) -> bool:
        return bool(getattr(self.target, "broken", False))

    def emit(self, record: logging.LogRecord) -> None:
        if self.target is None:
            self.target = _rotating_handler(self.path, self.errors_only_until_there)
            self.target.setFormatter(self.formatter)
            if _not_a_file(self.path):  # opening a FIFO blocks until a reader comes: go quiet instead
                self.target.broken = True  # type: ignore[attr-defined]
        self.target.emit(record)

    def close(self) -> None:
        if self.target is not None:
            self.target.close()
        super().close()


def _not_a_file(path: Path) -> bool:
    """Whether something other than a regular file (a FIFO, a device, a folder) has the log's name."""
    import os
    import stat

    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # not there yet: the handler makes it


class _RedactingFormatter(logging.Formatter):
    """Every line, tracebacks included, with secrets replaced (turbomode.redact)."""

    def format(self, record: logging.LogRecord) -> str:
        from turbomode.redact import redact

        return redact(super().format(record))


def setup(logs_dir: Path, level: str = "INFO", *, create: bool = True) -> Path | None:
    """Attach one rotating file handler to the 'turbomode' logger. Returns the file, or None if unwritable.

    ``create=False`` (read-only commands): log into a logs folder that already exists; in a home
    without one, only an error (a crash's traceback) makes it.
    """
    path = logs_dir / LOG_NAME
    root = logging.getLogger("turbomode")
    root.setLevel(level)
    key = str(path)
    if key in _installed:
        return path
    for old in list(_installed.values()):
        root.removeHandler(old)
        logging.getLogger("yfinance").removeHandler(old)
        old.close()
    _installed.clear()
    errors_only = False
    if not create and not logs_dir.is_dir():
        if not logs_dir.parent.is_dir():
            return None  # no home at all: nothing is ever created there
        errors_only = True
    try:
        if not errors_only:
            logs_dir.mkdir(parents=True, exist_ok=True)
        handler = _LazyRotatingFile(path, errors_only)
    except OSError:
        return None
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    _installed[key] = handler
    for name in ("yfinance",):
        logging.getLogger(name).addHandler(handler)
    return path


def current_file() -> Path | None:
    """The log file in use, or None when there is none or it could not be written."""
    for key, handler in _installed.items():
        if getattr(handler, "broken", False):
            return None
        return Path(key)
    return None
