"""Files that maintain, backups and atomic writes replace or delete while another handle has them open.

Windows refuses to rename, replace or delete a file (or a folder holding one) that another handle
has open without FILE_SHARE_DELETE — an antivirus scan, a search indexer, a user's DB browser, a
scan still reading a model. Linux allows all of it. These state what must hold on both: the job does
not fail for it, and the database and the folders never disagree.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import NOW
from tests.tasks.test_maintain import add_version
from turbomode.store import backup as backup_store
from turbomode.store.db import atomic_write_bytes
from turbomode.tasks import maintain


def versions_in_db(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT version FROM model_metadata")}


def test_pruning_a_model_version_a_reader_holds_open_does_not_fail_and_keeps_rows_and_files_in_step(fresh_db, home):
    models = home / "models"
    for i in range(1, 4):
        add_version(fresh_db, models, f"v{i}", f"2026-01-0{i}T00:00:00Z")

    with open(models / "v1" / "Energy-xgboost.joblib", "rb"):  # a scan still reading the old model
        pruned, kept = maintain.prune_model_versions(fresh_db, models, keep_versions=1)

    assert "v2" in pruned and "v3" in kept
    for version in ("v1", "v2"):  # pruned (rows and folder gone) or kept (both there), never half
        assert (version in versions_in_db(fresh_db)) == (models / version).exists(), version
        assert (version in pruned) != (version in kept), version
    assert not list(models.glob(".pruning-*")) or "v1" not in kept


def test_rotating_out_a_backup_someone_has_open_keeps_it_and_rotates_the_rest(fresh_db, home):
    folder = home / "backups"
    made = [backup_store.backup_database(fresh_db, folder, NOW.replace(hour=h)) for h in range(1, 5)]
    with open(made[0], "rb"):  # the user looking at the oldest backup
        removed = backup_store.rotate_backups(folder, keep=2)
    assert made[1] in removed
    assert set(backup_store.list_backups(folder)) | set(removed) == set(made)
    assert made[2] in backup_store.list_backups(folder) and made[3] in backup_store.list_backups(folder)


def test_a_backup_is_taken_while_another_connection_writes(fresh_db, home):
    import sqlite3

    other = sqlite3.connect(home / "turbomode.db")
    other.execute("INSERT INTO price_data (symbol, date, open, high, low, close, volume) "
                  "VALUES ('AAA', '2026-01-02', 1, 1, 1, 1, 1)")
    other.commit()  # still open, as a job's connection would be
    path = backup_store.backup_database(fresh_db, home / "backups", NOW)
    other.close()
    assert backup_store.check_backup_file(path).counts["price_data"] == 1


def test_an_atomic_write_waits_out_a_reader_that_briefly_holds_the_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_bytes(b"old")
    held = open(target, "rb")  # an indexer or antivirus scan, for a moment

    def release():
        time.sleep(0.3)
        held.close()

    threading.Thread(target=release).start()
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert not list(tmp_path.glob(".report.html.*.tmp"))


# The same refusals, simulated, so that Linux runs the Windows branches too.

def test_a_model_folder_windows_will_not_rename_is_kept_with_its_rows(fresh_db, home, monkeypatch):
    models = home / "models"
    for i in range(1, 4):
        add_version(fresh_db, models, f"v{i}", f"2026-01-0{i}T00:00:00Z")
    real_replace = maintain.os.replace

    def refuse_v1(src, dst):
        if str(src).endswith("v1"):
            raise PermissionError(13, "Access denied", str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(maintain.os, "replace", refuse_v1)
    pruned, kept = maintain.prune_model_versions(fresh_db, models, keep_versions=1)
    assert pruned == ["v2"] and sorted(kept) == ["v1", "v3"]
    assert (models / "v1").is_dir() and "v1" in versions_in_db(fresh_db)


def test_a_backup_windows_will_not_delete_is_left_for_the_next_rotation(fresh_db, home, monkeypatch):
    from pathlib import Path

    folder = home / "backups"
    made = [backup_store.backup_database(fresh_db, folder, NOW.replace(hour=h)) for h in range(1, 5)]
    real_unlink = Path.unlink

    def refuse_oldest(self, missing_ok=False):
        if self == made[0]:
            raise PermissionError(32, "Sharing violation", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse_oldest)
    assert backup_store.rotate_backups(folder, keep=2) == [made[1]]
    monkeypatch.setattr(Path, "unlink", real_unlink)
    assert backup_store.rotate_backups(folder, keep=2) == [made[0]]  # let go of: rotated next time


def test_a_replace_windows_refuses_for_a_moment_is_retried(tmp_path, monkeypatch):
    from turbomode.store import db

    monkeypatch.setattr(db, "WINDOWS", True)
    refusals = []
    real_replace = db.os.replace

    def busy_twice(src, dst):
        if len(refusals) < 2:
            refusals.append(dst)
            raise PermissionError(5, "Access denied", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(db.os, "replace", busy_twice)
    atomic_write_bytes(tmp_path / "report.html", b"new")
    assert (tmp_path / "report.html").read_bytes() == b"new" and len(refusals) == 2
    assert not list(tmp_path.glob(".report.html.*.tmp"))


def test_a_replace_refused_for_good_fails_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    from turbomode.store import db

    monkeypatch.setattr(db, "WINDOWS", True)
    monkeypatch.setattr(db, "REPLACE_WAIT_S", 0.2)

    def refuse(src, dst):
        raise PermissionError(5, "Access denied", str(dst))

    monkeypatch.setattr(db.os, "replace", refuse)
    with pytest.raises(PermissionError):
        db.atomic_write_bytes(tmp_path / "report.html", b"new")
    assert not list(tmp_path.glob(".report.html.*.tmp"))
