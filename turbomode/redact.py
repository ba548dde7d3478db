"""Secrets never leave the process: webhook and ping URLs, the SMTP password and credentials in any
URL are replaced by ``[redacted]`` in the log, the ledger, alerts, their records, the report and JSON.

Two layers. Every secret TurboMode reads (the environment variables the config names) is registered
with the tokens inside it, so it is found whatever position it has in a message (whole, without
its scheme, as a path, as one path segment or query value). Patterns catch the rest: a password in
``scheme://user:password@host``, a ``token=``/``key=``-style query value, and the path of well-known
webhook and ping services. Standard library only.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MARK = "[redacted]"
_secrets: set[str] = set()

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@'\"]*):([^/\s@'\"]+)@")
_QUERY = re.compile(r"(?i)([?&#;](?:token|key|secret|password|passwd|pwd|pass|sig|signature|api[_-]?key|"
                    r"access[_-]?token|auth|code)=)[^&\s#'\"]+")
_SERVICES = re.compile(r"(?i)((?:hooks\.slack\.com/services|discord(?:app)?\.com/api/webhooks|hc-ping\.com|"
                       r"outlook\.office\.com/webhook|[a-z0-9-]+\.webhook\.office\.com)/)[^\s'\"<>]+")


def _token_like(text: str) -> bool:
    return len(text) >= 20 or (len(text) >= 8 and any(c.isdigit() for c in text) and any(c.isalpha() for c in text))


def register(value: str | None) -> None:
    """Remember a secret (and the tokens inside it, if it is a URL) so ``redact`` hides it."""
    value = (value or "").strip()
    if len(value) < 6:
        return
    _secrets.add(value)
    if "://" in value:
        _secrets.add(value.split("://", 1)[1])
    try:  # a secret is opaque text: one that does not parse as a URL (a password with "[") is hidden whole
        parts = urlsplit(value if "://" in value else "//" + value)
        password = parts.password
    except ValueError:
        return
    if password:
        _secrets.add(password)
    tail = parts.path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    pieces = [seg for seg in parts.path.split("/") if seg] + [v for _, v in parse_qsl(parts.query)]
    if parts.fragment:
        pieces.append(parts.fragment)
    tokens = [p for p in pieces if _token_like(p)]
    _secrets.update(tokens)
    if tokens and len(tail) >= 8:
        _secrets.add(tail)


def register_from_config(cfg) -> None:
    """Register the secrets held by the environment variables the config names."""
    names = [cfg.get("alerts.webhook_url_env"), cfg.get("alerts.smtp_password_env")]
    names += [v for k, v in cfg.items() if k.startswith("jobs.") and k.endswith(".ping_url_env")]
    for name in names:
        if name:
            register(os.environ.get(name))


def redact(text: Any) -> Any:
    """``text`` with every registered secret and every credential-looking URL part replaced."""
    if not isinstance(text, str) or not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MARK)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}:{MARK}@", text)
    text = _QUERY.sub(lambda m: m.group(1) + MARK, text)
    return _SERVICES.sub(lambda m: m.group(1) + MARK, text)


def redact_obj(obj: Any) -> Any:
    """``redact`` applied to every string in a JSON-like structure (keys kept)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj
