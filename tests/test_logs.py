"""The rotating log file: opened (and logging.handlers imported) only when something is logged."""

import logging

import pytest

from turbomode import logs


@pytest.fixture
def logger(tmp_path):
    path = logs.setup(tmp_path / "logs")
    yield logging.getLogger("turbomode.test"), path
    for handler in list(logs._installed.values()):
        logging.getLogger("turbomode").removeHandler(handler)
        handler.close()
    logs._installed.clear()


def test_no_file_until_the_first_record(logger):
    log, path = logger
    assert not path.exists()
    log.warning("something %s", "happened")
    assert "WARNING turbomode.test: something happened" in path.read_text(encoding="utf-8")


def test_the_file_rotates_at_its_size_limit(logger, monkeypatch):
    log, path = logger
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    for i in range(100):
        log.warning("line %03d %s", i, "x" * 40)
    assert path.with_name(path.name + ".1").exists() and path.stat().st_size <= 2000
    assert not path.with_name(path.name + f".{logs.BACKUPS + 1}").exists()
