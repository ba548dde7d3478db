"""Alerts against real servers on 127.0.0.1: an SMTP server (aiosmtpd) and an HTTP server."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import NOW
from turbomode import config
from turbomode.context import Context
from turbomode.ops import alerts
from turbomode.ops.alerts import AlertEvent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there: connection refused


@pytest.fixture
def smtp_server():
    """A real SMTP server; ``.messages`` holds (envelope, parsed message) as they arrive."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Handler:
        def __init__(self):
            self.messages = []
            self.logins = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope, message_from_bytes(envelope.original_content)))
            return "250 OK"

    handler = Handler()

    def authenticator(server, session, envelope, mechanism, auth_data):
        handler.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def http_server():
    """A real HTTP server; ``.requests`` holds (method, path, headers, body); ``.status`` is returned."""
    requests: list[tuple[str, str, dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            requests.append((self.command, self.path, dict(self.headers), body))
            self.send_response(server.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.status = 200
    server.requests = requests
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def log_records():
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    logger = logging.getLogger("turbomode")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old)


_OPENED: list[Context] = []


def make_ctx(home, **overrides) -> Context:
    cfg = config.defaults().with_overrides(alerts__timeout_seconds=5, **overrides)
    ctx = Context(home=home, config=cfg)
    _OPENED.append(ctx)
    return ctx


@pytest.fixture(autouse=True)
def _close_contexts():
    yield
    while _OPENED:
        _OPENED.pop().close()


def sent_rows(ctx):
    return [dict(r) for r in ctx.connect().execute(
        "SELECT run_id, task, kind, channel, ok, error FROM alerts_sent ORDER BY id")]


EVENT = AlertEvent(job="scan", kind="failed", message="scan failed: prices end 2026-01-21; run `turbomode ingest`",
                   run_id=42, details={"exit_code": 1})


class TestEmail:
    def test_it_delivers_an_email_with_the_job_kind_and_message(self, home, smtp_server):
        ctx = make_ctx(home, alerts__email_to=["ops@example.com", "me@example.com"],
                       alerts__smtp_host="127.0.0.1", alerts__smtp_port=smtp_server.port,
                       alerts__email_from="tm@example.com")
        results = alerts.notify(ctx, EVENT, NOW)
        assert results == [("email", True, None)]
        (envelope, msg), = smtp_server.messages
        assert envelope.rcpt_tos == ["ops@example.com", "me@example.com"]
        assert envelope.mail_from == "tm@example.com"
        assert msg["Subject"].startswith("[TurboMode] scan failed on ")
        body = msg.get_payload(decode=True).decode()
        assert "prices end 2026-01-21" in body
        assert "run: 42" in body and "turbomode history --job scan" in body
        assert sent_rows(ctx) == [{"run_id": 42, "task": "scan", "kind": "failed", "channel": "email",
                                   "ok": 1, "error": None}]

    def test_it_logs_in_with_credentials_from_the_environment(self, home, smtp_server, monkeypatch):
        monkeypatch.setenv("TM_TEST_USER", "alice")
        monkeypatch.setenv("TM_TEST_PASS", "s3cret")
        ctx = make_ctx(home, alerts__email_to=["ops@example.com"], alerts__smtp_host="127.0.0.1",
                       alerts__smtp_port=smtp_server.port, alerts__smtp_user_env="TM_TEST_USER",
                       alerts__smtp_password_env="TM_TEST_PASS")
        assert alerts.notify(ctx, EVENT, NOW) == [("email", True, None)]
        assert smtp_server.logins == [("alice", "s3cret")]
        assert len(smtp_server.messages) == 1

    def test_a_rejected_login_is_recorded_not_raised(self, home, smtp_server, monkeypatch):
        monkeypatch.setenv("TM_TEST_USER", "alice")
        monkeypatch.setenv("TM_TEST_PASS", "wrong")
        ctx = make_ctx(home, alerts__email_to=["ops@example.com"], alerts__smtp_host="127.0.0.1",
                       alerts__smtp_port=smtp_server.port, alerts__smtp_user_env="TM_TEST_USER",
                       alerts__smtp_password_env="TM_TEST_PASS")
        (channel, ok, error), = alerts.notify(ctx, EVENT, NOW)
        assert (channel, ok) == ("email", False)
        assert "SMTPAuthenticationError" in error
        assert smtp_server.messages == []

    def test_a_config_file_cannot_hold_the_smtp_password(self):
        with pytest.raises(config.ConfigError, match="unknown config option 'alerts.smtp_password'"):
            config.parse('[alerts]\nsmtp_password = "hunter2"')


class TestWebhook:
    def test_it_posts_the_event_as_json(self, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        ctx = make_ctx(home)
        assert alerts.notify(ctx, EVENT, NOW) == [("webhook", True, None)]
        (method, path, headers, body), = http_server.requests
        assert (method, path) == ("POST", "/hook")
        assert headers["Content-Type"] == "application/json"
        payload = json.loads(body)
        assert payload["job"] == "scan" and payload["kind"] == "failed" and payload["run_id"] == 42
        assert payload["time"] == "2026-01-23T12:00:00Z"
        assert payload["details"] == {"exit_code": 1}
        assert "prices end 2026-01-21" in payload["text"]

    def test_an_http_error_is_recorded_not_raised(self, home, http_server, monkeypatch):
        http_server.status = 500
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        ctx = make_ctx(home)
        assert alerts.notify(ctx, EVENT, NOW) == [("webhook", False, "HTTP 500 Internal Server Error")]
        assert sent_rows(ctx)[0]["ok"] == 0

    def test_the_url_comes_from_the_variable_the_config_names(self, home, http_server, monkeypatch):
        monkeypatch.setenv("MY_HOOK", http_server.url + "/mine")
        ctx = make_ctx(home, alerts__webhook_url_env="MY_HOOK")
        alerts.notify(ctx, EVENT, NOW)
        assert [r[1] for r in http_server.requests] == ["/mine"]


class TestDeadChannels:
    def test_dead_ports_fail_nothing_and_are_logged_and_recorded(self, home, monkeypatch, log_records):
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", dead_url())
        monkeypatch.setenv("TURBOMODE_PING_SCAN", dead_url())
        ctx = make_ctx(home, alerts__email_to=["ops@example.com"], alerts__smtp_host="127.0.0.1",
                       alerts__smtp_port=free_port())
        results = alerts.notify(ctx, EVENT, NOW)
        assert [(c, ok) for c, ok, _ in results] == [("email", False), ("webhook", False)]
        assert all("ConnectionRefusedError" in e for _, _, e in results)
        assert alerts.ping(ctx, "scan", "start", 42, NOW)[:2] == ("ping", False)
        assert [(r["channel"], r["ok"]) for r in sent_rows(ctx)] == [("email", 0), ("webhook", 0), ("ping", 0)]
        warnings = [r.getMessage() for r in log_records if r.levelno == logging.WARNING]
        assert any("alert by email failed" in w for w in warnings)
        assert any("alert by webhook failed" in w for w in warnings)
        assert any("ping start for scan failed" in w for w in warnings)
        # The URL may carry a token: it is never logged.
        assert not any("127.0.0.1:" in r.getMessage() for r in log_records)

    def test_a_broken_database_does_not_stop_the_alert(self, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        home.mkdir(parents=True)
        (home / "turbomode.db").write_bytes(b"this is not a database at all" * 10)
        ctx = make_ctx(home)
        assert alerts.notify(ctx, EVENT, NOW) == [("webhook", True, None)]
        assert len(http_server.requests) == 1


class TestWhenToSend:
    def test_nothing_is_sent_when_the_jobs_alerts_are_off(self, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        ctx = make_ctx(home, jobs__scan__alerts=False)
        assert alerts.notify(ctx, EVENT, NOW) == []
        assert http_server.requests == []

    def test_no_channel_configured_sends_nothing(self, home, monkeypatch):
        monkeypatch.delenv("TURBOMODE_WEBHOOK_URL", raising=False)
        assert alerts.notify(make_ctx(home), EVENT, NOW) == []

    def test_once_per_suppresses_a_repeat_within_the_window(self, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        ctx = make_ctx(home)
        stale = AlertEvent(job="signals", kind="stale", message="signals are 30 h old")
        day = timedelta(hours=24)
        assert alerts.notify(ctx, stale, NOW, once_per=day) == [("webhook", True, None)]
        assert alerts.notify(ctx, stale, NOW + timedelta(hours=1), once_per=day) == []
        assert alerts.notify(ctx, stale, NOW + timedelta(hours=25), once_per=day) == [("webhook", True, None)]
        assert len(http_server.requests) == 2

    def test_a_failed_delivery_does_not_count_as_sent(self, home, http_server, monkeypatch):
        ctx = make_ctx(home)
        stale = AlertEvent(job="signals", kind="stale", message="signals are 30 h old")
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", dead_url())
        alerts.notify(ctx, stale, NOW, once_per=timedelta(hours=24))
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        assert alerts.notify(ctx, stale, NOW, once_per=timedelta(hours=24)) == [("webhook", True, None)]


class TestPings:
    def test_start_and_exit_pings_share_a_run_id(self, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_PING_SCAN", http_server.url + "/ping/abc-123/")
        ctx = make_ctx(home)
        assert alerts.ping(ctx, "scan", "start", 7, NOW) == ("ping", True, None)
        assert alerts.ping(ctx, "scan", "3", 7, NOW) == ("ping", True, None)
        paths = [urlsplit(r[1]) for r in http_server.requests]
        assert [p.path for p in paths] == ["/ping/abc-123/start", "/ping/abc-123/3"]
        rids = [parse_qs(p.query)["rid"][0] for p in paths]
        assert rids[0] == rids[1] and len(rids[0]) == 36
        assert [(r["kind"], r["channel"], r["ok"]) for r in sent_rows(ctx)] == [("start", "ping", 1), ("3", "ping", 1)]

    def test_each_job_uses_its_own_variable(self, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_PING_INGEST", http_server.url + "/ingest")
        monkeypatch.delenv("TURBOMODE_PING_SCAN", raising=False)
        ctx = make_ctx(home)
        assert alerts.ping(ctx, "scan", "0", 1, NOW) is None
        alerts.ping(ctx, "ingest", "0", 1, NOW)
        assert [urlsplit(r[1]).path for r in http_server.requests] == ["/ingest/0"]

    @pytest.mark.parametrize("what", ["", "ok", "256", "-1", "start/../x"])
    def test_it_refuses_what_healthchecks_would_not_understand_without_raising(self, home, http_server,
                                                                              monkeypatch, what):
        monkeypatch.setenv("TURBOMODE_PING_SCAN", http_server.url + "/p")
        assert alerts.ping(make_ctx(home), "scan", what, 1, NOW) is None
        assert http_server.requests == []


class TestStaleness:
    STALE = {"data": {"fresh": False, "latest_bar": "2026-01-20", "last_session": "2026-01-22"},
             "signals": {"fresh": False, "newest": "2026-01-21T23:30:00Z", "age_hours": 36.5, "limit_hours": 24}}
    FRESH = {"data": {"fresh": True, "latest_bar": "2026-01-22", "last_session": "2026-01-22"},
             "signals": {"fresh": True, "newest": "2026-01-22T23:30:00Z", "age_hours": 12.5, "limit_hours": 24}}

    def test_stale_prices_and_signals_are_alerted_once_a_day(self, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        ctx = make_ctx(home)
        assert len(alerts.alert_stale(ctx, self.STALE, NOW)) == 2
        posted = [json.loads(r[3]) for r in http_server.requests]
        assert [(p["job"], p["kind"]) for p in posted] == [("ingest", "stale"), ("scan", "stale")]
        assert "prices end 2026-01-20 but the last completed NYSE session is 2026-01-22" in posted[0]["message"]
        assert "36 h old (limit 24 h)" in posted[1]["message"]
        assert alerts.alert_stale(ctx, self.STALE, NOW + timedelta(hours=2)) == []
        assert len(alerts.alert_stale(ctx, self.STALE, NOW + timedelta(hours=25))) == 2

    def test_fresh_data_sends_nothing(self, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        assert alerts.alert_stale(make_ctx(home), self.FRESH, NOW) == []
        assert http_server.requests == []

    def test_a_malformed_report_is_logged_not_raised(self, home, log_records):
        assert alerts.alert_stale(make_ctx(home), {"data": {}}, NOW) == []
        assert any("staleness alerts failed" in r.getMessage() for r in log_records)

    def test_catchup_alerts_stale_prices_after_its_replay(self, cli, home, http_server, monkeypatch):
        monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
        home.mkdir(parents=True)
        (home / "turbomode.toml").write_text("".join(
            f"[jobs.{j}]\nenabled = false\n" for j in ("ingest", "train", "scan", "backtest", "drift", "maintain")))
        result = cli("catchup")
        assert result.exit_code == 0, result.output
        kinds = [(json.loads(r[3])["job"], json.loads(r[3])["kind"]) for r in http_server.requests]
        assert ("ingest", "stale") in kinds and ("scan", "stale") in kinds
        cli("catchup")  # an hour later nobody wants the same e-mail again
        assert len(http_server.requests) == len(kinds)


def test_a_failing_job_alerts_and_pings_through_the_run_wrapper(cli, home, smtp_server, http_server, monkeypatch):
    """End to end: `turbomode scan` with no prices is refused (exit 4); the wrapper e-mails, posts and pings."""
    monkeypatch.setenv("TURBOMODE_WEBHOOK_URL", http_server.url + "/hook")
    monkeypatch.setenv("TURBOMODE_PING_SCAN", http_server.url + "/ping/scan")
    home.mkdir(parents=True)
    (home / "turbomode.toml").write_text(
        f'[alerts]\nemail_to = ["ops@example.com"]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_server.port}\n')
    result = cli("scan", "--no-deps")
    assert result.exit_code == 4, result.output
    (_, msg), = smtp_server.messages
    assert msg["Subject"].startswith("[TurboMode] scan failed")
    assert "no prices are stored yet" in msg.get_payload(decode=True).decode()
    paths = [urlsplit(r[1]).path for r in http_server.requests]
    assert paths == ["/ping/scan/start", "/hook", "/ping/scan/4"]
    with sqlite3.connect(home / "turbomode.db") as conn:
        rows = conn.execute("SELECT channel, kind, ok, run_id FROM alerts_sent ORDER BY id").fetchall()
    assert rows == [("ping", "start", 1, 1), ("email", "failed", 1, 1), ("webhook", "failed", 1, 1), ("ping", "4", 1, 1)]
