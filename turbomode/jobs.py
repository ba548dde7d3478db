"""The job registry: every scheduled job's name, task module, prerequisites and summary, in one place.

The scheduler export, the catch-up planner, ``status`` and the run wrapper all read this table.
A job's schedule lives in the config (``jobs.<name>.schedule``), never here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # module with run(ctx, now, options) -> TaskResult
    needs: tuple[str, ...]  # upstream jobs, run first when stale (dependency order)
    summary: str


JOBS: dict[str, Job] = {
    j.name: j
    for j in (
        Job("ingest", "turbomode.tasks.ingest", (), "fetch new daily prices for the universe"),
        Job("train", "turbomode.tasks.train", ("ingest",), "train, calibrate and promote the 66 models"),
        Job("scan", "turbomode.tasks.scan", ("ingest", "train"),
            "close finished signals and emit new ones from the champion models"),
        Job("backtest", "turbomode.tasks.backtest", ("ingest",), "walk-forward backtest of the model set"),
        Job("drift", "turbomode.tasks.drift", ("scan",), "feature, prediction and outcome drift per sector"),
        Job("maintain", "turbomode.tasks.maintain", (), "expire, prune, check, back up and vacuum"),
    )
}

# Upstream before downstream; ties keep this order.
ORDER: tuple[str, ...] = ("ingest", "train", "scan", "backtest", "drift", "maintain")
