"""A second connection in one process must not drop the first one's locks (the WAL would vanish)."""

import os
import sqlite3
import subprocess
import sys

from turbomode.store.db import connect, transaction


def test_another_process_closing_does_not_delete_the_wal_under_our_connections(tmp_path):
    path = tmp_path / "turbomode.db"
    first = connect(path)
    with transaction(first):
        first.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
    second = connect(path, migrate=False)  # e.g. the heartbeat thread's connection
    # Another process opens and closes the database: it must see that we still hold it open.
    subprocess.run([sys.executable, "-c", f"import sqlite3; c = sqlite3.connect({str(path)!r});"
                    " c.execute('SELECT COUNT(*) FROM meta').fetchone(); c.close()"], check=True)
    assert os.path.exists(f"{path}-wal")
    assert first.execute("SELECT value FROM meta WHERE key = 'a'").fetchone()[0] == "1"
    assert second.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 1
    other = sqlite3.connect(path)
    assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for c in (other, second, first):
        c.close()
