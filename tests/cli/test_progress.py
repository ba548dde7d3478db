"""The one progress bar every long command (ingest, train, scan, backtest, drift, maintain) draws."""

from __future__ import annotations

import sys

import pytest

from turbomode.cli._progress import StepProgress


@pytest.fixture
def tty(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)


def test_steps_and_counted_items_advance_one_bar_on_a_terminal(tty):
    with StepProgress("scan") as bar:
        bar("reading prices", 1, 4)
        assert bar.bar.tasks[0].completed == 1 and bar.bar.tasks[0].description == "reading prices"
    with StepProgress("fetching") as bar:
        bar.set_total(3)
        bar.advance()
        bar.advance(1)
        assert (bar.bar.tasks[0].completed, bar.bar.tasks[0].total) == (2, 3)


def test_json_output_disables_the_bar_even_on_a_terminal(tty):
    with StepProgress("scan", enabled=False) as bar:
        bar("reading prices", 1, 4)
        bar.advance()
        assert bar.bar is None


@pytest.mark.parametrize("module", ["ingest_cmd", "train_cmd", "scan_cmd", "backtest_cmd"])
def test_commands_draw_the_shared_bar_rather_than_their_own(module):
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(f"turbomode.cli.{module}"))
    assert "StepProgress" in source and "rich.progress" not in source
