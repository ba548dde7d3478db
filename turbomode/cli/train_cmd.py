"""`turbomode train`: fit, calibrate and (maybe) promote the 66 models, through the run wrapper."""

from __future__ import annotations


import typer

from turbomode.cli._compute import DASK_HELP, MAX_WORKERS, WORKERS_HELP
from turbomode.cli._util import NO_DEPS_HELP, TRIGGER_HELP, console, handle_errors, run_job_command

TRIGGERS = ("manual", "cron")


@handle_errors
def train(
    tctx: typer.Context,
    sector: str = typer.Option(None, "--sector", help="Train only this sector, e.g. \"Energy\" (the other sectors' "
                               "champions are untouched)."),
    promote: bool = typer.Option(False, "--promote", help="Make the new version champion even when its validation "
                                 "log loss is worse than the current champion's or its signal calibration is out "
                                 "of bounds."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
    no_deps: bool = typer.Option(False, "--no-deps", help=NO_DEPS_HELP),
    trigger: str = typer.Option("manual", "--trigger", help=TRIGGER_HELP),
    workers: int = typer.Option(None, "--workers", min=0, max=MAX_WORKERS, help=WORKERS_HELP),
    dask: str = typer.Option(None, "--dask", metavar="ADDRESS", help=DASK_HELP),
) -> None:
    """Train six calibrated model types per sector (66 models) and promote the ones not worse.

    Windows are chronological: train, calibration, validation (chooses the champion), test (reports its quality, chose nothing), split by date with an embargo of the label horizon, and per symbol no label reaching into the next window.

    A sector's new ensemble becomes champion only when its validation log loss is not worse than the champion's on the same window and its P(BUY)/P(SELL) calibration error is within models.max_signal_ece (unless the champion's is worse), and its validation signals reach their target about as often as their confidence says (not short of it by more than that bound and two standard errors, even for a sector's first version); otherwise it stays a challenger and the reason is printed. Exit 3 when a sector had too little data.

    The 66 fits run on every local core, or on a Dask cluster with --dask (docs/scale-out.md).

    Example: turbomode train --sector "Information Technology"
    """
    from turbomode.errors import BadInput

    if trigger not in TRIGGERS:
        raise BadInput(f"unknown --trigger {trigger!r}; use manual or cron")
    from turbomode.cli import _compute

    options: dict = {"sector": sector, "promote": promote, **_compute.options(tctx, workers, dask)}
    from turbomode.cli._progress import StepProgress

    with StepProgress("training") as bar:
        options["progress"] = lambda done, total, label: bar(label, done, total)
        run_job_command(tctx, "train", options, no_deps=no_deps, trigger=trigger, as_json=as_json,
                        render=_render)


def _fmt(v, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _render(outcome) -> None:
    from rich import box
    from rich.table import Table

    r = outcome.result
    s = r.summary
    w = s["windows"]
    out = console()
    out.print(f"version {s['version']}: train {w['train_start']}..{w['train_end']}, calibrate "
              f"{w['calib_start']}..{w['calib_end']}, validate {w['valid_start']}..{w['valid_end']}, test "
              f"{w.get('test_start')}..{w.get('test_end')} (embargo {w['embargo_days']} sessions)")
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for col in ("sector", "status", "loss", "champ.", "ECE B/S", "test B/S", "sig.", "prec."):
        table.add_column(col, justify="left" if col in ("sector", "status") else "right", no_wrap=True)
    for sector, d in s["sectors"].items():
        status = d["status"] + ("*" if d["forced"] else "")
        t = d.get("test") or {}
        table.add_row(sector, status, _fmt(d["log_loss"], ".4f"), _fmt(d["champion_log_loss"], ".4f"),
                      f"{_fmt(d.get('ece_buy'), '.2f')}/{_fmt(d.get('ece_sell'), '.2f')}",
                      f"{_fmt(t.get('ece_buy'), '.2f')}/{_fmt(t.get('ece_sell'), '.2f')}",
                      str(t.get("signals", "-")), _fmt(t.get("precision"), ".2f"))
    for sector, why in s["skipped_sectors"].items():
        table.add_row(sector, "skipped", "", "", "", "", "", "")
    out.print(table)
    out.print("loss = validation log loss, champ. = the champion's on the same rows; ECE B/S = calibration error of "
              "P(BUY)/P(SELL) on validation (which chooses the champion); test B/S, sig. and prec. = the test window "
              f"(which chose nothing): calibration error, signals at {s.get('threshold', 0):.2f} and their hit rate"
              + ("; * promoted by --promote" if any(d["forced"] for d in s["sectors"].values()) else ""),
              style="dim")
    for sector, d in s["sectors"].items():
        if d["status"] == "challenger" or d["forced"]:
            out.print(f"{sector}: {d['reason']}")
    _render_reliability(out, s.get("test") or {})
    for sector, why in s["skipped_sectors"].items():
        out.print(f"{sector} skipped: {why}")
    typer.echo(r.message)


def _render_reliability(out, test: dict) -> None:
    """The whole model set's reliability on the test window: per probability bin, predicted vs observed."""
    from rich import box
    from rich.table import Table

    rel = test.get("reliability") or {}
    if not rel:
        return
    table = Table(title=f"calibration on the test window ({test['rows']:,} rows): P(side) predicted vs the share "
                        "that hit the target", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
                  pad_edge=False)
    for col in ("bin", "BUY pred.", "obs.", "rows", "SELL pred.", "obs.", "rows"):
        table.add_column(col, justify="right", no_wrap=True)
    bins = sorted({(b["lo"], b["hi"]) for side in rel.values() for b in side})
    by = {side: {(b["lo"], b["hi"]): b for b in rows} for side, rows in rel.items()}
    for lo, hi in bins:
        cells = [f"{lo:.1f}-{hi:.1f}"]
        for side in ("BUY", "SELL"):
            b = by.get(side, {}).get((lo, hi))
            cells += [_fmt(b["predicted"], ".3f"), _fmt(b["observed"], ".3f"), f"{b['count']:,}"] if b else ["", "", ""]
        table.add_row(*cells)
    out.print(table)
    out.print(f"ECE BUY {test['ece_buy']:.3f}, SELL {test['ece_sell']:.3f}; Brier BUY {test['brier_buy']:.3f}, "
              f"SELL {test['brier_sell']:.3f}", style="dim")
