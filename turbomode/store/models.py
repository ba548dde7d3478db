"""The model registry tables: ``model_metadata`` (one row per file: sector x model type, plus the
sector's ensemble) and ``training_runs`` (one row per `train` run).

A row's status is 'champion' (what scan uses; one version per sector), 'challenger' (trained but
not promoted) or 'retired' (a former champion). Paths are relative to ``<home>/models``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any, Iterable, Mapping

from turbomode.clock import iso
from turbomode.store.db import transaction

_WINDOW_COLUMNS = ("train_start", "train_end", "calib_start", "calib_end", "valid_start", "valid_end", "test_start",
                   "test_end", "data_end", "decided_end")
_FILE_COLUMNS = ("version", "sector", "model_type", "path", "sha256", "status", "created_at", *_WINDOW_COLUMNS,
                 "metrics", "feature_names")


def record_version(conn: sqlite3.Connection, *, version: str, now: datetime, files: Iterable[Mapping[str, Any]],
                   promoted: Iterable[str], run: Mapping[str, Any]) -> None:
    """Register a version's files and its training run, and promote sectors, in one transaction.

    ``files``: dicts with sector, model_type, path, sha256, windows (train_start … test_end; data_end,
    the last price date a fitted parameter read; decided_end, the last one that fitted or chose the
    version), metrics (dict), feature_names (list). A sector in ``promoted`` becomes champion: its previous
    champion rows are retired. Other sectors' rows are challengers.
    """
    promoted = set(promoted)
    created = iso(now)
    rows = []
    for f in files:
        w = f.get("windows", {})
        rows.append((version, f["sector"], f["model_type"], f["path"], f["sha256"],
                     "champion" if f["sector"] in promoted else "challenger", created,
                     *(w.get(c) for c in _WINDOW_COLUMNS), json.dumps(f.get("metrics"), default=str),
                     json.dumps(f.get("feature_names"))))
    with transaction(conn):
        for sector in promoted:
            conn.execute("UPDATE model_metadata SET status = 'retired' WHERE sector = ? AND status = 'champion'",
                         (sector,))
        conn.executemany(f"INSERT INTO model_metadata ({', '.join(_FILE_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(_FILE_COLUMNS))})", rows)
        conn.execute(
            "INSERT INTO training_runs (version, run_id, started_at, finished_at, status, sectors, train_start,"
            " train_end, valid_start, valid_end, metrics, promoted, notes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (version, run.get("run_id"), run.get("started_at"), run.get("finished_at") or created,
             run.get("status"), json.dumps(run.get("sectors", [])), run.get("train_start"), run.get("train_end"),
             run.get("valid_start"), run.get("valid_end"), json.dumps(run.get("metrics"), default=str),
             len(promoted), run.get("notes")),
        )


def version_exists(conn: sqlite3.Connection, version: str) -> bool:
    return conn.execute("SELECT 1 FROM model_metadata WHERE version = ? LIMIT 1", (version,)).fetchone() is not None


def _files(conn: sqlite3.Connection, where: str, args: tuple) -> list[dict[str, Any]]:
    cur = conn.execute(f"SELECT {', '.join(_FILE_COLUMNS)}, id FROM model_metadata WHERE {where} ORDER BY id", args)
    return [dict(zip((*_FILE_COLUMNS, "id"), r)) for r in cur.fetchall()]


def champion_files(conn: sqlite3.Connection) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """sector -> (champion version, its file rows)."""
    out: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for row in _files(conn, "status = 'champion'", ()):
        version, files = out.setdefault(row["sector"], (row["version"], []))
        if row["version"] == version:
            files.append(row)
    return out


def champion_versions(conn: sqlite3.Connection) -> dict[str, str]:
    """sector -> its champion version (one small query: `status` reads it)."""
    rows = conn.execute("SELECT sector, MAX(version) FROM model_metadata WHERE status = 'champion'"
                        " GROUP BY sector").fetchall()
    return {r[0]: r[1] for r in rows}


def former_champions(conn: sqlite3.Connection, sector: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """The sector's retired champions, newest first: the fallbacks when the champion's files are broken."""
    rows = _files(conn, "sector = ? AND status = 'retired'", (sector,))
    by_version: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_version.setdefault(r["version"], []).append(r)
    return sorted(by_version.items(), key=lambda kv: kv[0], reverse=True)


# The last price date that fitted a version or chose it as champion (its validation labels). A row
# from before decided_end was recorded falls back to the day it was created: nothing it read is later.
_KNOWN_BY = "COALESCE(decided_end, substr(created_at, 1, 10))"


def point_in_time_files(conn: sqlite3.Connection, as_of: str) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """sector -> (version, file rows) of the newest champion or former champion fitted and chosen on
    prices before ``as_of`` (what `scan --as-of` may use: neither its parameters nor its promotion had
    seen that date)."""
    cur = conn.execute(
        f"SELECT sector, MAX(version) FROM model_metadata WHERE model_type = 'ensemble'"
        f" AND status IN ('champion', 'retired') AND {_KNOWN_BY} < ? GROUP BY sector", (as_of,))
    out = {}
    for sector, version in cur.fetchall():
        out[sector] = (version, version_files(conn, version, sector))
    return out


def point_in_time_needed(conn: sqlite3.Connection, since: str) -> set[str]:
    """The versions that `scan --as-of` would choose for some date from ``since`` on: per sector, every
    champion or former champion fitted or chosen on prices up to ``since`` or later, and the newest
    one known before it (it serves the first dates). ``maintain`` keeps them (models.as_of_days)."""
    cur = conn.execute(
        f"SELECT sector, version, {_KNOWN_BY} FROM model_metadata WHERE model_type = 'ensemble'"
        " AND status IN ('champion', 'retired') ORDER BY sector, version")
    keep: set[str] = set()
    before: dict[str, str] = {}
    for sector, version, known_by in cur.fetchall():
        if known_by is None:
            continue
        if known_by >= since:
            keep.add(version)
        elif version > before.get(sector, ""):
            before[sector] = version
    return keep | set(before.values())


def point_in_time_firsts(conn: sqlite3.Connection) -> dict[str, str]:
    """sector -> the earliest date by which one of its kept champions or former champions was fitted
    and chosen (a point-in-time scan of the sector is possible only after it)."""
    cur = conn.execute(f"SELECT sector, MIN({_KNOWN_BY}) FROM model_metadata WHERE model_type = 'ensemble'"
                       " AND status IN ('champion', 'retired') GROUP BY sector")
    return {sector: first for sector, first in cur.fetchall() if first}


def earliest_point_in_time(conn: sqlite3.Connection) -> str | None:
    """The first date some kept champion or former champion may serve a point-in-time scan from
    (the day after the earliest date by which one was fitted and chosen), or None when none is kept."""
    row = conn.execute(f"SELECT MIN({_KNOWN_BY}) FROM model_metadata WHERE model_type = 'ensemble'"
                       " AND status IN ('champion', 'retired')").fetchone()
    return row[0] if row and row[0] else None


def version_files(conn: sqlite3.Connection, version: str, sector: str) -> list[dict[str, Any]]:
    return _files(conn, "version = ? AND sector = ?", (version, sector))


def sector_status(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per sector: the champion version and, when newer, the latest challenger (for `status`)."""
    cur = conn.execute(
        "SELECT sector, status, MAX(version), MAX(created_at) FROM model_metadata"
        " WHERE model_type = 'ensemble' AND status IN ('champion', 'challenger') GROUP BY sector, status")
    by_sector: dict[str, dict[str, Any]] = {}
    for sector, status, version, created in cur.fetchall():
        d = by_sector.setdefault(sector, {"sector": sector, "champion": None, "champion_at": None,
                                          "challenger": None, "challenger_at": None})
        d[status], d[f"{status}_at"] = version, created
    for d in by_sector.values():
        if d["challenger"] and d["champion"] and d["challenger"] < d["champion"]:
            d["challenger"] = d["challenger_at"] = None  # an old challenger the champion has superseded
    return [by_sector[s] for s in sorted(by_sector)]


def latest_training_run(conn: sqlite3.Connection) -> dict[str, Any] | None:
    cur = conn.execute("SELECT version, run_id, started_at, finished_at, status, sectors, promoted, metrics, notes"
                       " FROM training_runs ORDER BY id DESC LIMIT 1")
    row = cur.fetchone()
    if row is None:
        return None
    keys = ("version", "run_id", "started_at", "finished_at", "status", "sectors", "promoted", "metrics", "notes")
    d = dict(zip(keys, row))
    for k in ("sectors", "metrics"):
        d[k] = json.loads(d[k]) if d[k] else None
    return d


def running_run_id(conn: sqlite3.Connection, task: str, pid: int) -> int | None:
    """The ledger id of this process's running ``task`` (tasks are not told their run id)."""
    row = conn.execute("SELECT id FROM task_runs WHERE task = ? AND status = 'running' AND pid = ?"
                       " ORDER BY id DESC LIMIT 1", (task, pid)).fetchone()
    return int(row[0]) if row else None
