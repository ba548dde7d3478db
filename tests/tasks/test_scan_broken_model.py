"""A truncated champion model file: the scan is partial (exit 3), alerts, and `status` names the
sector without a usable model until a new champion replaces it (issue 10 item 8). Real training on
a small sample market, a real truncated file, a real webhook server."""

from __future__ import annotations

import json

import pytest
import time_machine

from tests.conftest import NOW
from tests.ops.test_alerts import http_server  # noqa: F401 - the real HTTP server fixture
from tests.tasks.test_train_task import add_market, db, train, write_home


@pytest.fixture
def trained(cli, home):
    write_home(home)
    add_market(home)
    with time_machine.travel(NOW, tick=False):
        result, out = train(cli)
    assert result.exit_code == 0, result.output
    return home


def truncate_champion_file(home, sector: str) -> str:
    row = db(home).execute("SELECT path, version FROM model_metadata WHERE sector = ? AND status = 'champion'"
                           " AND model_type != 'ensemble' ORDER BY id LIMIT 1", (sector,)).fetchone()
    path = home / "models" / row[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # a copy cut short, a disk that filled up mid-write
    return row[1]


def test_a_truncated_champion_makes_the_scan_partial_alerts_and_shows_in_status(cli, trained, http_server,
                                                                                monkeypatch):
    home = trained
    monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
    version = truncate_champion_file(home, "Energy")
    with time_machine.travel(NOW, tick=False):
        result = cli("scan", "--no-deps", "--allow-stale", "--json")
    assert result.exit_code == 3, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "partial"
    assert "no usable champion model for Energy" in out["message"]
    problem = out["summary"]["model_problems"]["Energy"]
    assert problem["champion"] == version and problem["using"] is None and "corrupt" in problem["problem"]
    assert "Utilities" not in out["summary"]["model_problems"]
    alerts = [json.loads(b) for m, p, h, b in http_server.requests if m == "POST"]
    assert [(a["job"], a["kind"]) for a in alerts] == [("scan", "partial")]
    assert "Energy" in alerts[0]["message"]

    with time_machine.travel(NOW, tick=False):
        status = cli("status", "--json")
    data = json.loads(status.stdout)
    assert status.exit_code == 1 and list(data["models"]["unusable"]) == ["Energy"]
    assert any(p.startswith("Energy has no usable model") for p in data["problems"])
    text = cli("status").stdout
    assert "no usable model: Energy" in text

    # a new Energy champion settles it, before any scan
    with time_machine.travel(NOW, tick=False):
        result, _ = train(cli, "--sector", "Energy")
        assert result.exit_code == 0, result.output
        data = json.loads(cli("status", "--json").stdout)
    assert data["models"]["unusable"] == {} and not any("no usable model" in p for p in data["problems"])
