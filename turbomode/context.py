"""What every command and task receives: the home folder, its config, and how to reach the database."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from turbomode import config as config_mod
from turbomode.config import Config

log = logging.getLogger("turbomode")


@dataclass
class Context:
    home: Path
    config: Config
    _conn: sqlite3.Connection | None = field(default=None, repr=False)

    @classmethod
    def load(cls, home: str | Path | None = None) -> "Context":
        h = config_mod.resolve_home(home)
        return cls(home=h, config=config_mod.load(h))

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
            from turbomode.store.db import connect

            self._conn = connect(self.db_path)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
