"""Writing the config file (``config init``) and checking what it names (``config validate``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

from turbomode import config as config_mod
from turbomode.errors import ConfigError, HomeNotWritable
from turbomode.store.db import atomic_write_text


# `config init --source csv` without --csv-dir: the CSVs go in this folder of the home (written relative,
# so the home can move; config.anchor_paths reads it from the home).
DEFAULT_CSV_DIR = "csv"


class Written(NamedTuple):
    path: Path  # the config file
    csv_dir: Path | None  # the folder made for CSV files, when the config names one


def init(home_arg: str | Path | None, *, force: bool = False, source: str | None = None,
         csv_dir: str | Path | None = None) -> Written:
    """Write the commented config. With source 'csv' (or ``csv_dir``) data.csv_dir names a folder,
    created if missing: ``csv_dir`` (relative to the working folder, as typed) or <home>/csv."""
    from turbomode.context import check_home

    home = config_mod.resolve_home(home_arg)
    check_home(home)
    path = home / config_mod.CONFIG_NAME
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; use --force to overwrite it (a .bak copy is kept)")
    cfg = config_mod.defaults()
    if source is not None:
        cfg = cfg.with_overrides(data__source=source)
    folder = None
    if csv_dir is not None:
        if not str(csv_dir).strip():
            raise ConfigError("--csv-dir is empty; give the folder that holds (or will hold) the CSV files")
        folder = Path(csv_dir).expanduser().absolute()
        cfg = cfg.with_overrides(data__csv_dir=str(folder))
    elif cfg["data.source"] == "csv":
        folder = home / DEFAULT_CSV_DIR
        cfg = cfg.with_overrides(data__csv_dir=DEFAULT_CSV_DIR)
    if folder is not None and folder.exists() and not folder.is_dir():
        raise ConfigError(f"--csv-dir {folder} is a file, not a folder; give a folder for the CSV files")
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
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HomeNotWritable(f"wrote {path} but cannot create the CSV folder {folder} "
                                  f"({exc.strerror or exc}); create it yourself or give another --csv-dir") from None
    return Written(path, folder)


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
