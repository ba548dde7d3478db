"""`turbomode drift`: feature, prediction and outcome drift per sector; may retrain the drifted sectors."""

from __future__ import annotations

from typing import Any, Literal

import typer

from turbomode.cli._compute import DASK_HELP, MAX_WORKERS, WORKERS_HELP
from turbomode.cli._util import NO_DEPS_HELP, TRIGGER_HELP, console, handle_errors, run_job_command, state

LEVEL_STYLE = {"significant": "bold red", "moderate": "yellow", "none": "green", "insufficient": "dim"}


@handle_errors
def drift(
    tctx: typer.Context,
    retrain: bool = typer.Option(False, "--retrain", help="Retrain the sectors with significant drift "
                                 "(also on when drift.retrain = true)."),
    show_all: bool = typer.Option(False, "--all", help="List every measure, not only those that drifted."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
    no_deps: bool = typer.Option(False, "--no-deps", help=NO_DEPS_HELP),
    trigger: Literal["manual", "cron"] = typer.Option("manual", "--trigger", help=TRIGGER_HELP),
    workers: int = typer.Option(None, "--workers", min=0, max=MAX_WORKERS, help=WORKERS_HELP),
    dask: str = typer.Option(None, "--dask", metavar="ADDRESS", help=DASK_HELP),
) -> None:
    """Compare recent features, signals and outcomes with the champion models' training and backtest.

    PSI at or above drift.moderate (0.1) is moderate, at or above drift.significant (0.25) significant;
    significant drift sends an alert. Each sector's feature check is a piece that runs on every local
    core, or on a Dask cluster with --dask; a retrain runs where the check ran.

    Example: turbomode drift --retrain
    """
    from turbomode.cli import _compute
    from turbomode.cli._progress import StepProgress

    options = {"retrain": retrain, **_compute.options(tctx, workers, dask)}
    with StepProgress("drift") as progress:
        run_job_command(tctx, "drift", {**options, "progress": progress}, no_deps=no_deps,
                        trigger=trigger, as_json=as_json, render=lambda outcome: render(tctx, outcome, show_all))


def render(tctx: typer.Context, outcome: Any, show_all: bool) -> None:
    from rich.table import Table

    from turbomode.store import drift as store

    result = outcome.result
    out = console()
    drift_id = (result.summary or {}).get("drift_id")
    stored = store.latest(state(tctx).ctx().connect(), drift_id) if drift_id else None
    rows = (stored or {}).get("results") or []
    shown = rows if show_all else [r for r in rows if r["level"] in ("moderate", "significant")]
    shown = sorted(shown, key=lambda r: r["kind"] == "feature")  # verdicts first, each part kept in order
    if shown:
        table = Table(show_edge=False, header_style="bold")
        for col, kw in (("Sector", {}), ("Kind", {}), ("Measure", {}), ("Value", {"justify": "right"}),
                        ("Level", {}), ("Detail", {"overflow": "fold"})):
            table.add_column(col, **kw)
        for r in shown:
            style = LEVEL_STYLE.get(r["level"], "")
            table.add_row(r["sector"], r["kind"], r["name"], _value(r), f"[{style}]{r['level']}[/]",
                          _detail(r))
        out.print(table)
    for line in result.message.splitlines():
        style = LEVEL_STYLE.get((result.summary or {}).get("level", ""), "") if line.startswith("drift:") else ""
        out.print(f"[{style}]{line}[/]" if style else line, markup=bool(style))


def _value(r: dict[str, Any]) -> str:
    v = r["value"]
    if v is None:
        return "–"
    if r["kind"] == "features":
        return f"{int(v)}"
    return f"{v:.1%}" if r["kind"] == "outcome" else f"{v:.3f}"


def _detail(r: dict[str, Any]) -> str:
    d = r.get("detail") or {}
    if r["kind"] == "features":
        top = ", ".join(d.get("top") or [])
        return (f"{int(r['value'] or 0)} significant, {d.get('moderate', 0)} moderate of {d.get('checked', 0)} "
                f"features" + (f": {top}" if top else "") + ("" if d.get("calibrated") else " (raw thresholds)"))
    if r["kind"] == "outcome":
        exp = d.get("expected")
        p = d.get("p_value")
        return (f"{d.get('hits')}/{d.get('n')} hit target; backtest {exp:.1%}" if exp is not None else
                f"{d.get('hits')}/{d.get('n')} hit target") + (f", p = {p:.3g}" if p is not None else "")
    if r["name"] == "signal_mix":
        rec, prev = d.get("recent") or {}, d.get("previous") or {}
        return f"BUY/SELL {rec.get('BUY', 0)}/{rec.get('SELL', 0)} vs {prev.get('BUY', 0)}/{prev.get('SELL', 0)}"
    if r["name"] == "confidence":
        rm, pm = d.get("recent_mean"), d.get("previous_mean")
        return (f"mean {rm:.3f} vs {pm:.3f}" if rm is not None and pm is not None else "") + \
            f" (n {d.get('recent_n')} vs {d.get('previous_n')})"
    floor = d.get("floor_significant")
    return f"{d.get('rows', '')} recent rows" + (f"; noise floor {floor:.3f}" if floor is not None else "")
