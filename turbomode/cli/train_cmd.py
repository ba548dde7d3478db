"""`turbomode train`: fit, calibrate and (maybe) promote the 66 models, through the run wrapper."""

from __future__ import annotations


import typer

from turbomode.cli._util import NO_DEPS_HELP, TRIGGER_HELP, console, handle_errors, run_job_command

TRIGGERS = ("manual", "cron")


@handle_errors
def train(
    tctx: typer.Context,
    sector: str = typer.Option(None, "--sector", help="Train only this sector, e.g. \"Energy\" (the other sectors' "
                               "champions are untouched)."),
    promote: bool = typer.Option(False, "--promote", help="Make the new version champion even when its validation "
                                 "log loss is worse than the current champion's."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
    no_deps: bool = typer.Option(False, "--no-deps", help=NO_DEPS_HELP),
    trigger: str = typer.Option("manual", "--trigger", help=TRIGGER_HELP),
) -> None:
    """Train six calibrated model types per sector (66 models) and promote the ones not worse.

    Windows are chronological: train, calibration, validation, split by date with an embargo of the label horizon.

    A sector's new ensemble becomes champion only when its validation log loss is not worse than the champion's on the same window; otherwise it is kept as a challenger. Exit 3 when a sector had too little data.

    Example: turbomode train --sector "Information Technology"
    """
    from turbomode.errors import BadInput

    if trigger not in TRIGGERS:
        raise BadInput(f"unknown --trigger {trigger!r}; use manual or cron")
    options: dict = {"sector": sector, "promote": promote}
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
              f"{w['calib_start']}..{w['calib_end']}, validate {w['valid_start']}..{w['valid_end']} "
              f"(embargo {w['embargo_days']} sessions)")
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for col in ("sector", "status", "loss", "champ.", "ECE", "signals", "prec."):
        table.add_column(col, justify="left" if col in ("sector", "status") else "right", no_wrap=True)
    for sector, d in s["sectors"].items():
        status = d["status"] + ("*" if d["forced"] else "")
        table.add_row(sector, status, _fmt(d["log_loss"], ".4f"), _fmt(d["champion_log_loss"], ".4f"),
                      _fmt(d["ece"]), str(d["signals"]), _fmt(d["precision"], ".2f"))
    for sector, why in s["skipped_sectors"].items():
        table.add_row(sector, "skipped", "", "", "", "", "")
    out.print(table)
    out.print("on the validation window: loss = log loss, champ. = the current champion's log loss on the "
              "same rows, signals at signals.min_confidence and their precision" + ("; * promoted by --promote" if any(
                  d["forced"] for d in s["sectors"].values()) else ""), style="dim")
    for sector, why in s["skipped_sectors"].items():
        out.print(f"{sector} skipped: {why}")
    typer.echo(r.message)
