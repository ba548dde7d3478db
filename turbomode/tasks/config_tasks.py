"""Writing the config file (``config init``) and checking what it names (``config validate``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from turbomode import config as config_mod
from turbomode.errors import ConfigError, HomeNotWritable
from turbomode.store.db import atomic_write_text


def init(home_arg: str | Path | None, *, force: bool = False, source: str | None = None) -> Path:
    from turbomode.context import check_home

    home = config_mod.resolve_home(home_arg)
    check_home(home)
    path = home / config_mod.CONFIG_NAME
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; use --force to overwrite it (a .bak copy is kept)")
    cfg = config_mod.defaults()
    if source is not None:
        cfg = cfg.with_overrides(data__source=source)
    try:
        home.mkdir(parents=True, exist_ok=True)
        if path.exists():
            shutil.copy2(path, path.with_suffix(".toml.bak"))
        atomic_write_text(path, config_mod.render(cfg))
    except PermissionError as exc:
        raise HomeNotWritable(f"cannot write {path} ({exc.strerror}); choose a writable --home") from None
    except OSError as exc:
        raise HomeNotWritable(f"cannot write {path} ({exc.strerror or exc}); choose a writable --home") from None
    if os.name != "nt":
        path.chmod(0o600)
    return path


def check_paths(cfg: config_mod.Config) -> None:
    """Raise BadInput/ConfigError when a file or folder the config names cannot be used, as the jobs
    will read it: relative paths are already resolved against the home folder (config.anchor_paths)."""
    from turbomode.data.universe import load_universe

    if cfg["general.universe"].strip():
        load_universe(cfg["general.universe"])
    folder = cfg["data.csv_dir"]
    if cfg["data.source"] == "csv" and not Path(folder).is_dir():
        raise ConfigError(f"config option data.csv_dir names {folder}, which is not a folder; create it and put "
                          "the per-symbol CSV files there, or fix data.csv_dir in turbomode.toml")
