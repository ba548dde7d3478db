"""The only module that reads the wall clock. Everything else takes ``now`` as an argument."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    """ISO-8601 UTC text, second precision, as stored in the database ("2026-01-22T23:30:00Z")."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime; pass an aware one")
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse stored ISO text back to an aware UTC datetime (accepts a trailing Z or an offset)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)
