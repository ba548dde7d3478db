"""A secret reaches no log, ledger row, alert, alert record, report or JSON, wherever it sits in a
URL (issue 10 item 4). Real CLI runs, a real webhook server on 127.0.0.1, the files read back."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.ops.test_alerts import http_server, smtp_server  # noqa: F401 - real servers on 127.0.0.1
from turbomode.redact import MARK, redact

TOKEN = "s3cr3tT0ken9f2b7c41"

# (name, webhook URL built on the server's base URL) -- the token in every position
POSITIONS = {
    "path": lambda base: f"{base}/hook/{TOKEN}",
    "query": lambda base: f"{base}/hook?token={TOKEN}&x=1",
    "fragment": lambda base: f"{base}/hook#{TOKEN}",
    "password": lambda base: base.replace("http://", f"http://bot:{TOKEN}@") + "/hook",
    "no scheme": lambda base: f"hooks.example.com/services/{TOKEN}",  # as pasted without https://
    "whole value": lambda base: f"{base}/{TOKEN}",
}


@pytest.mark.parametrize("where", list(POSITIONS))
def test_a_webhook_token_appears_nowhere(where, sched_home, fake_jobs, cli, http_server, monkeypatch):
    url = POSITIONS[where](http_server.url)
    monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", url)
    monkeypatch.setenv("TURBOMODE_PING_SCAN", f"{http_server.url}/ping/{TOKEN}")
    # the job's own error quotes the URL (as HTTP libraries' errors do)
    monkeypatch.setenv("FAKE_SCAN", f"fail:could not post to {url} (token {TOKEN})")
    outputs = [cli("scan", "--no-deps"), cli("scan", "--no-deps", "--json"), cli("history", "--json"),
               cli("status", "--json"), cli("status"), cli("history"), cli("report", "--out",
                                                                              str(sched_home / "r.html"))]
    texts = {f"output {i}": r.stdout + r.stderr for i, r in enumerate(outputs)}
    texts["log"] = (sched_home / "logs" / "turbomode.log").read_text()
    texts["report"] = (sched_home / "r.html").read_text()
    conn = sqlite3.connect(sched_home / "turbomode.db")
    texts["database"] = "\n".join(conn.iterdump())
    conn.close()
    texts["alert bodies"] = "\n".join(b.decode() for m, p, h, b in http_server.requests if m == "POST")
    leaked = [name for name, text in texts.items() if TOKEN in text]
    assert leaked == [], f"{TOKEN} leaked into {leaked}"
    assert MARK in texts["database"]  # the error was kept, with the secret taken out
    assert "could not post to" in texts["log"]
    if where == "no scheme":  # what went wrong is still said, without the URL
        assert "unknown url type: ''[redacted]''" in texts["database"]  # SQL-quoted in the dump


# a password is opaque text: one that is not a valid URL tail ("[" opens an IPv6 host) is hidden as well
@pytest.mark.parametrize("password", [TOKEN, f"ab[12]{TOKEN}", f"]{TOKEN}[", f"x@[{TOKEN}"])
def test_the_smtp_password_appears_nowhere(password, sched_home, fake_jobs, cli, smtp_server, monkeypatch):
    toml = sched_home / "turbomode.toml"
    toml.write_text(toml.read_text() + f'[alerts]\nemail_to = ["ops@example.com"]\nsmtp_host = "127.0.0.1"\n'
                                       f"smtp_port = {smtp_server.port}\n")
    monkeypatch.setenv("TURBOMODE_SMTP_USER", "bot")
    monkeypatch.setenv("TURBOMODE_SMTP_PASSWORD", password)
    monkeypatch.setenv("FAKE_SCAN", f"crash:login bot:{password} refused")
    assert cli("status").exit_code in (0, 1) and "unexpected" not in cli("status").output
    result = cli("scan", "--no-deps")
    assert result.exit_code == 1
    assert TOKEN not in result.output
    conn = sqlite3.connect(sched_home / "turbomode.db")
    dump = "\n".join(conn.iterdump())
    conn.close()
    mail = "\n".join(m.as_string() for _, m in smtp_server.messages)
    log = (sched_home / "logs" / "turbomode.log").read_text()
    assert smtp_server.logins and TOKEN not in dump + mail + log + result.output
    assert "login bot:[redacted] refused" in dump


@pytest.mark.parametrize("url", ["http://[::1", "http://[not-a-host]/hook", "https://h:99999/x"])
def test_a_webhook_url_that_does_not_parse_leaves_commands_running(url, sched_home, fake_jobs, cli, monkeypatch):
    monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", url)
    monkeypatch.setenv("FAKE_SCAN", "fail:boom")
    status = cli("status")
    assert "unexpected" not in status.output
    result = cli("scan", "--no-deps")
    assert result.exit_code == 1 and "boom" in result.output and "unexpected" not in result.output


@pytest.mark.parametrize("text, expected", [
    ("smtp://alice:hunter2pw@mail.example.com:587", f"smtp://alice:{MARK}@mail.example.com:587"),
    ("GET https://api.example.com/x?api_key=abc123def&y=2", f"GET https://api.example.com/x?api_key={MARK}&y=2"),
    ("posting to https://hooks.slack.com/services/T000/B000/XXXXXXXX failed",
     f"posting to https://hooks.slack.com/services/{MARK} failed"),
    ("ping hc-ping.com/0f4a1c2e-1111-2222-3333-444455556666/start", f"ping hc-ping.com/{MARK}"),
    ("an ordinary message about Communication Services", "an ordinary message about Communication Services"),
])
def test_credentials_in_urls_nobody_registered_are_redacted_too(text, expected):
    assert redact(text) == expected
