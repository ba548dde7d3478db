"""`turbomode demo`: the whole pipeline on the sample market in a throw-away home, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from turbomode.cli._util import err, handle_errors


@handle_errors
def demo(
    home: Path = typer.Option(None, "--home", help="Folder for the demo (new or empty, or an earlier demo's); "
                              "default: a new temporary folder, printed. Never your real home."),
    years: int = typer.Option(None, "--years", help="Years of sample history (2-15; default 5, under a minute "
                              "on 2 cores)."),
    symbols: int = typer.Option(None, "--symbols", help="Use only N symbols of the universe, spread over "
                                "the sectors (default: all)."),
) -> None:
    """Try TurboMode offline: sample market ingest, training, a scan, then the signals and status.

    Everything happens in a home folder of its own (printed), on the sample market.

    The jobs go through the same run wrapper as scheduled ones: `turbomode --home DIR history` shows them.

    Example: turbomode demo --years 3 --symbols 60
    """
    from turbomode import clock, logs
    from turbomode.context import Context
    from turbomode.tasks import demo as demo_task

    plan = demo_task.prepare(home, years=years or demo_task.DEFAULT_YEARS, symbols=symbols,
                             today=clock.now().date())
    typer.echo(f"demo home: {plan.home}" + (" (a new temporary folder; delete it when done)" if plan.temporary
                                            else ""))
    typer.echo(f"sample market: {plan.symbols} symbols in {plan.sectors} sectors, {plan.years} years "
               f"from {plan.start}; offline")
    ctx = Context.load(plan.home)
    logs.setup(ctx.logs_dir, ctx.config["general.log_level"])
    c = ctx.config
    even = c["labels.stop_multiple"] / (c["labels.target_multiple"] + c["labels.stop_multiple"])
    typer.echo(f"signals: probability >= {c['signals.min_confidence']:.2f} of reaching the target before the stop "
               f"(break-even {even:.2f} for these targets and stops; the default threshold is "
               f"{config_defaults()['signals.min_confidence']:.2f})")
    try:
        with _StepBars() as bars:
            demo_task.run(ctx, plan, now_fn=clock.now, report=bars.report, step_options=bars.options)
        _show(ctx, plan)
    finally:
        ctx.close()


def config_defaults():
    from turbomode import config

    return config.defaults()


WHAT = {"ingest": "ingesting the sample market", "train": "training 6 models per sector",
        "scan": "scanning the latest session"}


class _StepBars:
    """Step lines on stderr and, on a terminal, a rich bar fed by each job's own progress callback."""

    def __init__(self):
        import sys

        self.tty = sys.stderr.isatty()
        self.bar = None
        self.task = None

    def __enter__(self):
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from turbomode.cli._util import console

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=console(stderr=True), transient=True)
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False)
        else:
            err(text)

    def report(self, job: str, index: int, step) -> None:
        n = 3
        if step is None:
            self._say(f"[{index}/{n}] {WHAT.get(job, job)} ...")
            if self.bar is not None:
                if self.task is not None:
                    self.bar.remove_task(self.task)
                self.task = self.bar.add_task(WHAT.get(job, job), total=None)
            return
        self._say(f"[{index}/{n}] {job} {step.status} in {step.seconds:.1f} s: {step.message}")
        for w in step.warnings:
            self._say(f"      warning: {w}")

    def _update(self, **kw) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, **kw)

    def options(self, job: str) -> dict:
        """Each job's progress protocol (see the ingest, train and scan tasks)."""
        if self.bar is None:
            return {}
        if job == "ingest":
            return {"progress_total": lambda total: self._update(total=total),
                    "progress": lambda n: self._update(advance=n)}
        if job == "train":
            return {"progress": lambda done, total, label: self._update(completed=done, total=total,
                                                                          description=f"training: {label}")}
        return {"progress": lambda step, done, total: self._update(completed=done, total=total,
                                                                   description=f"scan: {step}")}


def _show(ctx, plan) -> None:
    from turbomode import clock
    from turbomode.cli._util import console
    from turbomode.cli.signals_cmd import banners, render_table
    from turbomode.tasks import signals_view

    out = console()
    out.print()
    v = signals_view.view(ctx, clock.now(), limit=25)
    render_table(v, banners(v), out)
    out.print()
    _status(ctx, out)
    out.print("(backtest, drift and maintain are weekly jobs the demo does not run: `turbomode catchup` "
              "would run them)")
    out.print()
    out.print(f"next: turbomode --home {plan.home} signals --type BUY   (or history, status, report)")


def _status(ctx, out) -> None:
    """The `status` table when the status command is available, else the demo's ledger rows."""
    from turbomode import clock

    try:
        from turbomode.cli.status_cmd import render
        from turbomode.tasks.status import collect
    except ImportError:
        rows = ctx.connect().execute(
            "SELECT id, task, status, started_at, finished_at FROM task_runs ORDER BY id").fetchall()
        for r in rows:
            out.print(f"run {r[0]}: {r[1]} {r[2]} ({r[3]} -> {r[4]})")
        return
    render(collect(ctx, clock.now()))
