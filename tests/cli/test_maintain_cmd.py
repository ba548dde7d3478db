"""`turbomode maintain` and `turbomode restore` through the real CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3

import pytest

from turbomode.store.db import connect


def dump_all(path):
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    out = {t: sorted(conn.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr) for t in tables}
    conn.close()
    return out


def populate(db_path, n=200):
    conn = connect(db_path)
    conn.executemany(
        "INSERT INTO price_data (symbol, date, open, high, low, close, volume) VALUES (?,?,?,?,?,?,?)",
        [(f"S{i % 20:02d}", f"2025-{1 + i // 400:02d}-{1 + (i // 20) % 28:02d}", 1.0, 2.0, 0.5, 1.5, 100.0 + i)
         for i in range(n)])
    conn.executemany(
        "INSERT INTO active_signals (symbol, signal_type, confidence, sector, created_at, expires_at, is_active)"
        " VALUES (?,?,?,?,?,?,1)",
        [(f"S{i:02d}", "BUY" if i % 2 else "SELL", 0.5 + i / 100, "Energy", "2099-01-01T00:00:00Z",
          "2099-01-20T00:00:00Z") for i in range(20)])
    conn.close()


def test_maintain_backs_up_and_records_a_succeeded_run(cli, home, db_path):
    populate(db_path)
    result = cli("maintain", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "succeeded" and data["summary"]["integrity"] == "ok"
    backup = home / "backups" / data["summary"]["backup"].split("/")[-1].split("\\")[-1]
    assert backup.exists()
    assert dump_all(backup)["active_signals"] == dump_all(db_path)["active_signals"]
    conn = connect(db_path)
    assert conn.execute("SELECT status FROM task_runs WHERE task='maintain'").fetchone()[0] == "succeeded"


def test_maintain_says_what_it_did_and_whether_it_vacuumed(cli, db_path):
    populate(db_path)
    result = cli("maintain")
    assert result.exit_code == 0, result.output
    assert "integrity check: ok" in result.output
    assert "vacuum: skipped" in result.output and "20% threshold" in result.output


def corrupt_an_index(db_path):
    """Make an index disagree with its table: integrity_check fails, yet the file still opens."""
    conn = connect(db_path)
    conn.execute("CREATE TABLE junk (a TEXT, b TEXT)")
    conn.execute("CREATE INDEX junk_a ON junk(a)")
    conn.executemany("INSERT INTO junk VALUES (?, ?)", [(f"a{i}", f"b{i}") for i in range(30)])
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX junk_a ON junk(b)' WHERE name = 'junk_a'")
    conn.execute("PRAGMA writable_schema = OFF")
    conn.close()


def test_a_failed_integrity_check_alerts_exits_1_and_backs_nothing_up(cli, home, db_path, monkeypatch):
    populate(db_path)
    corrupt_an_index(db_path)
    sent = []
    monkeypatch.setattr("turbomode.ops.alerts.notify", lambda ctx, event: sent.append(event) or [])

    result = cli("maintain")

    assert result.exit_code == 1
    assert "integrity check" in result.output and "turbomode restore" in result.output
    assert len(sent) == 1 and sent[0].job == "maintain" and sent[0].kind == "failed"
    assert not (home / "backups").exists() or not any((home / "backups").iterdir())
    conn = connect(db_path)
    assert conn.execute("SELECT status FROM task_runs WHERE task='maintain'").fetchone()[0] == "failed"


def corrupt_a_table_page(db_path):
    """Overwrite an interior page of a table: SQLite's integrity check then reports every broken cell
    in one multi-line row ("*** in database main ***\nOn tree page ..."), yet the file still opens."""
    conn = connect(db_path)
    conn.execute("CREATE TABLE junk (a TEXT)")
    conn.executemany("INSERT INTO junk VALUES (?)", [("x" * 500,) for _ in range(400)])
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'junk'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    overwrite_bytes(db_path, (root - 1) * page_size + 12, b"\x7f" * 200)


def test_a_damaged_page_is_one_line_naming_the_first_problem_and_how_many(cli, db_path):
    populate(db_path)
    corrupt_a_table_page(db_path)

    result = cli("maintain")

    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    # SQLite words the problem by its version ("On tree page 4 ...", "Tree 45 page 45 cell 48: ...")
    assert re.search(r"fails its integrity check \((On tree page|Tree) \d+ .*, and \d+ more problems", lines[0])
    assert "*** in database" not in lines[0] and "turbomode restore" in lines[0]
    assert result.stderr.startswith("error: database ") and not result.stdout.strip()  # an error, not a result
    history = cli("history", "--json")
    assert "\n" not in json.loads(history.output)[0]["error"]


def overwrite_bytes(path, offset, data):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def test_backup_then_corruption_then_restore_brings_every_row_back(cli, home, db_path):
    populate(db_path, n=3000)
    assert cli("maintain").exit_code == 0
    before = dump_all(db_path)
    backup = next((home / "backups").glob("turbomode-*.db"))
    # The live file is damaged: its header and a run of pages in the middle overwritten.
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = db_path.stat().st_size
    overwrite_bytes(db_path, 0, b"\x00" * 100)
    overwrite_bytes(db_path, size // 2, b"\xde\xad\xbe\xef" * 4096)
    assert cli("maintain").exit_code != 0  # the damage is noticed

    result = cli("restore", str(backup), "--yes")

    assert result.exit_code == 0, result.output
    after = dump_all(db_path)
    assert {t: rows for t, rows in after.items() if t != "task_runs"} == \
        {t: rows for t, rows in before.items() if t != "task_runs"}
    # The maintain run that took the backup closed its own row in the copy (issue 10 item 9).
    conn = sqlite3.connect(db_path)
    runs = conn.execute("SELECT id, status, error, summary FROM task_runs ORDER BY id").fetchall()
    conn.close()
    assert runs[0][:3] == (1, "succeeded", None) and "this run made this backup" in runs[0][3]
    kept = list(home.glob("turbomode.db.*.before-restore"))
    assert len(kept) == 1 and kept[0].read_bytes()[:100] == b"\x00" * 100
    assert cli("maintain").exit_code == 0


def make_bad_backup(kind, tmp_path, db_path):
    path = tmp_path / f"bad-{kind}.db"
    if kind == "text":
        path.write_text("this is not a database at all, just some text " * 20)
    elif kind == "missing":
        pass
    elif kind == "foreign":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE recipes (name TEXT)")
        conn.commit()
        conn.close()
    elif kind == "corrupt":
        corrupt_an_index(db_path)
        conn = sqlite3.connect(db_path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shutil.copyfile(db_path, path)
        # put the live database back in a sound state for the comparison below
        conn = sqlite3.connect(db_path)
        conn.execute("DROP INDEX junk_a")
        conn.commit()
        conn.close()
    return path


@pytest.mark.parametrize("kind, fragment", [
    ("text", "not an SQLite database"),
    ("missing", "not a file"),
    ("foreign", "not a TurboMode one"),
    ("corrupt", "fails its integrity check"),
])
def test_restore_refuses_a_backup_that_is_not_a_sound_turbomode_database(cli, tmp_path, db_path, kind, fragment):
    populate(db_path)
    bad = make_bad_backup(kind, tmp_path, db_path)
    before = dump_all(db_path)

    result = cli("restore", str(bad), "--yes")

    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output
    assert str(bad) in result.output and ".tmp" not in result.output  # the user's file, not our copy
    assert dump_all(db_path) == before
    assert not list(db_path.parent.glob("*.before-restore"))
    assert not list(db_path.parent.glob(".*.tmp"))


def test_restore_asks_first_and_changes_nothing_when_declined(cli, home, db_path):
    populate(db_path)
    assert cli("maintain").exit_code == 0
    backup = next((home / "backups").glob("turbomode-*.db"))
    connect(db_path).execute("DELETE FROM active_signals")
    before = dump_all(db_path)

    result = cli("restore", str(backup), input="n\n")

    assert result.exit_code == 2 and "--yes" in result.output
    assert dump_all(db_path) == before


@pytest.mark.parametrize("command", ["maintain", "restore"])
def test_help_has_an_example(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.output


def test_status_after_restoring_a_backup_made_by_maintain_is_not_unhealthy_about_maintain(cli, home, db_path):
    populate(db_path)
    assert cli("maintain").exit_code == 0
    backup = next((home / "backups").glob("turbomode-*.db"))
    assert cli("restore", str(backup), "--yes").exit_code == 0
    status = json.loads(cli("status", "--json").stdout)
    maintain = next(j for j in status["jobs"] if j["name"] == "maintain")
    assert maintain["last_status"] == "succeeded" and not maintain["overdue"]
    assert not [p for p in status["problems"] if "maintain" in p], status["problems"]


@pytest.mark.parametrize("spelling", ["turbomode.db", "./turbomode.db", pytest.param("link.db", marks=pytest.mark.skipif(
    os.name == "nt", reason="a symbolic link to a file needs a privilege ordinary Windows users lack"))])
def test_restore_refuses_the_live_database_itself(cli, home, db_path, spelling):
    populate(db_path)
    (home / "link.db").symlink_to(db_path)
    before = dump_all(db_path)
    result = cli("restore", str(home / spelling), "--yes")
    assert result.exit_code == 2
    assert "is the live database itself, not a backup" in result.output and "Traceback" not in result.output
    assert dump_all(db_path) == before
    assert not list(home.glob("*.before-restore")) and not list(home.glob(".*.tmp"))


def test_a_backups_folder_that_is_a_file_is_named_as_the_problem(cli, home, db_path):
    populate(db_path)
    (home / "backups").write_text("not a folder")
    before = dump_all(db_path)

    result = cli("maintain")

    assert result.exit_code == 2, result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert f"cannot write a backup into {home / 'backups'}: it is a file, not a folder" in line
    assert (home / "backups").read_text() == "not a folder"
    after = dump_all(db_path)
    assert after["active_signals"] == before["active_signals"] and after["price_data"] == before["price_data"]
    conn = connect(db_path)
    assert conn.execute("SELECT status FROM task_runs WHERE task='maintain'").fetchone()[0] == "failed"
    conn.close()


def test_a_backups_folder_that_cannot_be_written_is_named_not_the_home(cli, home, db_path, monkeypatch):
    # As root no permission bites: SQLite's answer for a folder it may not create a file in, simulated.
    populate(db_path)
    (home / "backups").mkdir()
    real_connect = sqlite3.connect

    def refusing(target, *args, **kwargs):
        if str(home / "backups") in str(target):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(target, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", refusing)

    result = cli("maintain")

    assert result.exit_code == 2, result.output
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert f"cannot write a backup into the folder {home / 'backups'}" in line and "not writable" in line
    assert "cannot open the database" not in line
