"""Options checked before a run is claimed: a mistyped ``--as-of``, ``--start``, ``--symbols``,
``--models`` or ``--sector`` is a usage error (exit 2, or 4 for a date without prices), never a
failed run: it enters no ledger row, sends no alert and leaves ``status`` as it was.

Each check calls the task's own parser, so the rule that reads an option lives once, in its task.
Only what the user typed is judged here; what the data says (stale prices, no model) is the run's
business and is recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable


def _ingest(ctx, now: datetime, options: dict[str, Any]) -> None:
    from turbomode.tasks import ingest

    requested, _ = ingest._parse_options(options)
    if requested:
        ingest.resolve_symbols(ctx.config, requested)


def _scan(ctx, now: datetime, options: dict[str, Any]) -> None:
    if options.get("as_of") is None:
        return
    if not str(options["as_of"]).strip():  # the scan itself reads "" as "the latest session"
        from turbomode.errors import BadInput

        raise BadInput("--as-of is empty; give a past session such as 2026-01-22, or leave --as-of out to scan "
                       "the latest one")
    from turbomode.tasks import scan

    scan._check_inputs(ctx.connect(), ctx.config, now, options)


def _train(ctx, now: datetime, options: dict[str, Any]) -> None:
    if options.get("sector") is None:
        return
    from turbomode.data.universe import universe_sectors
    from turbomode.tasks import train

    train._pick_sectors(options["sector"], universe_sectors(ctx.config["general.universe"]))


def _backtest(ctx, now: datetime, options: dict[str, Any]) -> None:
    from turbomode.tasks import backtest

    if options.get("models") is not None:
        backtest.parse_models(options["models"], ctx.config)
    backtest._start_date(options.get("start"))


CHECKS: dict[str, Callable[[Any, datetime, dict[str, Any]], None]] = {
    "ingest": _ingest, "scan": _scan, "train": _train, "backtest": _backtest,
}


def check(ctx, job: str, now: datetime, options: dict[str, Any] | None) -> None:
    """Raise the task's own BadInput/ConfigError (or MissingInput) for an option the user mistyped."""
    if options and job in CHECKS:
        CHECKS[job](ctx, now, options)
