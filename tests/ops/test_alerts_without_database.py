"""A database too damaged to open still alerts: alerting never depends on the database (issue 10
item 5). Real CLI runs against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from tests.ops.test_alerts import http_server  # noqa: F401 - the real HTTP server fixture

DAMAGE = {
    "not SQLite at all": b"PK\x03\x04 this is a zip file, not a database" * 100,
    "SQLite header, then garbage": b"SQLite format 3\x00" + bytes(range(256)) * 64,
}


@pytest.fixture(params=list(DAMAGE), ids=list(DAMAGE))
def damaged_home(request, home):
    home.mkdir(parents=True)
    (home / "turbomode.db").write_bytes(DAMAGE[request.param])
    return home


def posts(server) -> list[dict]:
    return [json.loads(body) for method, path, headers, body in server.requests if method == "POST"]


def test_a_job_on_a_damaged_database_exits_2_and_alerts(damaged_home, http_server, monkeypatch, cli):
    monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
    before = (damaged_home / "turbomode.db").read_bytes()
    result = cli("scan", "--trigger", "cron")
    assert result.exit_code == 2
    assert "turbomode.db" in result.stderr and result.stderr.count("\n") == 1
    sent = posts(http_server)
    assert len(sent) == 1
    assert sent[0]["job"] == "scan" and sent[0]["kind"] == "failed"
    assert "scan could not run" in sent[0]["message"] and "turbomode.db" in sent[0]["message"]
    assert (damaged_home / "turbomode.db").read_bytes() == before  # not touched


def test_the_hourly_catchup_alerts_once_a_day_not_every_hour(damaged_home, http_server, monkeypatch, cli):
    monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
    assert cli("catchup").exit_code == 2
    assert cli("catchup").exit_code == 2
    sent = posts(http_server)
    assert [(p["job"], p["kind"]) for p in sent] == [("catchup", "failed")]
    # the record of that alert is a file in the home, since the database cannot hold it
    assert (damaged_home / ".alerts-sent" / "catchup-failed").is_file()
