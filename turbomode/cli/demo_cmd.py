"""`turbomode demo`: the whole pipeline on the sample market in a throw-away home, offline."""

from __future__ import annotations

import typer

from turbomode.cli._util import err, handle_errors
from turbomode.tasks.demo import DEFAULT_YEARS, MAX_YEARS, MIN_YEARS


@handle_errors
def demo(
    home: str = typer.Option(None, "--home", help="Folder for the demo (new or empty, or an earlier demo's); "
                              "default: a new temporary folder, printed. Never your real home."),
    years: int = typer.Option(None, "--years", help=f"Years of sample history ({MIN_YEARS}-{MAX_YEARS}; default "
                              f"{DEFAULT_YEARS}, about two and a half minutes on 2 cores)."),
    symbols: int = typer.Option(None, "--symbols", help="Use only N symbols of the universe, spread over "
                                "the sectors (default: all)."),
) -> None:
    """Try TurboMode offline: a week of jobs on the sample market, then the signals, their quality and status.

    Ingest, train, scan, maintain, a short backtest and drift run in a home folder of its own (printed), then the report is written and the champions are measured on their test window against the sample market's oracle (the best any model could do there).

    The jobs go through the same run wrapper as scheduled ones: `turbomode --home DIR history` shows them.

    Example: turbomode demo --years 3 --symbols 60
    """
    from turbomode import clock, logs
    from turbomode.context import Context
    from turbomode.tasks import demo as demo_task

    plan = demo_task.prepare(home, years=DEFAULT_YEARS if years is None else years, symbols=symbols,
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
               f"(break-even {even:.2f} for these targets and stops, before costs and expiries)")
    try:
        with _StepBars() as bars:
            steps = demo_task.run(ctx, plan, now_fn=clock.now, report=bars.report, step_options=bars.options)
        from turbomode.report import write_report

        page = write_report(ctx, clock.now())
        _show(ctx, plan, steps, page)
    finally:
        ctx.close()


WHAT = {"ingest": "ingesting the sample market", "train": "training 6 models per sector",
        "scan": "scanning the last week's sessions, oldest first", "maintain": "maintenance (expiry, backup, integrity)",
        "backtest": "a short walk-forward backtest (2 folds, logistic regression)", "drift": "checking for drift"}


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
        from turbomode.tasks.demo import STEPS

        n = len(STEPS)
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
        if job in ("train", "backtest"):
            return {"progress": lambda done, total, label: self._update(completed=done, total=total,
                                                                          description=f"{job}: {label}")}
        return {"progress": lambda step, done, total: self._update(completed=done, total=total,
                                                                   description=f"{job}: {step}")}


def _show(ctx, plan, steps, page) -> None:
    from turbomode import clock
    from turbomode.cli._util import console
    from turbomode.cli.signals_cmd import banners, render_table
    from turbomode.ml.quality import one_line
    from turbomode.tasks import demo as demo_task
    from turbomode.tasks import signals_view

    out = console()
    out.print()
    v = signals_view.view(ctx, clock.now(), limit=25)
    render_table(v, banners(v), out)
    out.print()
    _status(ctx, out)
    out.print()
    train = next((s for s in steps if s.job == "train"), None)
    if train is not None:
        from turbomode.store import models as model_store

        net = held_out_net(model_store.latest_training_run(ctx.connect()))
        if net is not None:
            out.print(f"threshold {ctx.config['signals.min_confidence']:.2f} on the champions' test window (it "
                      f"fitted and chose nothing): signals averaged {net * 100:+.2f}% per trade after costs and "
                      f"expiries ({'clears' if net > 0 else 'does not clear'} break-even)", soft_wrap=True)
    q = demo_task.quality(ctx, plan)
    if q is not None:
        out.print(f"quality ({q['window'][0]}..{q['window'][1]}, SAMPLE DATA): " + one_line(q), soft_wrap=True)
    out.print(f"report: {page}", soft_wrap=True)
    out.print()
    out.print(f"next: {_hint(ctx, plan)}   (also: history, status, report --open)", soft_wrap=True)


def held_out_net(run: dict | None) -> float | None:
    """A training run's mean net return per signal on its test window, over its sectors that became
    champion (weighted).

    Not the validation window's: that window chose champion or challenger, so its figure is the
    winner's own score (SPEC 9a: a champion's quality is reported on a window that did not choose it).
    """
    sectors = ((run or {}).get("metrics") or {}).get("sectors") or {}
    # the champions' signals only: a sector whose version stayed a challenger emits none
    tests = [d.get("test") or {} for d in sectors.values() if d.get("status", "champion") == "champion"]
    pairs = [(t.get("mean_net_return"), t.get("signals") or 0) for t in tests]
    pairs = [(r, n) for r, n in pairs if r is not None and n]
    total = sum(n for _, n in pairs)
    return sum(r * n for r, n in pairs) / total if total else None


def _hint(ctx, plan) -> str:
    """A next command that shows something: the signals of the side that has some, else the report."""
    from turbomode.store import signals as store

    s = store.summary(ctx.connect())
    side = "BUY" if s["buy"] else ("SELL" if s["sell"] else None)
    if side:
        return f"turbomode --home {plan.home} signals --type {side}"
    return f"turbomode --home {plan.home} report --open"


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
