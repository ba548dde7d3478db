"""Shared fixtures: an isolated home per test, a fresh migrated database, the CLI runner."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

NOW = datetime(2026, 1, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """No test may touch the real user data folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("TURBOMODE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _keep_umask():
    """The CLI sets a private umask (issue 10 item 16); in-process runs must not leak it to other tests."""
    import os

    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.fixture(autouse=True)
def _one_worker_under_windows(monkeypatch):
    """Under Windows (the Wine lane) every local worker is a spawned interpreter that imports
    scikit-learn, XGBoost and LightGBM itself, which Wine makes slow: there, a job whose test does not
    ask for workers runs its pieces in its own process. tests/compute/test_local.py runs the pool."""
    if os.name == "nt":
        monkeypatch.setattr("turbomode.compute.cores", lambda: 1)


@pytest.fixture
def home(_isolated_home) -> Path:
    return _isolated_home


@pytest.fixture
def db_path(home) -> Path:
    return home / "turbomode.db"


@pytest.fixture
def fresh_db(db_path):
    from turbomode.store.db import connect

    conn = connect(db_path)
    yield conn
    conn.close()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def cli(runner, home):
    """Invoke the real CLI in-process: cli("config", "show") -> Result."""
    from turbomode.cli.main import app

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, ["--home", str(home), *args], input=input, catch_exceptions=False)

    return invoke
