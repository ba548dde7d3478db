"""Fixtures for scheduling tests: a home in New York time with NYSE-like sessions, fake jobs, alert spies."""

from __future__ import annotations

import pytest

from tests.conftest import NOW

CONFIG = """
[general]
timezone = "America/New_York"
[run]
heartbeat_seconds = 1
stale_heartbeat_minutes = 15
"""


@pytest.fixture
def sched_home(home):
    """A home whose config reads schedules in New York time, with sessions cached in the database."""
    from tests.fakejobs import fill_sessions
    from turbomode.store.db import connect

    home.mkdir(parents=True, exist_ok=True)
    (home / "turbomode.toml").write_text(CONFIG, encoding="utf-8")
    conn = connect(home / "turbomode.db")
    fill_sessions(conn)
    conn.close()
    return home


@pytest.fixture
def ctx(sched_home):
    from turbomode import logs
    from turbomode.context import Context

    c = Context.load(sched_home)
    logs.setup(c.logs_dir, "INFO")
    yield c
    c.close()


@pytest.fixture
def fake_jobs(monkeypatch, tmp_path):
    """Every job runs a fake task; returns a function listing the jobs that ran, in order."""
    from tests import fakejobs

    fakejobs.install(monkeypatch)
    log = tmp_path / "fake-runs.log"
    monkeypatch.setenv("FAKE_LOG", str(log))

    def ran() -> list[str]:
        return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []

    return ran


@pytest.fixture
def alerts_spy(monkeypatch):
    """Records every notify/ping the run wrapper makes."""
    from turbomode.ops import alerts

    calls: list[tuple] = []
    monkeypatch.setattr(alerts, "notify", lambda ctx, event: calls.append(("notify", event.job, event.kind, event.message)))
    monkeypatch.setattr(alerts, "ping", lambda ctx, job, what, run_id=None: calls.append(("ping", job, what)))
    return calls


def fixed(now):
    return lambda: now


def runs(ctx, job=None):
    sql = "SELECT * FROM task_runs" + (" WHERE task = ?" if job else "") + " ORDER BY id"
    return [dict(r) for r in ctx.connect().execute(sql, (job,) if job else ()).fetchall()]


__all__ = ["sched_home", "ctx", "fake_jobs", "alerts_spy", "fixed", "runs", "NOW"]
