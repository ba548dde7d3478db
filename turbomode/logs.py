"""The rotating log file under <home>/logs/: cron and Task Scheduler swallow stdout, so it lands here."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_NAME = "turbomode.log"
_installed: dict[str, logging.Handler] = {}


def setup(logs_dir: Path, level: str = "INFO") -> Path | None:
    """Attach one rotating file handler to the 'turbomode' logger. Returns the file, or None if unwritable."""
    path = logs_dir / LOG_NAME
    root = logging.getLogger("turbomode")
    root.setLevel(level)
    key = str(path)
    if key in _installed:
        return path
    for old in list(_installed.values()):
        root.removeHandler(old)
        old.close()
    _installed.clear()
    try:
        logs_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5,
                                                       encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    _installed[key] = handler
    for name in ("yfinance",):
        logging.getLogger(name).addHandler(handler)
    return path


def current_file() -> Path | None:
    for key in _installed:
        return Path(key)
    return None
