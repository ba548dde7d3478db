"""Alerts on failure, abandonment, blocked runs and staleness: SMTP e-mail, a JSON webhook, and
healthchecks.io-style pings.

Channels are configured in turbomode.toml, but secrets never are: the SMTP user and password, the
webhook URL and each job's ping URL come from the environment variables the config names
(``alerts.smtp_user_env``, ``alerts.smtp_password_env``, ``alerts.webhook_url_env``,
``jobs.<job>.ping_url_env``). Every delivery attempt is recorded in ``alerts_sent``.

Alerting must never make things worse: a channel that fails (server down, timeout, bad URL) is
logged and recorded, and neither ``notify`` nor ``ping`` ever raises. URLs are never logged (a
webhook or ping URL is a secret).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from turbomode import clock

log = logging.getLogger("turbomode.alerts")

KINDS = ("failed", "abandoned", "blocked", "stale", "partial")

# rid pairs a ping's /start with its end ping (healthchecks.io measures the run's duration).
_RIDS: dict[tuple[str, int], str] = {}


@dataclass
class AlertEvent:
    job: str  # a job name, or what went stale ("data", "signals")
    kind: str  # failed | abandoned | stale | blocked | partial
    message: str
    run_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def notify(ctx, event: AlertEvent, now: datetime | None = None, *,
           once_per: timedelta | None = None) -> list[tuple[str, bool, str | None]]:
    """Send ``event`` on every configured channel; returns (channel, ok, error) per attempt.

    ``once_per``: skip when an alert of the same job and kind reached a channel within that time
    (for conditions re-checked often, such as staleness seen by every ``status``). Never raises.
    """
    try:
        return _notify(ctx, event, now or clock.now(), once_per)
    except Exception:  # a bug here must not fail the job that is being reported
        log.exception("alerting failed for %s %s", event.job, event.kind)
        return []


def _notify(ctx, event: AlertEvent, now: datetime, once_per: timedelta | None) -> list[tuple[str, bool, str | None]]:
    cfg = ctx.config
    if cfg.get(f"jobs.{event.job}.alerts", True) is False:
        log.info("alerts for %s are off (jobs.%s.alerts); not sending %s", event.job, event.job, event.kind)
        return []
    channels: list[tuple[str, Callable[[], None]]] = []
    if cfg["alerts.email_to"]:
        channels.append(("email", lambda: _send_email(ctx, event, now)))
    webhook = _secret(cfg["alerts.webhook_url_env"])
    if webhook:
        channels.append(("webhook", lambda: _post_webhook(webhook, _payload(ctx, event, now),
                                                          cfg["alerts.timeout_seconds"])))
    if not channels:
        log.info("no alert channel configured; %s %s: %s", event.job, event.kind, event.message)
        return []
    if once_per is not None and _sent_recently(ctx, event, now, once_per):
        log.info("%s %s already alerted within %s; not repeating", event.job, event.kind, once_per)
        return []
    results = []
    for name, send in channels:
        try:
            send()
            ok, error = True, None
            log.info("alert sent by %s: %s %s", name, event.job, event.kind)
        except Exception as exc:
            ok, error = False, _describe_error(exc)
            log.warning("alert by %s failed (%s %s): %s", name, event.job, event.kind, error)
        results.append((name, ok, error))
        _record(ctx, event.run_id, event.job, event.kind, name, now, ok, error)
    return results


def ping(ctx, job: str, what: str, run_id: int | None = None,
         now: datetime | None = None) -> tuple[str, bool, str | None] | None:
    """healthchecks.io-style ping: what = 'start', 'fail' or an exit code ('0' .. '255').

    GETs ``<url>/<what>?rid=<uuid>`` where the URL comes from the variable named by
    ``jobs.<job>.ping_url_env``; the same rid pairs a run's start and end. None when no URL is set.
    Never raises.
    """
    try:
        url = _secret(ctx.config.get(f"jobs.{job}.ping_url_env") or "")
        if not url:
            return None
        if what not in ("start", "fail") and not (what.isdigit() and 0 <= int(what) <= 255):
            raise ValueError(f"ping 'what' must be start, fail or an exit code 0-255, not {what!r}")
        rid = _rid(ctx, run_id, what)
        full = f"{url.rstrip('/')}/{what}" + (f"?rid={rid}" if rid else "")
        try:
            _get(full, ctx.config["alerts.timeout_seconds"])
            ok, error = True, None
        except Exception as exc:
            ok, error = False, _describe_error(exc)
            log.warning("ping %s for %s failed: %s", what, job, error)
        _record(ctx, run_id, job, what, "ping", now or clock.now(), ok, error)
        return ("ping", ok, error)
    except Exception:
        log.exception("ping %s for %s failed", what, job)
        return None


# Staleness is re-checked by every catch-up (hourly): say it once a day, not every hour.
STALE_REPEAT = timedelta(hours=24)


def alert_stale(ctx, report: dict[str, Any], now: datetime | None = None) -> list[tuple[str, bool, str | None]]:
    """Staleness alerts from a ``status`` report: prices (as ingest) and signals (as scan).

    Each is sent at most once per ``STALE_REPEAT`` while it stays stale. Never raises.
    """
    out: list[tuple[str, bool, str | None]] = []
    try:
        data, signals = report["data"], report["signals"]
        if not data["fresh"]:
            msg = ("no prices are stored yet; run `turbomode ingest`" if data["latest_bar"] is None else
                   f"prices end {data['latest_bar']} but the last completed NYSE session is "
                   f"{data['last_session']}; run `turbomode ingest` (or `turbomode catchup`)")
            out += notify(ctx, AlertEvent("ingest", "stale", msg, details={"latest_bar": data["latest_bar"],
                                                                           "last_session": data["last_session"]}),
                          now, once_per=STALE_REPEAT)
        if not signals["fresh"]:
            msg = signals.get("stale_reason") or (
                "there are no active signals yet; run `turbomode scan`" if signals["newest"] is None else
                f"the newest signal is {signals['age_hours']:.0f} h old (limit {signals['limit_hours']} h); "
                "run `turbomode scan` (or `turbomode catchup`)")
            out += notify(ctx, AlertEvent("scan", "stale", msg, details={"newest_signal": signals["newest"],
                                                                         "last_scan_session": signals.get("last_scan_session")}),
                          now, once_per=STALE_REPEAT)
    except Exception:
        log.exception("staleness alerts failed")
    return out


# --- channels ----------------------------------------------------------------------------------

def _secret(env_name: str) -> str | None:
    value = os.environ.get(env_name, "").strip() if env_name else ""
    if value:
        from turbomode.redact import register

        register(value)  # whatever error text quotes it is redacted
    return value or None


def _host() -> str:
    return socket.gethostname()


def _subject(event: AlertEvent) -> str:
    from turbomode.redact import redact

    return redact(f"[TurboMode] {event.job} {event.kind} on {_host()}")


def _body(ctx, event: AlertEvent, now: datetime) -> str:
    lines = [event.message, "", f"job: {event.job}", f"what: {event.kind}", f"host: {_host()}",
             f"home: {ctx.home}", f"time: {clock.iso(now)}"]
    if event.run_id is not None:
        lines.append(f"run: {event.run_id}")
    for k, v in event.details.items():
        lines.append(f"{k}: {v}")
    lines += ["", f"Next steps: `turbomode history --job {event.job}` and `turbomode status`; the log is "
              f"{ctx.home / 'logs' / 'turbomode.log'}."]
    from turbomode.redact import redact

    return redact("\n".join(lines) + "\n")


def _send_email(ctx, event: AlertEvent, now: datetime) -> None:
    import smtplib
    import ssl
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    cfg = ctx.config
    msg = EmailMessage()
    msg["Subject"] = _subject(event)
    msg["From"] = cfg["alerts.email_from"]
    msg["To"] = ", ".join(cfg["alerts.email_to"])
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=_host() or "turbomode")  # no DNS lookup, unlike the default
    msg.set_content(_body(ctx, event, now))
    host, port, timeout = cfg["alerts.smtp_host"], cfg["alerts.smtp_port"], cfg["alerts.timeout_seconds"]
    # Port 465 is SMTP over TLS from the first byte; others may upgrade with STARTTLS.
    smtp_cls = smtplib.SMTP_SSL if port == 465 else smtplib.SMTP
    with smtp_cls(host, port, timeout=timeout) as smtp:
        if cfg["alerts.smtp_starttls"] and port != 465:
            smtp.starttls(context=ssl.create_default_context())
        user = _secret(cfg["alerts.smtp_user_env"])
        if user:
            smtp.login(user, os.environ.get(cfg["alerts.smtp_password_env"], ""))
        smtp.send_message(msg)


def _payload(ctx, event: AlertEvent, now: datetime) -> dict[str, Any]:
    from turbomode.redact import redact_obj

    return redact_obj({
        # "text" makes the POST readable as-is by Slack/Mattermost-style incoming webhooks.
        "text": f"{_subject(event)}: {event.message}",
        "job": event.job,
        "kind": event.kind,
        "message": event.message,
        "run_id": event.run_id,
        "host": _host(),
        "home": str(ctx.home),
        "time": clock.iso(now),
        "details": event.details,
    })


def _post_webhook(url: str, payload: dict[str, Any], timeout: float) -> None:
    import urllib.request

    from turbomode import __version__

    req = urllib.request.Request(url, data=json.dumps(payload, default=str).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": f"turbomode/{__version__}"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # 4xx/5xx raise HTTPError
        resp.read(65536)


def _get(url: str, timeout: float) -> None:
    import urllib.request

    from turbomode import __version__

    req = urllib.request.Request(url, headers={"User-Agent": f"turbomode/{__version__}"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read(65536)


def _rid(ctx, run_id: int | None, what: str) -> str | None:
    if run_id is None:
        return None
    key = (str(ctx.home), run_id)
    if what == "start":
        _RIDS[key] = str(uuid.uuid4())
        return _RIDS[key]
    # The end of a run started in this process reuses its rid; otherwise a stable one per run.
    return _RIDS.pop(key, None) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"turbomode:{ctx.home}:{run_id}"))


def _describe_error(exc: BaseException) -> str:
    import urllib.error

    from turbomode.redact import redact

    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"  # str(HTTPError) is fine too, but never the URL
    if isinstance(exc, urllib.error.URLError):
        return redact(f"{type(exc.reason).__name__}: {exc.reason}")
    return redact(f"{type(exc).__name__}: {exc}")  # ValueError('unknown url type: ...') quotes the URL


# --- the record ---------------------------------------------------------------------------------

def _record(ctx, run_id: int | None, task: str, kind: str, channel: str, now: datetime, ok: bool,
            error: str | None) -> None:
    try:
        from turbomode.store import alerts as store

        from turbomode.redact import redact

        store.record(ctx.connect(), run_id=run_id, task=task, kind=kind, channel=channel, now=now, ok=ok,
                     error=redact(error))
    except Exception as exc:  # a broken database must not stop the alert that reports it
        log.warning("could not record the %s alert in alerts_sent: %s", channel, exc)
        if ok and channel != "ping":
            try:
                (ctx.home / MARKS).mkdir(parents=True, exist_ok=True)
                _mark_file(ctx, task, kind).write_text(clock.iso(now), encoding="utf-8")
            except OSError:  # no room even for that: the alert went out, which is what matters
                pass


# When the database cannot record an alert (it is the thing that broke), a file in the home does,
# so that an hourly catch-up does not repeat the same alert every hour.
MARKS = ".alerts-sent"


def _mark_file(ctx, task: str, kind: str):
    return ctx.home / MARKS / f"{task}-{kind}"


def _sent_recently(ctx, event: AlertEvent, now: datetime, window: timedelta) -> bool:
    try:
        from turbomode.store import alerts as store

        last = store.last_delivered(ctx.connect(), event.job, event.kind)
    except Exception as exc:
        log.warning("could not read alerts_sent (%s); using the file record", exc)
        try:
            last = _mark_file(ctx, event.job, event.kind).read_text(encoding="utf-8").strip() or None
        except OSError:
            return False
    return last is not None and clock.parse_iso(last) > now - window
