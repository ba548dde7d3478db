"""`turbomode backtest`: walk-forward backtest of the model set against equal-weight buy-and-hold."""

from __future__ import annotations

from typing import Any

import typer

from turbomode.cli._compute import DASK_HELP, MAX_WORKERS, WORKERS_HELP
from turbomode.cli._util import NO_DEPS_HELP, TRIGGER_HELP, console, handle_errors, run_job_command


@handle_errors
def backtest(
    tctx: typer.Context,
    start: str = typer.Option(None, "--start", help="First session of the first test fold (YYYY-MM-DD); "
                              "default: halfway through the labelled history."),
    folds: int = typer.Option(None, "--folds", min=1, max=50, help="Walk-forward folds (default: backtest.folds)."),
    models: str = typer.Option(None, "--models", help="Comma-separated model types (default: models.types); "
                               "the ensemble of them is always evaluated."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    no_deps: bool = typer.Option(False, "--no-deps", help=NO_DEPS_HELP),
    trigger: str = typer.Option("manual", "--trigger", help=TRIGGER_HELP),
    workers: int = typer.Option(None, "--workers", min=0, max=MAX_WORKERS, help=WORKERS_HELP),
    dask: str = typer.Option(None, "--dask", metavar="ADDRESS", help=DASK_HELP),
) -> None:
    """Regenerate the labelled trades, retrain fold by fold on an expanding window, simulate the signals
    with targets, stops, expiry and costs, and compare with equal-weight buy-and-hold.

    Results are kept in the database (the HTML report shows the latest). Each fold x sector is a piece
    that runs on every local core, or on a Dask cluster with --dask (docs/scale-out.md).

    Example: turbomode backtest --start 2019-01-02 --folds 5 --models lightgbm,logistic
    """
    if trigger not in ("manual", "cron"):
        raise typer.BadParameter("must be manual or cron", param_hint="--trigger")
    options: dict[str, Any] = {"start": start, "folds": folds,
                               "models": [m.strip() for m in models.split(",") if m.strip()]
                               if models is not None else None}
    from turbomode.cli import _compute

    options.update(_compute.options(tctx, workers, dask))
    from turbomode.cli._progress import StepProgress

    with StepProgress("backtest", enabled=not as_json) as bar:
        options["progress"] = lambda done, total, description: bar(description, done, total)
        run_job_command(tctx, "backtest", options, no_deps=no_deps, trigger=trigger, as_json=as_json,
                        render=_render)


def _pct(v: Any, digits: int = 1) -> str:
    return "-" if v is None else f"{v * 100:.{digits}f}%"


def _num(v: Any, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def _render(outcome: Any) -> None:
    """Four compact tables (they fit 80 columns): ensemble vs buy-and-hold, model types, sectors, folds."""
    from rich import box
    from rich.table import Table

    result = outcome.result
    summary = result.summary if result else {}
    out = console()
    if not summary.get("results"):
        out.print(result.message if result else "")
        return
    head = summary.get("window", {})
    out.print(f"Walk-forward backtest {head.get('start')} .. {head.get('end')}, {summary.get('folds')} folds, "
              f"models: {', '.join(summary.get('models', []))}; filled at the next open"
              + ("  [SAMPLE DATA]" if summary.get("data_source") == "sample" else ""), soft_wrap=True)
    if summary.get("survivorship_note"):
        out.print(summary["survivorship_note"].capitalize(), style="bold yellow", soft_wrap=True)
    titles = {"overall": "Ensemble vs buy-and-hold", "model": "Per model type", "sector": "Per sector (ensemble)",
              "fold": "Per fold (ensemble)"}
    rows = summary["results"]
    for kind, title in titles.items():
        part = [r for r in rows if r["slice_kind"] == kind or (kind == "overall" and r["slice_kind"] == "benchmark")]
        if not part:
            continue
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
        table.add_column("", no_wrap=True)
        for col in ("trades", "hit", "mean", "PF", "Sharpe", "maxDD", "expo", "total"):
            table.add_column(col, justify="right", no_wrap=True)
        floor = int((summary.get("metrics") or {}).get("min_trades") or 0)
        for r in part:
            few = r["slice_kind"] != "benchmark" and (r["trades"] or 0) < floor
            pf, sharpe = ("too few", f"trades ({r['trades'] or 0})") if few else \
                (_num(r["profit_factor"]), _num(r["sharpe"]))
            table.add_row(r["slice"], _num(r["trades"], "{:d}"), _pct(r["hit_rate"]), _pct(r["mean_return"], 2),
                          pf, sharpe, _pct(r["max_drawdown"]), _pct(r["exposure"], 0), _pct(r["total_return"]))
        out.print(table)
    m = summary.get("metrics") or {}
    if m.get("too_few_trades"):
        out.print(f"Ensemble: too few trades ({m.get('trades', 0)}, fewer than backtest.min_trades = "
                  f"{m.get('min_trades')}) for a z, t, Sharpe or profit factor to mean anything.", soft_wrap=True)
    elif m.get("trades"):
        out.print(f"Ensemble hit rate {_pct(m.get('hit_rate'))} against a base rate of {_pct(m.get('base_rate'))} "
                  f"(z = {_num(m.get('hit_rate_z'))}); mean net return per trade {_pct(m.get('mean_return'), 3)} "
                  f"(t = {_num(m.get('mean_return_t'))}); costs {summary.get('cost_bps_per_side')} bps per side.",
                  soft_wrap=True)
