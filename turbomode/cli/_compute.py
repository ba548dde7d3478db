"""`--workers N` and `--dask ADDRESS`, shared by the commands whose pieces run on a compute backend
(train, backtest, drift): checked before the run starts, so a bad flag runs no prerequisite first."""

from __future__ import annotations

from typing import Any

import typer

from turbomode.config import MAX_WORKERS

WORKERS_HELP = (f"Run the independent pieces on this many local processes (0 = one per core; 1 = in this "
                f"process; at most {MAX_WORKERS}); overrides [compute] in the config.")
DASK_HELP = ("Run the independent pieces on the Dask cluster whose scheduler is at ADDRESS, e.g. "
             "tcp://scheduler-host:8786 (needs the extra: pip install 'turbomode[dask]').")


def options(tctx: typer.Context, workers: int | None, dask: str | None) -> dict[str, Any]:
    """The task options for the flags given, after checking them against the config."""
    from turbomode import compute
    from turbomode.cli._util import state

    out: dict[str, Any] = {}
    if workers is not None:
        out["workers"] = workers
    if dask is not None:
        out["dask"] = dask
    compute.check(compute.settings(state(tctx).ctx().config, out))
    return out
