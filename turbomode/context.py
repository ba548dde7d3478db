"""What every command and task receives: the home folder, its config, and how to reach the database."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from turbomode import config as config_mod
from turbomode.config import Config

log = logging.getLogger("turbomode")


@dataclass
class Context:
    home: Path
    config: Config
    # Read-only commands (status, signals, history, report) never create the home or the database
    # and never migrate it: a mistyped --home must not leave a new folder behind, and an old
    # database is only upgraded by a command that first backs it up.
    readonly: bool = False
    # Where notes for the user go (the CLI prints them on stderr); the log always gets them.
    notice: Callable[[str], None] | None = field(default=None, repr=False)
    _conn: sqlite3.Connection | None = field(default=None, repr=False)

    @classmethod
    def load(cls, home: str | Path | None = None, *, readonly: bool = False) -> "Context":
        from turbomode import redact

        h = config_mod.resolve_home(home)
        check_home(h)
        cfg = config_mod.load(h)
        redact.register_from_config(cfg)  # the secrets it names never reach a log, the ledger or an alert
        return cls(home=h, config=cfg, readonly=readonly)

    @property
    def db_path(self) -> Path:
        return self.home / config_mod.DB_NAME

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def backups_dir(self) -> Path:
        return self.home / "backups"

    def connect(self) -> sqlite3.Connection:
        """The shared connection of this process (opened, and migrated, on first use)."""
        if self._conn is None:
            from turbomode.store import db

            if self.readonly:
                self._conn = db.connect_existing(self.db_path, notice=self.say)
            else:
                self._conn = db.connect(self.db_path, backups_dir=self.backups_dir, notice=self.say)
        return self._conn

    def say(self, message: str) -> None:
        log.info("%s", message)
        if self.notice is not None:
            self.notice(message)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def check_home(home: Path) -> None:
    """Refuse a home that is a file (a mistyped --home or TURBOMODE_HOME) in one sentence."""
    from turbomode.errors import HomeNotWritable

    if home.exists() and not home.is_dir():
        raise HomeNotWritable(f"the home {home} is a file, not a folder; point --home (or TURBOMODE_HOME) "
                              "at a folder")
    for parent in home.parents:
        if parent.exists():
            if not parent.is_dir():
                raise HomeNotWritable(f"the home {home} is inside {parent}, which is a file, not a folder; "
                                      "point --home (or TURBOMODE_HOME) at a folder")
            break
